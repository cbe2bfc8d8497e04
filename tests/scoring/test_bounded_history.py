"""The scoring service's in-memory score history is bounded by clinical time (ADR 0103).

A patient scored every hour for longer than the window keeps only the last 24 h of scores in
memory; alerting, trends and revocation behave as before across the window edge, and a
restart re-derives the same history from scoring.db.
"""

from __future__ import annotations

from pathlib import Path

from clinflow.interfaces import RetractionRequest
from clinflow.scoring.service import ScoringService
from clinflow.scoring.state import HISTORY_WINDOW_S, MAX_SCORES_PER_PATIENT
from clinflow.scoring.store import ScoringStore
from clinflow.scoring.vitals import Parameter
from helpers.vitals import PATIENT, later, vital_set

HOURS = 30  # scores at hours 0..30: 31 scores, the window holds hours 6..30


def _hourly(service: ScoringService, hours: int = HOURS, **vitals: float) -> None:
    for hour in range(hours + 1):
        service.score_icu_fhir(vital_set(f"h{hour}", when=later(60 * hour), **vitals))


def test_history_keeps_only_the_window_of_clinical_time() -> None:
    service = ScoringService()
    _hourly(service)
    history = service.score_history(PATIENT)
    times = [t for t, _, _ in history]
    newest = later(60 * HOURS).timestamp()
    assert times[-1] == newest
    assert min(times) >= newest - HISTORY_WINDOW_S
    assert len(history) == 25  # hours 6..30 inclusive
    assert len(history) <= MAX_SCORES_PER_PATIENT
    # the newest score's lineage is the newest vital set's Observations
    assert all(obs.startswith("h30-") for obs in history[-1][2])


def test_late_score_older_than_the_window_is_not_held() -> None:
    service = ScoringService()
    _hourly(service)
    service.score_icu_fhir(vital_set("late", when=later(60)))  # hour 1: before the window
    assert all(not obs.startswith("late-") for _, _, lineage in service.score_history(PATIENT)
               for obs in lineage)  # fmt: skip
    assert len(service.score_history(PATIENT)) == 25


def test_alarm_state_outlives_the_scores_that_raised_it() -> None:
    """Hysteresis: a patient high since hour 0 is still in alarm at hour 30 (no new page),
    although the alerting score left the in-memory history long ago."""
    service = ScoringService()
    _hourly(service, rr=26, spo2=91, o2_flow=2)
    alerts = service.alerts(PATIENT)
    assert len(alerts) == 1 and alerts[0].time == later(0)
    assert all(t > alerts[0].time.timestamp() for t, _, _ in service.score_history(PATIENT))
    # recovery re-arms; a new deterioration after the suppression window pages again
    service.score_icu_fhir(vital_set("ok", when=later(60 * HOURS + 30)))
    service.score_icu_fhir(vital_set("bad", rr=26, spo2=91, o2_flow=2, when=later(60 * 33)))
    assert len(service.alerts(PATIENT)) == 2


def test_trends_read_the_feature_window_not_the_history() -> None:
    service = ScoringService()
    _hourly(service)
    features = service.patient_features(PATIENT)
    rr = features.parameters[Parameter.RESPIRATORY_RATE]
    assert rr.windows["24h"].count == 25  # hours 6..30 within 24 h of hour 30
    assert rr.windows["1h"].count == 2  # hours 29 and 30


def test_revocation_and_restore_across_the_window_edge(tmp_path: Path) -> None:
    store = ScoringStore(tmp_path / "scoring.db")
    service = ScoringService(store=store)
    _hourly(service)
    held = service.score_history(PATIENT)
    assert store.count(PATIENT) == 7 * (HOURS + 1)  # every input stays in scoring.db

    restarted = ScoringService(store=store)  # a restart re-derives the same bounded history
    restarted.restore()
    assert restarted.score_history(PATIENT) == held

    report = restarted.retract(RetractionRequest(patient=PATIENT))
    assert report.deleted > 0
    assert store.count(PATIENT) == 0  # older inputs (outside the window) removed too
    assert restarted.score_history(PATIENT) == []
    assert not restarted.holds(PATIENT)
    store.close()
