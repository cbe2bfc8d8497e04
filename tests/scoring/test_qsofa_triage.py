"""qSOFA edges (Seymour 2016) and the ESI-style triage mock's decision points and danger zone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.scoring.qsofa import (
    mentation_criterion,
    respiratory_criterion,
    sbp_criterion,
    score_qsofa,
)
from clinflow.scoring.triage import (
    TRIAGE_MOCK_LABEL,
    ChiefComplaint,
    TriageInput,
    danger_zone_for_age,
    triage,
)
from clinflow.scoring.vitals import Consciousness, Parameter
from helpers.vitals import T0

from .helpers import readings


@pytest.mark.parametrize(("sbp", "met"), [(99, True), (100, True), (101, False), (100.4, True)])
def test_qsofa_sbp_edge_is_at_most_100(sbp: float, met: bool) -> None:
    assert sbp_criterion(sbp) is met


@pytest.mark.parametrize(("rr", "met"), [(21, False), (22, True), (23, True), (21.6, True)])
def test_qsofa_rr_edge_is_at_least_22(rr: float, met: bool) -> None:
    assert respiratory_criterion(rr) is met


@pytest.mark.parametrize(
    ("gcs", "acvpu", "met"),
    [
        (15, None, False),
        (14, None, True),
        (None, Consciousness.ALERT, False),
        (None, Consciousness.CONFUSION, True),
        (15, Consciousness.CONFUSION, False),  # GCS wins when both are present
        (None, None, None),
    ],
)
def test_qsofa_mentation(gcs: int | None, acvpu: Consciousness | None, met: bool | None) -> None:
    assert mentation_criterion(gcs, acvpu) is met


@pytest.mark.parametrize(
    ("inputs", "score", "positive"),
    [
        (dict(), 0, False),
        (dict(sbp=100), 1, False),
        (dict(sbp=100, rr=22), 2, True),
        (dict(sbp=101, rr=21, acvpu="V"), 1, False),
        (dict(sbp=90, rr=30, gcs=13), 3, True),
    ],
)
def test_qsofa_score_and_positive(inputs: dict, score: int, positive: bool) -> None:  # type: ignore[type-arg]
    result = score_qsofa(readings(**inputs), T0)
    assert (result.score, result.positive, result.partial) == (score, positive, False)


def test_qsofa_partial_is_indeterminate_unless_decided() -> None:
    one_met_one_missing = score_qsofa(readings(sbp=95, rr=None), T0)
    assert one_met_one_missing.partial and one_met_one_missing.positive is None
    two_met = score_qsofa(readings(sbp=95, rr=25, acvpu=None), T0)
    assert two_met.partial and two_met.positive is True
    none_met_one_missing = score_qsofa(readings(rr=None), T0)  # cannot reach 2: negative
    assert none_met_one_missing.partial and none_met_one_missing.positive is False
    only_bp_known = score_qsofa(readings(rr=None, acvpu=None), T0)  # 0 met, 2 unknown
    assert only_bp_known.positive is None


@given(st.integers(60, 200), st.integers(5, 50), st.integers(3, 15))
def test_qsofa_positive_iff_two_criteria(sbp: int, rr: int, gcs: int) -> None:
    result = score_qsofa(readings(sbp=sbp, rr=rr, gcs=gcs), T0)
    expected = (sbp <= 100) + (rr >= 22) + (gcs < 15)
    assert result.score == expected and result.positive is (expected >= 2)


# --- triage ---------------------------------------------------------------------------------


def case(**changes: object) -> TriageInput:
    base: dict[str, object] = dict(
        age_years=40.0,
        chief_complaint=ChiefComplaint.ABDOMINAL_PAIN,
        expected_resources=2,
        vitals={Parameter.HEART_RATE: 80.0, Parameter.RESPIRATORY_RATE: 16.0, Parameter.SPO2: 98.0},
    )
    base.update(changes)
    return TriageInput(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "level", "point"),
    [
        (dict(requires_immediate_intervention=True), 1, "A"),
        (dict(chief_complaint=ChiefComplaint.CARDIAC_ARREST), 1, "A"),
        (dict(consciousness=Consciousness.UNRESPONSIVE), 1, "A"),
        (dict(consciousness=Consciousness.PAIN), 1, "A"),
        (dict(high_risk_situation=True), 2, "B"),
        (dict(chief_complaint=ChiefComplaint.CHEST_PAIN), 2, "B"),
        (dict(consciousness=Consciousness.CONFUSION), 2, "B"),
        (dict(pain_score=7), 2, "B"),
        (dict(pain_score=6), 3, "D"),
        (dict(expected_resources=0), 5, "C"),
        (dict(expected_resources=1), 4, "C"),
        (dict(expected_resources=2), 3, "D"),
        (dict(expected_resources=5), 3, "D"),
    ],
)
def test_triage_decision_points(changes: dict, level: int, point: str) -> None:  # type: ignore[type-arg]
    result = triage(case(**changes))
    assert (result.level, result.decision_point) == (level, point)
    assert result.label == TRIAGE_MOCK_LABEL and "MOCK" in result.label


# (age in years, HR limit, RR limit): ESI v4 danger-zone table, both sides of each age edge.
AGE_LIMITS = [
    (0.1, 180, 50),
    (0.2499, 180, 50),
    (0.25, 160, 40),
    (3.0, 160, 40),
    (3.01, 140, 30),
    (8.0, 140, 30),
    (8.01, 100, 20),
    (70.0, 100, 20),
]


@pytest.mark.parametrize(("age", "hr_limit", "rr_limit"), AGE_LIMITS)
def test_danger_zone_limits_by_age(age: float, hr_limit: int, rr_limit: int) -> None:
    zone = danger_zone_for_age(age)
    assert (zone.heart_rate_above, zone.respiratory_rate_above) == (hr_limit, rr_limit)
    calm = {Parameter.HEART_RATE: float(hr_limit), Parameter.RESPIRATORY_RATE: float(rr_limit)}
    assert triage(case(age_years=age, vitals=calm)).level == 3  # at the limit: not danger
    fast_hr = {**calm, Parameter.HEART_RATE: hr_limit + 1.0}
    fast_rr = {**calm, Parameter.RESPIRATORY_RATE: rr_limit + 1.0}
    for vitals, name in ((fast_hr, "heart_rate"), (fast_rr, "respiratory_rate")):
        result = triage(case(age_years=age, vitals=vitals))
        assert (result.level, result.decision_point, result.danger_zone) == (2, "D", (name,))


@pytest.mark.parametrize(("spo2", "level"), [(91.0, 2), (92.0, 3)])
def test_danger_zone_spo2_below_92_any_age(spo2: float, level: int) -> None:
    vitals = {Parameter.HEART_RATE: 80.0, Parameter.RESPIRATORY_RATE: 16.0, Parameter.SPO2: spo2}
    assert triage(case(vitals=vitals)).level == level


def test_danger_zone_only_matters_with_two_or_more_resources() -> None:
    tachy = {Parameter.HEART_RATE: 150.0}
    assert triage(case(vitals=tachy, expected_resources=1)).level == 4
    assert triage(case(vitals=tachy, expected_resources=0)).level == 5


def test_missing_vitals_are_reported() -> None:
    result = triage(case(vitals={}))
    assert set(result.missing_vitals) == {"heart_rate", "respiratory_rate", "spo2"}
    assert result.level == 3


@given(st.integers(0, 10))
def test_more_resources_never_less_urgent(resources: int) -> None:
    # ESI levels: lower number = more urgent; resources only ever push toward 3 from 5.
    fewer = triage(case(expected_resources=resources)).level
    more = triage(case(expected_resources=resources + 1)).level
    assert more <= fewer
