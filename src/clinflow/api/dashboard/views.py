"""What each dashboard view shows, gathered from one deployment's stores (no HTTP here).

Pipeline: cumulative completions per hop from the idempotency ledger (every run, every
process), this run's counters and queue depths from the running runtime's
``run-status.json`` (``clinflow.runtime.live_status``), rates from successive samples, open
quarantine items and the audit log's size. Patient: NEWS2 history and alerts from the scoring
service, latest readings. Replays: ``report.html`` files under the data directory. Nothing
here reads or returns an identity: pseudonyms, counts, codes and times only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinflow.api.dashboard.plot import Plot, news2_plot, time_span, vitals_plots
from clinflow.errors import InputRejected
from clinflow.runtime.live_status import RUN_STATUS, read_status
from clinflow.scoring.fhir_io import parse_observation
from clinflow.scoring.vitals import Parameter

if TYPE_CHECKING:
    from clinflow.runtime.deployment import Deployment
    from clinflow.scoring.service import ScoringService
    from clinflow.scoring.store import ScoringStore

RATE_WINDOW_S = 5.0  # rates are averaged over the samples of the last few seconds
MAX_REPORTS = 100
REPORT_DEPTH = 4  # folders below the data directory searched for report.html


class RateSampler:
    """Completions per second per hop, from the counts seen at successive polls."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=64)
        self._lock = threading.Lock()

    def rates(self, counts: dict[str, int], now: float) -> dict[str, float]:
        with self._lock:
            self._samples.append((now, dict(counts)))
            while len(self._samples) > 2 and now - self._samples[0][0] > self.window_s:
                self._samples.popleft()
            first_t, first = self._samples[0]
        elapsed = now - first_t
        if elapsed <= 0:
            return {hop: 0.0 for hop in counts}
        return {hop: max(0, n - first.get(hop, n)) / elapsed for hop, n in counts.items()}


@dataclass(frozen=True, slots=True)
class HopRow:
    hop: str
    completed: int  # every run (ledger)
    rate: float  # completions per second, recent
    received: int | None  # this run (live status), None without one
    rejected: int | None
    queue: int | None


@dataclass(frozen=True, slots=True)
class PipelineView:
    state: str  # "running", "idle" or "no run yet"
    run_seconds: float | None
    hops: tuple[HopRow, ...]
    quarantined_open: int
    audit_entries: int
    checked_at: str


