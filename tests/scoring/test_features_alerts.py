"""Streaming windows (1 h / 4 h / 24 h) and alerting: hysteresis, suppression, acknowledgement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.scoring.alerts import AlertEngine, AlertPolicy, alert_metrics
from clinflow.scoring.features import FeatureStore
from clinflow.scoring.news2 import RiskBand, score_news2
from clinflow.scoring.vitals import Parameter, Reading
from helpers.vitals import PATIENT, T0, later

from .helpers import readings


def hr(minutes: float, value: float, source: str | None = None) -> Reading:
    return Reading(Parameter.HEART_RATE, value, later(minutes), source or f"hr-{minutes}")


def test_window_features_last_min_max_slope() -> None:
    store = FeatureStore()
    # HR rises 60 -> 120 over 5 h, one reading an hour
    for hour in range(6):
        store.add(PATIENT, hr(hour * 60, 60 + 12 * hour))
    features = store.features(PATIENT, later(5 * 60 + 30))
    heart = features.parameters[Parameter.HEART_RATE]
    assert heart.last == 120 and heart.seconds_since_last == 1800
    assert features.seconds_since_last_observation == 1800
    assert heart.windows["1h"].count == 1 and heart.windows["1h"].slope_per_hour is None
    assert (heart.windows["4h"].minimum, heart.windows["4h"].maximum) == (84, 120)
    assert heart.windows["24h"].count == 6
    assert heart.windows["24h"].slope_per_hour == pytest.approx(12.0)


def test_late_reading_is_placed_in_order_and_replays_are_ignored() -> None:
    store = FeatureStore()
    assert store.add(PATIENT, hr(0, 70))
    assert store.add(PATIENT, hr(120, 90))
    assert store.add(PATIENT, hr(60, 80))  # late
    assert not store.add(PATIENT, hr(60, 80))  # same source id again: ignored
    heart = store.features(PATIENT, later(120)).parameters[Parameter.HEART_RATE]
    assert heart.last == 90 and heart.windows["24h"].count == 3
    assert heart.windows["24h"].slope_per_hour == pytest.approx(10.0)
    assert store.latest(PATIENT)[Parameter.HEART_RATE].value == 90


def test_retention_drops_readings_older_than_24h() -> None:
    store = FeatureStore()
    store.add(PATIENT, hr(0, 70))
    store.add(PATIENT, hr(25 * 60, 75))
    heart = store.features(PATIENT, later(25 * 60)).parameters[Parameter.HEART_RATE]
    assert heart.windows["24h"].count == 1


@given(st.lists(st.floats(30, 200), min_size=2, max_size=30))
def test_window_min_max_bound_every_value(values: list[float]) -> None:
    store = FeatureStore()
    for index, value in enumerate(values):
        store.add(PATIENT, hr(index, value))
    stats = store.features(PATIENT, later(len(values))).parameters[Parameter.HEART_RATE]
    window = stats.windows["24h"]
    assert window.minimum == min(values) and window.maximum == max(values)


def test_forget_and_forget_sources() -> None:
    store = FeatureStore()
    store.add(PATIENT, hr(0, 70, "a"))
    store.add(PATIENT, hr(10, 75, "b"))
    assert store.forget_sources(PATIENT, frozenset({"b"})) == 2  # window entry + latest
    assert store.readings_held(PATIENT) == 1
    assert store.forget(PATIENT) == 1 and store.readings_held(PATIENT) == 0


# --- alerts --------------------------------------------------------------------------------


def news2_at(minutes: float, **inputs: object):  # type: ignore[no-untyped-def]
    when = later(minutes)
    data = readings(**inputs)  # type: ignore[arg-type]
    data = {p: Reading(p, r.value, when, f"{r.source_id}-{minutes}") for p, r in data.items()}
    return score_news2(data, when)


MEDIUM = dict(rr=22, hr=111, spo2=95)  # 2 + 2 + 1 = 5
FOUR = dict(rr=22, hr=105, spo2=95)  # 2 + 1 + 1 = 4
SIX = dict(rr=26, hr=111, spo2=95)  # 3 + 2 + 1 = 6 (medium, with a single 3)
CALM: dict[str, object] = {}


def test_hovering_at_threshold_pages_once_with_hysteresis() -> None:
    engine = AlertEngine(AlertPolicy())
    naive = AlertEngine(AlertPolicy.naive())
    raised, naive_raised = [], []
    for step in range(12):  # 5,4,5,4,... every 15 minutes
        score = news2_at(step * 15, **(MEDIUM if step % 2 == 0 else FOUR))
        raised.append(engine.evaluate(PATIENT, score))
        naive_raised.append(naive.evaluate(PATIENT, score))
    assert sum(a is not None for a in raised) == 1
    assert sum(a is not None for a in naive_raised) == 6
    assert engine.suppressed["hysteresis"] == 5


def test_rearm_then_suppression_window_then_new_alert() -> None:
    engine = AlertEngine(AlertPolicy(suppression_window_s=3600))
    assert engine.evaluate(PATIENT, news2_at(0, **MEDIUM)) is not None
    assert engine.evaluate(PATIENT, news2_at(15, **CALM)) is None  # total 0: re-armed
    assert engine.evaluate(PATIENT, news2_at(30, **MEDIUM)) is None  # within 1 h: suppressed
    assert engine.suppressed["suppression-window"] == 1
    assert engine.evaluate(PATIENT, news2_at(45, **CALM)) is None
    again = engine.evaluate(PATIENT, news2_at(75, **MEDIUM))  # > 1 h after the first
    assert again is not None and again.kind == "new"


def test_escalation_to_higher_band_always_alerts() -> None:
    engine = AlertEngine(AlertPolicy())
    first = engine.evaluate(PATIENT, news2_at(0, **MEDIUM))
    worse = engine.evaluate(PATIENT, news2_at(15, rr=26, hr=131, spo2=93))  # 3+3+2 = 8
    assert first is not None and worse is not None
    assert (worse.kind, worse.band) == ("escalation", RiskBand.HIGH)
    assert engine.evaluate(PATIENT, news2_at(30, rr=26, hr=131, spo2=93)) is None


def test_acknowledgement_stops_reminders() -> None:
    policy = AlertPolicy(renotify_unacknowledged_s=1800)
    engine = AlertEngine(policy)
    first = engine.evaluate(PATIENT, news2_at(0, **MEDIUM))
    assert first is not None
    reminder = engine.evaluate(PATIENT, news2_at(30, **MEDIUM))
    assert reminder is not None and reminder.kind == "reminder"
    acked = engine.acknowledge(reminder.alert_id, "charge-nurse", later(31))
    assert acked.acknowledged_by == "charge-nurse"
    assert engine.evaluate(PATIENT, news2_at(90, **MEDIUM)) is None
    assert engine.suppressed["acknowledged"] == 1
    with pytest.raises(LookupError):
        engine.acknowledge("alert-999", "x", later(0))


def test_alert_carries_lineage() -> None:
    engine = AlertEngine()
    alert = engine.evaluate(PATIENT, news2_at(0, **MEDIUM), "news2-abc")
    assert alert is not None and alert.assessment_id == "news2-abc"
    assert "obs-respiratory_rate-0" in alert.lineage


def test_metrics_sensitivity_delay_and_burden() -> None:
    engine = AlertEngine()
    other = "PT-fedcba9876543210"
    engine.evaluate(PATIENT, news2_at(90, **MEDIUM))
    engine.evaluate(other, news2_at(10, **MEDIUM))  # before its onset window
    metrics = alert_metrics(
        engine.alerts(),
        patients=3,
        patient_days=6.0,
        suppressed=0,
        onsets={PATIENT: later(60), other: later(600)},
        events={PATIENT: later(240)},
    )
    assert metrics.deteriorations == 2 and metrics.detected == 1
    assert metrics.sensitivity == 0.5
    assert metrics.median_onset_to_first_alert_s == 1800
    assert metrics.median_lead_time_s == 150 * 60
    assert metrics.alerts_per_patient_day == pytest.approx(2 / 6)


def test_forget_patient_alerts() -> None:
    engine = AlertEngine()
    alert = engine.evaluate(PATIENT, news2_at(0, **MEDIUM))
    assert alert is not None and engine.forget(PATIENT) == 1
    assert engine.alerts(PATIENT) == []
    with pytest.raises(LookupError):
        engine.acknowledge(alert.alert_id, "x", later(1))


def test_fixture_totals() -> None:
    assert news2_at(0, **MEDIUM).total == 5 and news2_at(0, **FOUR).total == 4
    assert news2_at(0, **SIX).total == 6
    assert timedelta(minutes=15) == later(15) - T0
