"""Streaming per-patient vital-sign windows and trend features.

Each patient keeps, per numeric parameter, a time-ordered window of readings (24 h by default)
plus the latest reading of every parameter (for scoring). Features are computed on demand:
last value, seconds since it, and min / max / least-squares slope (per hour) / count over the
last 1 h, 4 h and 24 h. Adding a reading is O(1) amortised for in-order streams; late readings
are inserted in place. A reading already seen (same source id and parameter) is ignored, so
replays are idempotent. Everything held for a patient can be dropped (consent retraction).
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from clinflow.scoring.vitals import NUMERIC_PARAMETERS, Parameter, Reading

WINDOWS_S: tuple[tuple[str, float], ...] = (("1h", 3600.0), ("4h", 4 * 3600.0), ("24h", 86400.0))


@dataclass(frozen=True, slots=True)
class WindowStats:
    count: int
    minimum: float | None
    maximum: float | None
    slope_per_hour: float | None


@dataclass(frozen=True, slots=True)
class ParameterFeatures:
    last: float
    last_time: datetime
    seconds_since_last: float
    windows: dict[str, WindowStats]


@dataclass(frozen=True, slots=True)
class PatientFeatures:
    patient: str
    as_of: datetime
    seconds_since_last_observation: float | None
    parameters: dict[Parameter, ParameterFeatures]


@dataclass(slots=True)
class _PatientState:
    series: dict[Parameter, deque[tuple[float, float, str]]] = field(default_factory=dict)
    latest: dict[Parameter, Reading] = field(default_factory=dict)
    seen: set[tuple[str, Parameter]] = field(default_factory=set)
    seen_order: deque[tuple[float, str, Parameter]] = field(default_factory=deque)
    last_time: float = float("-inf")


def _stats(points: list[tuple[float, float, str]]) -> WindowStats:
    if not points:
        return WindowStats(0, None, None, None)
    values = [p[1] for p in points]
    slope: float | None = None
    if len(points) >= 2:
        n = len(points)
        mean_t = sum(p[0] for p in points) / n
        mean_v = sum(values) / n
        var_t = sum((p[0] - mean_t) ** 2 for p in points)
        if var_t > 0:
            cov = sum((p[0] - mean_t) * (p[1] - mean_v) for p in points)
            slope = cov / var_t * 3600.0
    return WindowStats(len(points), min(values), max(values), slope)


class FeatureStore:
    """In-memory per-patient windows (one per scoring service)."""

    def __init__(self, retention_s: float = 86400.0) -> None:
        self.retention_s = retention_s
        self._patients: dict[str, _PatientState] = {}

    def add(self, patient: str, reading: Reading) -> bool:
        """Record a reading; False if it was already recorded (idempotent replay)."""
        state = self._patients.get(patient)
        if state is None:
            state = self._patients[patient] = _PatientState()
        key = (reading.source_id, reading.parameter)
        if key in state.seen:
            return False
        t = reading.time.timestamp()
        state.seen.add(key)
        state.seen_order.append((t, reading.source_id, reading.parameter))
        current = state.latest.get(reading.parameter)
        if current is None or reading.time >= current.time:
            state.latest[reading.parameter] = reading
        if t > state.last_time:
            state.last_time = t
        if reading.parameter in NUMERIC_PARAMETERS:
            series = state.series.get(reading.parameter)
            if series is None:
                series = state.series[reading.parameter] = deque()
            point = (t, float(reading.value), reading.source_id)
            if not series or t >= series[-1][0]:
                series.append(point)
            else:  # late reading: keep the window ordered
                series.insert(bisect.bisect_right(series, point), point)
        self._prune(state)
        return True

    def _prune(self, state: _PatientState) -> None:
        horizon = state.last_time - self.retention_s
        for series in state.series.values():
            while series and series[0][0] < horizon:
                series.popleft()
        seen_order = state.seen_order
        while seen_order and seen_order[0][0] < horizon:
            _, source_id, parameter = seen_order.popleft()
            state.seen.discard((source_id, parameter))

    def latest(self, patient: str) -> dict[Parameter, Reading]:
        state = self._patients.get(patient)
        return dict(state.latest) if state else {}

    def latest_view(self, patient: str) -> dict[Parameter, Reading]:
        """The live latest-reading map (no copy; hot path, do not mutate)."""
        state = self._patients.get(patient)
        return state.latest if state else {}

    def features(self, patient: str, as_of: datetime) -> PatientFeatures:
        state = self._patients.get(patient)
        now = as_of.timestamp()
        if state is None:
            return PatientFeatures(patient, as_of, None, {})
        parameters: dict[Parameter, ParameterFeatures] = {}
        for parameter, series in state.series.items():
            if not series:
                continue
            points = [p for p in series if p[0] <= now]
            if not points:
                continue
            last_t, last_v, _ = points[-1]
            windows = {
                name: _stats([p for p in points if p[0] >= now - width])
                for name, width in WINDOWS_S
            }
            parameters[parameter] = ParameterFeatures(
                last=last_v,
                last_time=datetime.fromtimestamp(last_t, as_of.tzinfo),
                seconds_since_last=now - last_t,
                windows=windows,
            )
        since = now - state.last_time if state.last_time != float("-inf") else None
        return PatientFeatures(patient, as_of, since, parameters)

    def worst(
        self, patient: str, parameter: Parameter, since: float, until: float, *, highest: bool
    ) -> tuple[float, float, str] | None:
        """The (epoch s, value, source id) of the highest (or lowest) reading of ``parameter``
        in ``[since, until]``; the latest one on ties. None when there is none (SOFA scores
        the worst value of a period; lab series hold a few readings a day)."""
        state = self._patients.get(patient)
        series = state.series.get(parameter) if state is not None else None
        if not series:
            return None
        found: tuple[float, float, str] | None = None
        for point in reversed(series):
            t = point[0]
            if t > until:
                continue
            if t < since:
                break
            if (
                found is None
                or (highest and point[1] > found[1])
                or (not highest and point[1] < found[1])
            ):
                found = point
        return found

    def window(
        self, patient: str, parameter: Parameter, since: float, until: float
    ) -> list[tuple[float, float, str]]:
        """The (epoch s, value, source id) readings of ``parameter`` in ``[since, until]``, in
        time order (pairs a BP panel's systolic and diastolic into a MAP)."""
        state = self._patients.get(patient)
        series = state.series.get(parameter) if state is not None else None
        if not series:
            return []
        found: list[tuple[float, float, str]] = []
        for point in reversed(series):
            if point[0] > until:
                continue
            if point[0] < since:
                break
            found.append(point)
        found.reverse()
        return found

    def holds_any(self, patient: str, parameters: frozenset[Parameter]) -> bool:
        """Whether a reading of any of ``parameters`` is held for ``patient`` (cheap)."""
        state = self._patients.get(patient)
        if state is None:
            return False
        series = state.series
        return any(parameter in series for parameter in parameters)

    def last_before(
        self, patient: str, parameter: Parameter, until: float
    ) -> tuple[float, float, str] | None:
        """The (epoch s, value, source id) of the last reading of ``parameter`` at or before
        ``until`` still held, or None."""
        state = self._patients.get(patient)
        series = state.series.get(parameter) if state is not None else None
        for point in reversed(series or ()):
            if point[0] <= until:
                return point
        return None

    def last_time(self, patient: str) -> datetime | None:
        """Time of the patient's latest observation (the stream time), if any."""
        state = self._patients.get(patient)
        if state is None or not state.latest:
            return None
        return max(reading.time for reading in state.latest.values())

    def readings_held(self, patient: str) -> int:
        state = self._patients.get(patient)
        if state is None:
            return 0
        return sum(len(s) for s in state.series.values()) + len(state.latest)

    def forget(self, patient: str) -> int:
        """Drop everything held for ``patient``; returns the number of readings dropped."""
        held = self.readings_held(patient)
        self._patients.pop(patient, None)
        return held

    def forget_sources(self, patient: str, source_ids: frozenset[str]) -> int:
        """Drop the readings that came from ``source_ids``; returns how many were dropped."""
        state = self._patients.get(patient)
        if state is None:
            return 0
        dropped = 0
        for parameter, series in state.series.items():
            kept = deque(p for p in series if p[2] not in source_ids)
            dropped += len(series) - len(kept)
            state.series[parameter] = kept
        for parameter, reading in list(state.latest.items()):
            if reading.source_id in source_ids:
                del state.latest[parameter]
                dropped += 1
        state.seen = {key for key in state.seen if key[0] not in source_ids}
        return dropped

    def holds(self, patient: str) -> bool:
        return patient in self._patients

    def patients(self) -> list[str]:
        return list(self._patients)