def pipeline_view(
    deployment: Deployment, audit_entries: int, sampler: RateSampler, now: float | None = None
) -> PipelineView:
    """The live pipeline figures of ``deployment`` now."""
    status = read_status(deployment.data_dir.root / RUN_STATUS)
    live: dict[str, dict[str, Any]] = {}
    if status is not None:
        live = {str(h.get("hop")): h for h in status["hops"] if isinstance(h, dict)}
    counts = {hop: deployment.ledger.count(hop) for hop in live}
    rates = sampler.rates(counts, time.monotonic() if now is None else now)
    running = bool(status and status.get("running"))
    rows = tuple(
        HopRow(
            hop=hop,
            completed=counts[hop],
            rate=round(rates.get(hop, 0.0), 1),
            received=_int(live[hop].get("received")),
            rejected=_int(live[hop].get("rejected")),
            queue=_int(live[hop].get("queue")) if running else 0,
        )
        for hop in live
    )
    seconds = status.get("seconds") if status else None
    return PipelineView(
        state="running" if running else "idle" if status else "no run yet",
        run_seconds=float(seconds) if isinstance(seconds, int | float) else None,
        hops=rows,
        quarantined_open=deployment.quarantine.count("open"),
        audit_entries=audit_entries,
        checked_at=datetime.now().astimezone().strftime("%H:%M:%S"),
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Reading:
    parameter: str
    value: str
    points: int | None
    observed_at: str


@dataclass(frozen=True, slots=True)
class AlertRow:
    time: str
    kind: str
    band: str
    news2: int
    acknowledged: bool


@dataclass(frozen=True, slots=True)
class ScoresView:
    plot: Plot | None  # NEWS2 with alerts; None without scores (or scores held elsewhere)
    vitals: tuple[Plot, ...]  # the numeric vital signs, same time axis
    latest_total: int | None
    latest_band: str | None
    readings: tuple[Reading, ...]
    alerts: tuple[AlertRow, ...]
    scores_here: bool  # False: the scoring state is another process's (serve scoring)


def scores_view(service: ScoringService | None, store: ScoringStore, patient: str) -> ScoresView:
    """NEWS2 over time, the alerts raised, the vital signs stored for scoring and the latest
    score's inputs of one patient (``service`` None: vital signs only)."""
    history = [(t, total) for t, total, _ in service.score_history(patient)] if service else []
    alerts = service.alerts(patient) if service else []
    marks = [(a.time.timestamp(), a.news2_total, a.kind, a.band.value) for a in alerts]
    series = vital_series(store.observations(patient))
    times = [t for t, _ in history] + [m[0] for m in marks]
    times += [t for points in series.values() for t, _ in points]
    span = time_span(times) if times else (0.0, 1.0)
    latest = service.latest_score(patient) if service else None
    readings: tuple[Reading, ...] = ()
    if latest is not None:
        readings = tuple(
            Reading(
                parameter=score.parameter.value.replace("_", " "),
                value="-" if score.value is None else str(score.value),
                points=score.points,
                observed_at=score.observed_at.isoformat() if score.observed_at else "-",
            )
            for score in latest.news2.parameters
        )
    return ScoresView(
        plot=news2_plot(history, marks, span),
        vitals=tuple(vitals_plots(series, span)),
        latest_total=latest.news2.total if latest else None,
        latest_band=latest.news2.band.value if latest else None,
        readings=readings,
        alerts=tuple(
            AlertRow(
                a.time.isoformat(),
                a.kind,
                a.band.value,
                a.news2_total,
                a.acknowledged_by is not None,
            )
            for a in alerts
        ),
        scores_here=service is not None,
    )


def vital_series(observations: list[dict[str, Any]]) -> dict[Parameter, list[tuple[float, float]]]:
    """(epoch s, value) per numeric parameter from stored vital-sign Observations; one that
    does not parse is left out (the scoring service refused it too)."""
    series: dict[Parameter, list[tuple[float, float]]] = {}
    for resource in observations:
        try:
            found = parse_observation(resource)
        except InputRejected:
            continue
        for reading in found:
            value = reading.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                series.setdefault(reading.parameter, []).append(
                    (reading.time.timestamp(), float(value))
                )
    return series


@dataclass(frozen=True, slots=True)
class ReportLink:
    index: int
    folder: str  # relative to the data directory
    modified: str
    summary: str


def replay_reports(root: Path) -> list[ReportLink]:
    """The ``report.html`` files under ``root`` (``clinflow replay --report <data-dir>/...``),
    newest first, at most ``MAX_REPORTS``; the index is stable for one listing order."""
    found = _report_files(root)
    return [
        ReportLink(
            index=i,
            folder=str(path.parent.relative_to(root)) or ".",
            modified=datetime.fromtimestamp(path.stat().st_mtime)
            .astimezone()
            .isoformat(timespec="seconds"),
            summary=_summary(path.parent / "report.json"),
        )
        for i, path in enumerate(found[:MAX_REPORTS])
    ]


def report_path(root: Path, index: int) -> Path | None:
    """The ``index``-th report of ``replay_reports`` (None when there is no such report)."""
    found = _report_files(root)
    return found[index] if 0 <= index < min(len(found), MAX_REPORTS) else None


def _report_files(root: Path) -> list[Path]:
    """report.html files up to ``REPORT_DEPTH`` folders down (not under keys/), newest first."""
    found: list[Path] = []
    for depth in range(1, REPORT_DEPTH + 1):
        found.extend(p for p in root.glob("/".join(["*"] * depth)) if p.name == "report.html")
    inside = root.resolve()
    found = [
        p
        for p in found
        if p.is_file()
        and "keys" not in p.relative_to(root).parts
        and p.resolve().is_relative_to(inside)  # a link out of the data directory: not served
    ]
    found.sort(key=lambda p: (-p.stat().st_mtime, str(p)))
    return found


def _summary(report_json: Path) -> str:
    """One line from report.json (source, inputs, rate), or '' when unreadable."""
    try:
        data = json.loads(report_json.read_text(encoding="utf-8"))
        run = data.get("run") or {}
        inputs = (data.get("inputs") or {}).get("fed")
        return (
            f"{data.get('source', '?')}: {inputs} inputs, rate {data.get('rate', '?')}, "
            f"{run.get('achieved_per_s', 0):,.0f}/s"
        )
    except (OSError, ValueError, AttributeError, TypeError):
        return ""
