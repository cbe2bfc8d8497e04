"""NEWS2, exactly as published by the Royal College of Physicians (2017).

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the
assessment of acute-illness severity in the NHS. Updated report of a working party. London:
RCP, 2017 — Chart 1 (the NEWS2 scoring system), Chart 3 (NEWS thresholds and triggers) and
Chart 4 (clinical response to the NEWS trigger thresholds). The band table is copied into
/work/shared/REFERENCE.md; every band edge is tested in tests/scoring/test_news2.py.

Values are compared in the units and precision of the chart: respiration, SpO2, systolic BP
and pulse rounded half-up to whole numbers, temperature to one decimal °C. A parameter that is
missing or stale is never scored as 0: the result is marked ``partial`` and names it.

This is a mock clinical model for simulation, not a medical device.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from clinflow.scoring.vitals import (
    NEWS2_PARAMETERS,
    Consciousness,
    Parameter,
    Reading,
    ReadingValue,
    round_half_up,
)

MOCK_LABEL = (
    "Mock clinical model for simulation (clinflow); not a medical device and not for "
    "clinical decisions."
)


# --- Chart 1: one function per row ---------------------------------------------------------


def _chart_points(value: int, bands: tuple[tuple[int, int], ...], above: int) -> int:
    """Points of the first band whose upper edge (inclusive) ``value`` does not exceed;
    ``above`` when it exceeds every edge. One reading of a Chart 1 row, edges ascending."""
    for upper, points in bands:
        if value <= upper:
            return points
    return above


def respiration_points(rate_per_min: float) -> int:
    """RCP 2017 Chart 1: ≤8 → 3; 9–11 → 1; 12–20 → 0; 21–24 → 2; ≥25 → 3."""
    return _chart_points(round_half_up(rate_per_min), ((8, 3), (11, 1), (20, 0), (24, 2)), 3)


def spo2_scale1_points(spo2_percent: float) -> int:
    """RCP 2017 Chart 1, SpO2 scale 1: ≤91 → 3; 92–93 → 2; 94–95 → 1; ≥96 → 0."""
    return _chart_points(round_half_up(spo2_percent), ((91, 3), (93, 2), (95, 1)), 0)


def spo2_scale2_points(spo2_percent: float, on_oxygen: bool) -> int:
    """RCP 2017 Chart 1, SpO2 scale 2 (hypercapnic respiratory failure, target 88–92%).

    ≤83 → 3; 84–85 → 2; 86–87 → 1; 88–92 → 0; ≥93 on air → 0; on oxygen 93–94 → 1,
    95–96 → 2, ≥97 → 3 (over-oxygenation is penalised only when on oxygen).
    """
    spo2 = round_half_up(spo2_percent)
    if spo2 > 92 and not on_oxygen:
        return 0
    return _chart_points(spo2, ((83, 3), (85, 2), (87, 1), (92, 0), (94, 1), (96, 2)), 3)


def oxygen_points(on_oxygen: bool) -> int:
    """RCP 2017 Chart 1, air or oxygen: oxygen → 2; air → 0."""
    return 2 if on_oxygen else 0


def systolic_bp_points(systolic_mmhg: float) -> int:
    """RCP 2017 Chart 1: ≤90 → 3; 91–100 → 2; 101–110 → 1; 111–219 → 0; ≥220 → 3."""
    return _chart_points(round_half_up(systolic_mmhg), ((90, 3), (100, 2), (110, 1), (219, 0)), 3)


def pulse_points(pulse_per_min: float) -> int:
    """RCP 2017 Chart 1: ≤40 → 3; 41–50 → 1; 51–90 → 0; 91–110 → 1; 111–130 → 2; ≥131 → 3."""
    bands = ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2))
    return _chart_points(round_half_up(pulse_per_min), bands, 3)


def consciousness_points(level: Consciousness) -> int:
    """RCP 2017 Chart 1: Alert → 0; new Confusion, Voice, Pain or Unresponsive → 3."""
    return 0 if level is Consciousness.ALERT else 3


def temperature_points(celsius: float) -> int:
    """RCP 2017 Chart 1 (one decimal): ≤35.0 → 3; 35.1–36.0 → 1; 36.1–38.0 → 0;
    38.1–39.0 → 1; ≥39.1 → 2."""
    return _chart_points(round_half_up(celsius, 1), ((350, 3), (360, 1), (380, 0), (390, 1)), 2)


# --- Charts 3 and 4: risk bands and clinical response --------------------------------------


class RiskBand(StrEnum):
    """RCP 2017 Chart 3 clinical risk, ordered from lowest to highest."""

    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _BAND_RANK[self]


_BAND_RANK = {RiskBand.LOW: 0, RiskBand.LOW_MEDIUM: 1, RiskBand.MEDIUM: 2, RiskBand.HIGH: 3}


@dataclass(frozen=True, slots=True)
class ClinicalResponse:
    """RCP 2017 Chart 3 response label and Chart 4 monitoring frequency and actions."""

    trigger: str
    monitoring: str
    response: str


# Chart 4 text, paraphrased closely; the trigger labels are Chart 3's.
RESPONSE_ZERO = ClinicalResponse(
    trigger="ward-based response",
    monitoring="minimum 12 hourly",
    response="Continue routine NEWS monitoring.",
)
RESPONSE_LOW = ClinicalResponse(
    trigger="ward-based response",
    monitoring="minimum 4-6 hourly",
    response=(
        "Inform registered nurse, who must assess the patient; registered nurse decides whether "
        "increased frequency of monitoring and/or escalation of care is required."
    ),
)
RESPONSE_LOW_MEDIUM = ClinicalResponse(
    trigger="urgent ward-based response",
    monitoring="minimum 1 hourly",
    response=(
        "Registered nurse to inform medical team caring for the patient, who will review and "
        "decide whether escalation of care is necessary."
    ),
)
RESPONSE_MEDIUM = ClinicalResponse(
    trigger="key threshold for urgent response",
    monitoring="minimum 1 hourly",
    response=(
        "Registered nurse to immediately inform the medical team caring for the patient; "
        "registered nurse to request urgent assessment by a clinician or team with core "
        "competencies in the care of acutely ill patients; provide clinical care in an "
        "environment with monitoring facilities."
    ),
)
RESPONSE_HIGH = ClinicalResponse(
    trigger="urgent or emergency response",
    monitoring="continuous monitoring of vital signs",
    response=(
        "Registered nurse to immediately inform the medical team caring for the patient (at "
        "least specialist registrar level); emergency assessment by a team with critical care "
        "competencies, including practitioner(s) with advanced airway management skills; "
        "consider transfer of care to a level 2 or 3 clinical care facility, ie "
        "higher-dependency unit or ICU; clinical care in an environment with monitoring "
        "facilities."
    ),
)


def risk_band(total: int, any_single_three: bool) -> RiskBand:
    """RCP 2017 Chart 3: ≥7 high; 5–6 medium; a 3 in any single parameter low–medium;
    otherwise (0–4) low."""
    if total >= 7:
        return RiskBand.HIGH
    if total >= 5:
        return RiskBand.MEDIUM
    if any_single_three:
        return RiskBand.LOW_MEDIUM
    return RiskBand.LOW


def clinical_response(total: int, band: RiskBand) -> ClinicalResponse:
    """RCP 2017 Chart 4 row for a total and band."""
    if band is RiskBand.HIGH:
        return RESPONSE_HIGH
    if band is RiskBand.MEDIUM:
        return RESPONSE_MEDIUM
    if band is RiskBand.LOW_MEDIUM:
        return RESPONSE_LOW_MEDIUM
    return RESPONSE_ZERO if total == 0 else RESPONSE_LOW


# --- Scoring a set of readings ----------------------------------------------------------------


class InputStatus(StrEnum):
    USED = "used"
    MISSING = "missing"
    STALE = "stale"


@dataclass(slots=True)
class ParameterScore:
    """One parameter's contribution: what value was used, how old it was, where it came from."""

    parameter: Parameter
    status: InputStatus
    points: int | None = None
    value: float | bool | str | None = None
    observed_at: datetime | None = None
    age_seconds: float | None = None
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class Staleness:
    """How old a reading may be and still be used (seconds); per-parameter overrides."""

    default_max_age_s: float = 4 * 3600.0
    per_parameter: Mapping[Parameter, float] = field(default_factory=dict)

    def max_age(self, parameter: Parameter) -> float:
        return self.per_parameter.get(parameter, self.default_max_age_s)


