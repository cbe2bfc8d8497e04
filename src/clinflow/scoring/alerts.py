"""Escalation alerts on NEWS2 with hysteresis, a suppression window and acknowledgement.

Why: a patient hovering at a threshold (NEWS2 4-5-4-5...) must not page on every reading.

- **Trigger**: a score whose RCP risk band is at least ``min_band`` (default medium, NEWS2 ≥ 5
  — the RCP "key threshold for urgent response").
- **Hysteresis**: once alerted, the patient stays "in alarm" until the total falls to
  ``rearm_at_or_below`` (default 3) — two points below the trigger; readings in between
  neither alert nor re-arm.
- **Suppression window**: after re-arming, a new alert at the same or a lower band within
  ``suppression_window_s`` of the last one is suppressed. An escalation to a higher band always
  alerts (never suppressed): the RCP response differs by band.
- **Acknowledgement**: an acknowledged alert records who and when; with
  ``renotify_unacknowledged_s`` set, an unacknowledged alarm re-notifies after that long.
- ``AlertPolicy.naive()`` alerts on every reading at or above the trigger: the baseline the
  benchmark compares against. Every reading at or above the trigger that did not alert is
  counted as suppressed, with the reason.
- **Alert ids** are derived from the patient, the score time and the patient's alert count,
  not from a process-wide counter: Kafka workers each hold some patients, and a counter per
  process gave two patients' alerts the same id ("alert-1" in every worker). The same
  readings give the same ids in any runtime, and again after a restart's restore.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from clinflow.scoring.news2 import News2Result, RiskBand


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    min_band: RiskBand = RiskBand.MEDIUM
    rearm_at_or_below: int = 3
    suppression_window_s: float = 3600.0
    renotify_unacknowledged_s: float | None = None
    every_reading: bool = False

    @classmethod
    def naive(cls, min_band: RiskBand = RiskBand.MEDIUM) -> AlertPolicy:
        """Alert on every reading at or above the trigger (no hysteresis, no suppression)."""
        return cls(min_band=min_band, suppression_window_s=0.0, every_reading=True)


def alert_id(patient: str, time: datetime, number: int) -> str:
    """``alert-<24 hex>``: the patient's ``number``-th alert, raised on the score at ``time``."""
    key = f"{patient}\x00{time.isoformat()}\x00{number}".encode()
    return "alert-" + hashlib.sha256(key).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    patient: str
    time: datetime
    band: RiskBand
    news2_total: int
    kind: str  # "new", "escalation" or "reminder"
    lineage: tuple[str, ...]  # input Observation ids
    assessment_id: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "alert_id": self.alert_id,
            "patient": self.patient,
            "time": self.time.isoformat(),
            "band": self.band.value,
            "news2_total": self.news2_total,
            "kind": self.kind,
            "lineage": list(self.lineage),
            "assessment_id": self.assessment_id,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
        }


@dataclass(slots=True)
class _AlarmState:
    active_rank: int | None = None  # band rank while in alarm, None when armed
    last_alert_time: datetime | None = None
    last_alert_rank: int = -1
    last_alert_id: str | None = None
    raised: int = 0  # alerts ever raised for the patient (never goes down: ids stay unique)
    acknowledged: bool = False
    alerts: list[Alert] = field(default_factory=list)


