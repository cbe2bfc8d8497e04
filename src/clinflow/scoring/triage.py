"""ESI-style five-level ER triage — a MOCK for simulation, not a clinical tool.

Follows the decision points of the Emergency Severity Index v4 implementation handbook (AHRQ,
Gilboy et al., 2011/2020 edition), as summarised in /work/shared/REFERENCE.md:

- A: needs an immediate life-saving intervention (or is unresponsive) → level 1;
- B: high-risk situation, new confusion/lethargy/disorientation, or severe pain/distress → 2;
- C: how many different resources: none → 5, one → 4, two or more → D;
- D: danger-zone vital signs → consider level 2 (this mock up-triages), else 3.

Danger zone (ESI v4 handbook, decision point D): < 3 months HR > 180 or RR > 50;
3 months–3 years HR > 160 or RR > 40; 3–8 years HR > 140 or RR > 30; > 8 years HR > 100 or
RR > 20; any age SpO2 < 92%. Real ESI relies on a trained nurse's judgement at A, B and D;
here the chief-complaint category and explicit flags stand in for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from clinflow.scoring.vitals import Consciousness, Parameter

TRIAGE_MOCK_LABEL = (
    "ESI-style triage MOCK for simulation (clinflow); not the ESI instrument, not a medical "
    "device, not for clinical decisions."
)


class ChiefComplaint(StrEnum):
    """Chief-complaint categories the mock understands (coarse, no free text: no PHI)."""

    CARDIAC_ARREST = "cardiac_arrest"
    RESPIRATORY_ARREST = "respiratory_arrest"
    MAJOR_TRAUMA = "major_trauma"
    ANAPHYLAXIS = "anaphylaxis"
    CHEST_PAIN = "chest_pain"
    STROKE_SYMPTOMS = "stroke_symptoms"
    OVERDOSE = "overdose"
    SUICIDAL_IDEATION = "suicidal_ideation"
    SUSPECTED_SEPSIS = "suspected_sepsis"
    SHORTNESS_OF_BREATH = "shortness_of_breath"
    ABDOMINAL_PAIN = "abdominal_pain"
    FEVER = "fever"
    HEADACHE = "headache"
    BACK_PAIN = "back_pain"
    MINOR_INJURY = "minor_injury"
    LACERATION = "laceration"
    RASH = "rash"
    URINARY_SYMPTOMS = "urinary_symptoms"
    SORE_THROAT = "sore_throat"
    MEDICATION_REFILL = "medication_refill"
    OTHER = "other"


# Decision point A stand-ins: presentations that need immediate life-saving intervention.
LIFE_SAVING_COMPLAINTS = frozenset(
    {
        ChiefComplaint.CARDIAC_ARREST,
        ChiefComplaint.RESPIRATORY_ARREST,
        ChiefComplaint.MAJOR_TRAUMA,
        ChiefComplaint.ANAPHYLAXIS,
    }
)
# Decision point B stand-ins: classic high-risk situations named in the ESI handbook.
HIGH_RISK_COMPLAINTS = frozenset(
    {
        ChiefComplaint.CHEST_PAIN,
        ChiefComplaint.STROKE_SYMPTOMS,
        ChiefComplaint.OVERDOSE,
        ChiefComplaint.SUICIDAL_IDEATION,
        ChiefComplaint.SUSPECTED_SEPSIS,
    }
)
SEVERE_PAIN_THRESHOLD = 7  # ESI handbook: pain ≥ 7/10 may justify level 2 at decision B


@dataclass(frozen=True, slots=True)
class DangerZone:
    """ESI v4 danger-zone limits for one age group (exceeding either limit is danger)."""

    age_group: str
    heart_rate_above: int
    respiratory_rate_above: int


SPO2_DANGER_BELOW = 92


def danger_zone_for_age(age_years: float) -> DangerZone:
    """ESI v4 age groups: < 3 months; 3 months–3 years; 3–8 years; > 8 years."""
    if age_years < 0.25:
        return DangerZone("<3 months", 180, 50)
    if age_years <= 3:
        return DangerZone("3 months-3 years", 160, 40)
    if age_years <= 8:
        return DangerZone("3-8 years", 140, 30)
    return DangerZone(">8 years", 100, 20)


def danger_zone_parameters(age_years: float, vitals: Mapping[Parameter, float]) -> list[str]:
    """Which vital signs are in the danger zone for this age (names only)."""
    limits = danger_zone_for_age(age_years)
    hits: list[str] = []
    hr = vitals.get(Parameter.HEART_RATE)
    rr = vitals.get(Parameter.RESPIRATORY_RATE)
    spo2 = vitals.get(Parameter.SPO2)
    if hr is not None and hr > limits.heart_rate_above:
        hits.append("heart_rate")
    if rr is not None and rr > limits.respiratory_rate_above:
        hits.append("respiratory_rate")
    if spo2 is not None and spo2 < SPO2_DANGER_BELOW:
        hits.append("spo2")
    return hits


@dataclass(frozen=True, slots=True)
class TriageInput:
    age_years: float
    chief_complaint: ChiefComplaint
    expected_resources: int
    vitals: Mapping[Parameter, float]
    consciousness: Consciousness | None = None
    pain_score: int | None = None
    requires_immediate_intervention: bool = False
    high_risk_situation: bool = False


@dataclass(frozen=True, slots=True)
class TriageResult:
    level: int
    decision_point: str  # "A", "B", "C" or "D"
    reasons: tuple[str, ...]
    danger_zone: tuple[str, ...]
    age_group: str
    missing_vitals: tuple[str, ...]
    label: str = TRIAGE_MOCK_LABEL


_TRIAGE_VITALS = (Parameter.HEART_RATE, Parameter.RESPIRATORY_RATE, Parameter.SPO2)


def triage(case: TriageInput) -> TriageResult:
    """Assign an ESI-style level 1 (most urgent) to 5 following decision points A–D."""
    if case.expected_resources < 0:
        raise ValueError("expected_resources must be >= 0")
    zone = danger_zone_for_age(case.age_years)
    danger = tuple(danger_zone_parameters(case.age_years, case.vitals))
    missing = tuple(p.value for p in _TRIAGE_VITALS if p not in case.vitals)

    def result(level: int, point: str, *reasons: str) -> TriageResult:
        return TriageResult(level, point, reasons, danger, zone.age_group, missing)

    # A: dying / immediate life-saving intervention; unresponsive (P or U on ACVPU).
    if case.requires_immediate_intervention:
        return result(1, "A", "requires immediate life-saving intervention")
    if case.chief_complaint in LIFE_SAVING_COMPLAINTS:
        return result(1, "A", f"chief complaint {case.chief_complaint.value}")
    if case.consciousness in (Consciousness.PAIN, Consciousness.UNRESPONSIVE):
        return result(1, "A", "unresponsive (ACVPU P/U)")
    # B: high risk, new confusion/lethargy, severe pain or distress.
    if case.high_risk_situation:
        return result(2, "B", "high-risk situation")
    if case.chief_complaint in HIGH_RISK_COMPLAINTS:
        return result(2, "B", f"high-risk chief complaint {case.chief_complaint.value}")
    if case.consciousness in (Consciousness.CONFUSION, Consciousness.VOICE):
        return result(2, "B", "new confusion or lethargy (ACVPU C/V)")
    if case.pain_score is not None and case.pain_score >= SEVERE_PAIN_THRESHOLD:
        return result(2, "B", f"severe pain ({case.pain_score}/10)")
    # C: resources.
    if case.expected_resources == 0:
        return result(5, "C", "no resources expected")
    if case.expected_resources == 1:
        return result(4, "C", "one resource expected")
    # D: danger-zone vitals with two or more resources.
    if danger:
        return result(2, "D", "danger-zone vital signs: " + ", ".join(danger))
    return result(3, "D", "two or more resources, vital signs outside the danger zone")