DEFAULT_STALENESS = Staleness()


@dataclass(slots=True)
class News2Result:
    """A NEWS2 score with its inputs. ``partial`` means some parameter was missing or stale:
    ``total`` is then the sum of the parameters that were scored (a lower bound).

    Result records are plain slotted dataclasses (not frozen: construction cost matters on
    the streaming hot path); treat them as immutable.
    """

    total: int
    band: RiskBand
    response: ClinicalResponse
    parameters: tuple[ParameterScore, ...]
    scale: int
    as_of: datetime
    partial: bool
    single_parameter_three: bool
    lineage: tuple[str, ...] = ()  # ids of the inputs used (deduplicated, parameter order)

    @property
    def missing(self) -> tuple[Parameter, ...]:
        return tuple(p.parameter for p in self.parameters if p.status is not InputStatus.USED)

    def parameters_used(self) -> tuple[Parameter, ...]:
        return tuple(p.parameter for p in self.parameters if p.status is InputStatus.USED)

    def subscore(self, parameter: Parameter) -> int | None:
        for p in self.parameters:
            if p.parameter is parameter:
                return p.points
        return None


def score_news2(
    readings: Mapping[Parameter, Reading],
    as_of: datetime,
    *,
    scale2: bool = False,
    staleness: Staleness = DEFAULT_STALENESS,
) -> News2Result:
    """NEWS2 from the latest reading of each parameter, as of ``as_of``.

    ``scale2`` selects SpO2 scale 2 (hypercapnic respiratory failure; a clinical decision
    recorded with the request). Readings older than the staleness limit are not used; a
    parameter missing or stale makes the result ``partial`` (never silently scored 0).
    """
    limits = staleness.per_parameter
    default_limit = staleness.default_max_age_s
    on_oxygen: bool | None = None
    if scale2:  # scale 2 scores SpO2 >= 93 differently on air and on oxygen
        oxygen = readings.get(Parameter.SUPPLEMENTAL_OXYGEN)
        if oxygen is not None and (as_of - oxygen.time).total_seconds() <= limits.get(
            Parameter.SUPPLEMENTAL_OXYGEN, default_limit
        ):
            on_oxygen = bool(oxygen.value)
    total = 0
    single_three = False
    partial = False
    scores: list[ParameterScore] = []
    used: dict[str, None] = {}
    for parameter in NEWS2_PARAMETERS:
        reading = readings.get(parameter)
        if reading is None:
            partial = True
            scores.append(ParameterScore(parameter, InputStatus.MISSING))
            continue
        age = (as_of - reading.time).total_seconds()
        value = reading.value
        plain = value.value if type(value) is Consciousness else value
        if age > limits.get(parameter, default_limit):
            partial = True
            scores.append(
                ParameterScore(
                    parameter,
                    InputStatus.STALE,
                    None,
                    plain,
                    reading.time,
                    age,
                    reading.source_id,
                )
            )
            continue
        points: int | None
        if parameter is Parameter.SPO2 and scale2:
            spo2 = float(value)
            if on_oxygen is None and round_half_up(spo2) >= 93:
                points = None  # cannot tell "≥93 on air" (0) from "on oxygen" (1-3)
            else:
                points = spo2_scale2_points(spo2, bool(on_oxygen))
        else:
            key = (parameter, value)
            points = _POINTS_MEMO.get(key)
            if points is None:
                points = _SCORERS[parameter](value)
                if len(_POINTS_MEMO) > 200_000:  # charted values repeat; keep the memo bounded
                    _POINTS_MEMO.clear()
                _POINTS_MEMO[key] = points
        if points is None:
            partial = True
            status = InputStatus.MISSING
        else:
            status = InputStatus.USED
            used[reading.source_id] = None
            total += points
            if points == 3:
                single_three = True
        scores.append(
            ParameterScore(parameter, status, points, plain, reading.time, age, reading.source_id)
        )
    band = risk_band(total, single_three)
    return News2Result(
        total=total,
        band=band,
        response=clinical_response(total, band),
        parameters=tuple(scores),
        scale=2 if scale2 else 1,
        as_of=as_of,
        partial=partial,
        single_parameter_three=single_three,
        lineage=tuple(used),
    )


def _consciousness(value: ReadingValue) -> int:
    if not isinstance(value, Consciousness):
        raise ValueError("consciousness reading must be an ACVPU level")
    return consciousness_points(value)


_POINTS_MEMO: dict[tuple[Parameter, ReadingValue], int] = {}
_SCORERS: dict[Parameter, Callable[[ReadingValue], int]] = {
    Parameter.RESPIRATORY_RATE: lambda v: respiration_points(float(v)),
    Parameter.SPO2: lambda v: spo2_scale1_points(float(v)),
    Parameter.SUPPLEMENTAL_OXYGEN: lambda v: oxygen_points(bool(v)),
    Parameter.SYSTOLIC_BP: lambda v: systolic_bp_points(float(v)),
    Parameter.HEART_RATE: lambda v: pulse_points(float(v)),
    Parameter.CONSCIOUSNESS: _consciousness,
    Parameter.TEMPERATURE: lambda v: temperature_points(float(v)),
}