class AlertEngine:
    """Per-patient alarm state machine; one per scoring service."""

    def __init__(self, policy: AlertPolicy | None = None) -> None:
        self.policy = policy or AlertPolicy()
        self._min_rank = self.policy.min_band.rank
        self._patients: dict[str, _AlarmState] = {}
        self._by_id: dict[str, tuple[str, int]] = {}
        self.suppressed: Counter[str] = Counter()

    def evaluate(
        self,
        patient: str,
        news2: News2Result,
        assessment_id: str | Callable[[], str] | None = None,
    ) -> Alert | None:
        """Apply the policy to a new score; return the alert raised, if any.

        ``assessment_id`` may be a callable, resolved only when an alert is raised.
        """
        rank = news2.band.rank
        state = self._patients.get(patient)
        if rank < self._min_rank:
            if state is not None and state.active_rank is not None:
                if news2.total <= self.policy.rearm_at_or_below:
                    state.active_rank = None
                    state.acknowledged = False
            return None
        if state is None:
            state = self._patients[patient] = _AlarmState()
        policy = self.policy
        now = news2.as_of
        if policy.every_reading:
            return self._raise(patient, state, news2, "new", assessment_id)
        if state.active_rank is None:
            last = state.last_alert_time
            if (
                last is not None
                and rank <= state.last_alert_rank
                and (now - last).total_seconds() < policy.suppression_window_s
            ):
                state.active_rank = rank
                self.suppressed["suppression-window"] += 1
                return None
            return self._raise(patient, state, news2, "new", assessment_id)
        if rank > state.active_rank:
            return self._raise(patient, state, news2, "escalation", assessment_id)
        if (
            policy.renotify_unacknowledged_s is not None
            and not state.acknowledged
            and state.last_alert_time is not None
            and (now - state.last_alert_time).total_seconds() >= policy.renotify_unacknowledged_s
        ):
            return self._raise(patient, state, news2, "reminder", assessment_id)
        self.suppressed["acknowledged" if state.acknowledged else "hysteresis"] += 1
        return None

    def _raise(
        self,
        patient: str,
        state: _AlarmState,
        news2: News2Result,
        kind: str,
        assessment_id: str | Callable[[], str] | None,
    ) -> Alert:
        if callable(assessment_id):
            assessment_id = assessment_id()
        state.raised += 1
        alert = Alert(
            alert_id=alert_id(patient, news2.as_of, state.raised),
            patient=patient,
            time=news2.as_of,
            band=news2.band,
            news2_total=news2.total,
            kind=kind,
            lineage=news2.lineage,
            assessment_id=assessment_id,
        )
        rank = news2.band.rank
        state.active_rank = max(rank, state.active_rank or 0)
        state.last_alert_time = news2.as_of
        state.last_alert_rank = max(rank, state.last_alert_rank if kind != "new" else rank)
        state.last_alert_id = alert.alert_id
        state.acknowledged = False
        self._by_id[alert.alert_id] = (patient, len(state.alerts))
        state.alerts.append(alert)
        return alert

    def acknowledge(self, alert_id: str, by: str, at: datetime) -> Alert:
        """Mark an alert acknowledged; LookupError if unknown (or retracted)."""
        where = self._by_id.get(alert_id)
        if where is None:
            raise LookupError(f"alert {alert_id} not found")
        patient, index = where
        state = self._patients[patient]
        alert = replace(state.alerts[index], acknowledged_by=by, acknowledged_at=at)
        state.alerts[index] = alert
        if state.last_alert_id == alert_id:
            state.acknowledged = True
        return alert

    def alerts(self, patient: str | None = None) -> list[Alert]:
        if patient is not None:
            state = self._patients.get(patient)
            return list(state.alerts) if state else []
        return [a for s in self._patients.values() for a in s.alerts]

    def forget_alert(self, alert_id: str) -> int:
        """Drop one alert (retraction of the inputs it derived from); 1 if it existed."""
        where = self._by_id.pop(alert_id, None)
        if where is None:
            return 0
        patient, _ = where
        state = self._patients[patient]
        state.alerts = [a for a in state.alerts if a.alert_id != alert_id]
        for index, alert in enumerate(state.alerts):
            self._by_id[alert.alert_id] = (patient, index)
        return 1

    def forget(self, patient: str) -> int:
        """Drop the patient's alarm state and alerts; returns the number of alerts dropped."""
        state = self._patients.pop(patient, None)
        if state is None:
            return 0
        for alert in state.alerts:
            self._by_id.pop(alert.alert_id, None)
        return len(state.alerts)


@dataclass(frozen=True, slots=True)
class AlertMetrics:
    patients: int
    patient_days: float
    alerts: int
    alerts_per_patient_day: float
    suppressed: int
    deteriorations: int
    detected: int
    sensitivity: float | None
    median_onset_to_first_alert_s: float | None
    median_lead_time_s: float | None  # first alert → labelled event, when events are known

    def to_json(self) -> dict[str, float | int | None]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def alert_metrics(
    alerts: Iterable[Alert],
    *,
    patients: int,
    patient_days: float,
    suppressed: int,
    onsets: Mapping[str, datetime],
    events: Mapping[str, datetime] | None = None,
    early_tolerance_s: float = 0.0,
    horizon_s: float = 24 * 3600.0,
) -> AlertMetrics:
    """Alert burden and detection against ground-truth deterioration onsets.

    A labelled deterioration is detected when the patient's first alert at or after
    ``onset - early_tolerance_s`` falls before ``onset + horizon_s`` (or before the labelled
    event, when given). Onset→first-alert is the detection delay; lead time is how long before
    the event the first alert came.
    """
    by_patient: dict[str, list[datetime]] = {}
    count = 0
    for alert in alerts:
        count += 1
        by_patient.setdefault(alert.patient, []).append(alert.time)
    delays: list[float] = []
    leads: list[float] = []
    for patient, onset in onsets.items():
        event = events.get(patient) if events else None
        start = onset.timestamp() - early_tolerance_s
        end = event.timestamp() if event else onset.timestamp() + horizon_s
        times = sorted(t for t in by_patient.get(patient, []) if start <= t.timestamp() <= end)
        if not times:
            continue
        delays.append((times[0] - onset).total_seconds())
        if event is not None:
            leads.append((event - times[0]).total_seconds())
    detected = len(delays)
    return AlertMetrics(
        patients=patients,
        patient_days=patient_days,
        alerts=count,
        alerts_per_patient_day=count / patient_days if patient_days else 0.0,
        suppressed=suppressed,
        deteriorations=len(onsets),
        detected=detected,
        sensitivity=detected / len(onsets) if onsets else None,
        median_onset_to_first_alert_s=statistics.median(delays) if delays else None,
        median_lead_time_s=statistics.median(leads) if leads else None,
    )
