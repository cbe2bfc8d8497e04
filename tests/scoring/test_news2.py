"""NEWS2 against RCP 2017 Chart 1 (every band edge), Charts 3-4 (bands, responses), examples."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.scoring.news2 import (
    RESPONSE_HIGH,
    RESPONSE_LOW,
    RESPONSE_LOW_MEDIUM,
    RESPONSE_MEDIUM,
    RESPONSE_ZERO,
    InputStatus,
    RiskBand,
    Staleness,
    clinical_response,
    consciousness_points,
    oxygen_points,
    pulse_points,
    respiration_points,
    risk_band,
    score_news2,
    spo2_scale1_points,
    spo2_scale2_points,
    systolic_bp_points,
    temperature_points,
)
from clinflow.scoring.vitals import Consciousness, Parameter, Reading
from helpers.vitals import T0

from .helpers import readings

# (value, points): both sides of every edge in RCP 2017 Chart 1.
RESPIRATION = [
    (0, 3),
    (8, 3),
    (9, 1),
    (11, 1),
    (12, 0),
    (20, 0),
    (21, 2),
    (24, 2),
    (25, 3),
    (60, 3),
]
SPO2_SCALE1 = [(50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
SYSTOLIC = [(50, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]
PULSE = [
    (30, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2),
    (130, 2), (131, 3), (200, 3),
]  # fmt: skip
TEMPERATURE = [
    (33.0, 3), (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1),
    (39.1, 2), (41.0, 2),
]  # fmt: skip
# Scale 2: (SpO2, on oxygen, points).
SPO2_SCALE2 = [
    (80, False, 3), (83, False, 3), (84, False, 2), (85, True, 2), (86, False, 1), (87, True, 1),
    (88, False, 0), (92, True, 0), (92, False, 0),
    (93, False, 0), (97, False, 0), (100, False, 0),  # "≥93 on air" scores 0
    (93, True, 1), (94, True, 1), (95, True, 2), (96, True, 2), (97, True, 3), (100, True, 3),
]  # fmt: skip


@pytest.mark.parametrize(("rate", "points"), RESPIRATION)
def test_respiration_edges(rate: int, points: int) -> None:
    assert respiration_points(rate) == points


@pytest.mark.parametrize(("spo2", "points"), SPO2_SCALE1)
def test_spo2_scale1_edges(spo2: int, points: int) -> None:
    assert spo2_scale1_points(spo2) == points


@pytest.mark.parametrize(("spo2", "on_oxygen", "points"), SPO2_SCALE2)
def test_spo2_scale2_edges(spo2: int, on_oxygen: bool, points: int) -> None:
    assert spo2_scale2_points(spo2, on_oxygen) == points


@pytest.mark.parametrize(("on_oxygen", "points"), [(True, 2), (False, 0)])
def test_air_or_oxygen(on_oxygen: bool, points: int) -> None:
    assert oxygen_points(on_oxygen) == points


@pytest.mark.parametrize(("sbp", "points"), SYSTOLIC)
def test_systolic_edges(sbp: int, points: int) -> None:
    assert systolic_bp_points(sbp) == points


@pytest.mark.parametrize(("pulse", "points"), PULSE)
def test_pulse_edges(pulse: int, points: int) -> None:
    assert pulse_points(pulse) == points


@pytest.mark.parametrize(
    ("level", "points"),
    [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)],
)
def test_consciousness(level: str, points: int) -> None:
    assert consciousness_points(Consciousness(level)) == points


@pytest.mark.parametrize(("celsius", "points"), TEMPERATURE)
def test_temperature_edges_one_decimal(celsius: float, points: int) -> None:
    assert temperature_points(celsius) == points


@pytest.mark.parametrize(
    ("celsius", "points"),
    [(35.04, 3), (35.05, 1), (36.04, 1), (36.05, 0), (38.04, 0), (38.05, 1), (39.05, 2)],
)
def test_temperature_rounds_half_up_to_one_decimal(celsius: float, points: int) -> None:
    assert temperature_points(celsius) == points


@pytest.mark.parametrize(
    ("total", "single_three", "band"),
    [
        (0, False, RiskBand.LOW),
        (4, False, RiskBand.LOW),
        (3, True, RiskBand.LOW_MEDIUM),
        (4, True, RiskBand.LOW_MEDIUM),
        (5, False, RiskBand.MEDIUM),
        (6, True, RiskBand.MEDIUM),
        (7, False, RiskBand.HIGH),
        (20, True, RiskBand.HIGH),
    ],
)
def test_risk_bands(total: int, single_three: bool, band: RiskBand) -> None:
    assert risk_band(total, single_three) is band


def test_clinical_responses_chart4() -> None:
    assert clinical_response(0, RiskBand.LOW) is RESPONSE_ZERO
    assert RESPONSE_ZERO.monitoring == "minimum 12 hourly"
    assert clinical_response(3, RiskBand.LOW) is RESPONSE_LOW
    assert RESPONSE_LOW.monitoring == "minimum 4-6 hourly"
    assert clinical_response(3, RiskBand.LOW_MEDIUM) is RESPONSE_LOW_MEDIUM
    assert RESPONSE_LOW_MEDIUM.trigger == "urgent ward-based response"
    assert clinical_response(5, RiskBand.MEDIUM) is RESPONSE_MEDIUM
    assert RESPONSE_MEDIUM.trigger == "key threshold for urgent response"
    assert clinical_response(7, RiskBand.HIGH) is RESPONSE_HIGH
    assert "continuous" in RESPONSE_HIGH.monitoring
    assert "critical care" in RESPONSE_HIGH.response


# Worked examples: (inputs, scale 2, total, band).
WORKED = [
    (dict(), False, 0, RiskBand.LOW),
    # RR 22 (2) + SpO2 95 (1) + HR 105 (1) = 4, no single 3 -> low
    (dict(rr=22, spo2=95, hr=105), False, 4, RiskBand.LOW),
    # new confusion alone -> 3 in one parameter -> low-medium
    (dict(acvpu="C"), False, 3, RiskBand.LOW_MEDIUM),
    # on O2 (2) + SpO2 94 (1) + temp 38.5 (1) + HR 111 (2) = 6 -> medium
    (dict(oxygen=True, spo2=94, temp=38.5, hr=111), False, 6, RiskBand.MEDIUM),
    # RR 26 (3) + SpO2 90 (3) + O2 (2) + SBP 95 (2) + HR 125 (2) + V (3) + 39.5 (2) = 17
    (dict(rr=26, spo2=90, oxygen=True, sbp=95, hr=125, acvpu="V", temp=39.5), False, 17,
     RiskBand.HIGH),
    # Scale 2, COPD on air at 90%: 0 (scale 1 would give 3)
    (dict(spo2=90), True, 0, RiskBand.LOW),
    # Scale 2 on oxygen at 97%: 3 (over-oxygenation) + 2 for oxygen = 5 -> medium
    (dict(spo2=97, oxygen=True), True, 5, RiskBand.MEDIUM),
    # Maximum: every parameter at its worst = 20
    (dict(rr=5, spo2=80, oxygen=True, sbp=80, hr=35, acvpu="U", temp=34.0), False, 20,
     RiskBand.HIGH),
]  # fmt: skip


@pytest.mark.parametrize(("inputs", "scale2", "total", "band"), WORKED)
def test_worked_examples(inputs: dict, scale2: bool, total: int, band: RiskBand) -> None:  # type: ignore[type-arg]
    result = score_news2(readings(**inputs), T0, scale2=scale2)
    assert (result.total, result.band, result.partial) == (total, band, False)
    assert sum(p.points or 0 for p in result.parameters) == total


def test_subscores_and_lineage_reported() -> None:
    result = score_news2(readings(rr=26, hr=95), T0)
    assert result.subscore(Parameter.RESPIRATORY_RATE) == 3
    assert result.subscore(Parameter.HEART_RATE) == 1
    assert result.single_parameter_three
    assert set(result.lineage) == {f"obs-{p.value}" for p in result.parameters_used()}


def test_missing_parameter_is_partial_not_zero() -> None:
    result = score_news2(readings(rr=None, oxygen=None), T0)
    assert result.partial
    assert set(result.missing) == {Parameter.RESPIRATORY_RATE, Parameter.SUPPLEMENTAL_OXYGEN}
    missing = [p for p in result.parameters if p.status is InputStatus.MISSING]
    assert all(p.points is None for p in missing)


def test_stale_reading_not_used_and_age_reported() -> None:
    data = readings()
    data[Parameter.TEMPERATURE] = Reading(
        Parameter.TEMPERATURE, 39.5, T0 - timedelta(hours=5), "old-temp"
    )
    result = score_news2(data, T0, staleness=Staleness(default_max_age_s=4 * 3600))
    temp = next(p for p in result.parameters if p.parameter is Parameter.TEMPERATURE)
    assert temp.status is InputStatus.STALE and temp.points is None
    assert temp.age_seconds == 5 * 3600
    assert result.partial and result.total == 0 and "old-temp" not in result.lineage
    # a looser, per-parameter limit makes it usable again
    looser = Staleness(per_parameter={Parameter.TEMPERATURE: 6 * 3600})
    assert score_news2(data, T0, staleness=looser).subscore(Parameter.TEMPERATURE) == 2


def test_every_used_input_states_its_age() -> None:
    result = score_news2(readings(age_minutes=30), T0)
    assert all(p.age_seconds == 1800 for p in result.parameters)


def test_scale2_high_spo2_without_oxygen_status_is_partial() -> None:
    result = score_news2(readings(spo2=95, oxygen=None), T0, scale2=True)
    assert result.partial and result.subscore(Parameter.SPO2) is None
    # at or below 92 the air/oxygen question does not matter
    assert (
        score_news2(readings(spo2=90, oxygen=None), T0, scale2=True).subscore(Parameter.SPO2) == 0
    )


# Monotone where Chart 1 is monotone: below the normal band, lower is never better;
# above it, higher is never better.
@given(st.integers(0, 12), st.integers(0, 12))
def test_respiration_monotone_below_normal(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert respiration_points(lo) >= respiration_points(hi)


@given(st.integers(20, 60), st.integers(20, 60))
def test_respiration_monotone_above_normal(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert respiration_points(lo) <= respiration_points(hi)


@given(st.integers(50, 100), st.integers(50, 100))
def test_spo2_scale1_monotone(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert spo2_scale1_points(lo) >= spo2_scale1_points(hi)


@given(st.integers(60, 92), st.integers(60, 92), st.booleans())
def test_spo2_scale2_monotone_up_to_target(a: int, b: int, on_oxygen: bool) -> None:
    lo, hi = sorted((a, b))
    assert spo2_scale2_points(lo, on_oxygen) >= spo2_scale2_points(hi, on_oxygen)


@given(st.integers(88, 100), st.integers(88, 100))
def test_spo2_scale2_on_oxygen_monotone_above_target(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert spo2_scale2_points(lo, True) <= spo2_scale2_points(hi, True)


@given(st.integers(40, 111), st.integers(40, 111))
def test_systolic_monotone_below_normal(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert systolic_bp_points(lo) >= systolic_bp_points(hi)


@given(st.integers(20, 51), st.integers(20, 51))
def test_pulse_monotone_below_normal(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert pulse_points(lo) >= pulse_points(hi)


@given(st.integers(90, 220), st.integers(90, 220))
def test_pulse_monotone_above_normal(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert pulse_points(lo) <= pulse_points(hi)


@given(st.integers(300, 361), st.integers(300, 361))
def test_temperature_monotone_below_normal(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert temperature_points(lo / 10) >= temperature_points(hi / 10)


@given(st.integers(380, 430), st.integers(380, 430))
def test_temperature_monotone_above_normal(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert temperature_points(lo / 10) <= temperature_points(hi / 10)


@given(
    st.integers(0, 20),
    st.integers(0, 20),
    st.booleans(),
)
def test_risk_band_monotone_in_total(a: int, b: int, single_three: bool) -> None:
    lo, hi = sorted((a, b))
    assert risk_band(lo, single_three).rank <= risk_band(hi, single_three).rank


@given(
    st.integers(16, 30), st.integers(85, 100), st.integers(80, 140), st.integers(60, 140),
    st.integers(350, 400),
)  # fmt: skip
def test_total_is_sum_of_subscores(rr: int, spo2: int, sbp: int, hr: int, t10: int) -> None:
    result = score_news2(readings(rr=rr, spo2=spo2, sbp=sbp, hr=hr, temp=t10 / 10), T0)
    assert result.total == sum(p.points or 0 for p in result.parameters)
    assert 0 <= result.total <= 20
