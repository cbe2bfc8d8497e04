"""Scores out as FHIR R5 ``RiskAssessment`` resources (plain dicts; validated in the tests).

A RiskAssessment carries: the NEWS2 total and each parameter's sub-score as a contained
Observation (SNOMED CT 1104051000000101, one component per parameter, ``dataAbsentReason`` for
a missing or stale one), qSOFA as a second contained Observation, the risk band and the RCP
clinical response as predictions, the mock label in ``meta.tag`` and ``note``, and its lineage
in ``basis`` (the input Observations) so consent revocation can find it. When lab results are
held, a third contained Observation carries the SOFA-style lab components (one component per
organ system, points as the value) and the lactate and leukocyte readings with their flags,
and a third prediction says whether lactate is elevated.
"""

from __future__ import annotations

from typing import Any

from clinflow.scoring.fhir_io import NEWS2_TOTAL_CODE, SNOMED
from clinflow.scoring.news2 import MOCK_LABEL, InputStatus, News2Result, RiskBand
from clinflow.scoring.qsofa import QsofaResult
from clinflow.scoring.sofa import LabFlag, LabScores
from clinflow.scoring.triage import TriageResult

PARAMETER_SYSTEM = "https://clinflow.example/fhir/CodeSystem/news2-parameter"
SOFA_SYSTEM = "https://clinflow.example/fhir/CodeSystem/sofa-lab-component"
UCUM = "http://unitsofmeasure.org"
MOCK_TAG = {
    "system": "https://clinflow.example/fhir/CodeSystem/tags",
    "code": "mock-clinical-model",
    "display": "Mock clinical model: simulation only, not for clinical use",
}
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_BAND_TO_RISK = {
    RiskBand.LOW: "low",
    RiskBand.LOW_MEDIUM: "moderate",
    RiskBand.MEDIUM: "moderate",
    RiskBand.HIGH: "high",
}


def _observation_refs(
    lineage: tuple[str, ...], administrations: frozenset[str] = frozenset()
) -> list[dict[str, str]]:
    """References to the inputs (``administrations``: MedicationAdministration ids)."""
    return [
        {
            "reference": f"MedicationAdministration/{source_id}"
            if source_id in administrations
            else f"Observation/{source_id}"
        }
        for source_id in lineage
    ]


def _points_component(
    system: str, code: str, text: str, points: int | None, absent: str, absent_text: str = ""
) -> dict[str, Any]:
    """A score component: its points, or why they are absent (data-absent-reason code)."""
    component: dict[str, Any] = {"code": {"coding": [{"system": system, "code": code}],
                                          "text": text}}  # fmt: skip
    if points is not None:
        component["valueInteger"] = points
    else:
        reason: dict[str, Any] = {"coding": [{"system": DATA_ABSENT, "code": absent}]}
        if absent_text:
            reason["text"] = absent_text
        component["dataAbsentReason"] = reason
    return component


def _score_observation(
    observation_id: str,
    partial: bool,
    code: dict[str, Any],
    subject: dict[str, str],
    as_of: str,
    score: int,
    components: list[dict[str, Any]],
) -> dict[str, Any]:
    """A contained score Observation: preliminary while inputs are missing, the total as
    ``valueInteger``, one component per part of the score."""
    return {
        "resourceType": "Observation",
        "id": observation_id,
        "status": "preliminary" if partial else "final",
        "code": code,
        "subject": subject,
        "effectiveDateTime": as_of,
        "valueInteger": score,
        "component": components,
    }


def news2_observation(news2: News2Result, subject: dict[str, str]) -> dict[str, Any]:
    """Contained NEWS2 total Observation with one component per parameter sub-score."""
    components = [
        _points_component(
            PARAMETER_SYSTEM,
            item.parameter.value,
            f"NEWS2 sub-score: {item.parameter.value.replace('_', ' ')}",
            item.points if item.status is InputStatus.USED else None,
            "unknown" if item.status is InputStatus.MISSING else "not-performed",
            item.status.value,
        )
        for item in news2.parameters
    ]
    code = {
        "coding": [
            {
                "system": SNOMED,
                "code": NEWS2_TOTAL_CODE,
                "display": "Royal College of Physicians NEWS2 total score",
            }
        ]
    }
    return _score_observation(
        "news2", news2.partial, code, subject, news2.as_of.isoformat(), news2.total, components
    )


def qsofa_observation(qsofa: QsofaResult, subject: dict[str, str], as_of: str) -> dict[str, Any]:
    components = []
    for name, met in qsofa.criteria.items():
        component: dict[str, Any] = {"code": {"text": f"qSOFA criterion: {name}"}}
        if met is None:
            component["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown"}]}
        else:
            component["valueBoolean"] = met
        components.append(component)
    code = {"text": "qSOFA score (Seymour et al., JAMA 2016)"}
    return _score_observation("qsofa", qsofa.partial, code, subject, as_of, qsofa.score, components)


def _lab_flag_component(flag: LabFlag) -> dict[str, Any]:
    return {
        "code": {
            "coding": [{"system": SOFA_SYSTEM, "code": flag.parameter.value}],
            "text": f"{flag.parameter.value}: {', '.join(flag.flags) or 'not flagged'}",
        },
        "valueQuantity": {"value": flag.value, "unit": flag.unit, "system": UCUM,
                          "code": flag.unit},
    }  # fmt: skip


def labs_observation(labs: LabScores, subject: dict[str, str], as_of: str) -> dict[str, Any]:
    """Contained Observation: the SOFA-style lab subtotal, one component per organ system
    (points, or ``dataAbsentReason`` when no value is held), lactate and leukocytes."""
    components = [
        _points_component(
            SOFA_SYSTEM,
            item.system,
            f"SOFA {item.system} ({item.parameter.value}, worst in 24 h)",
            item.points,
            "unknown",
        )
        for item in labs.components
    ]
    components += [_lab_flag_component(f) for f in (labs.lactate, labs.wbc) if f is not None]
    cardiovascular = labs.cardiovascular
    if cardiovascular.points is not None and cardiovascular.basis is not None:
        components.append(
            _points_component(
                SOFA_SYSTEM,
                "cardiovascular",
                f"SOFA cardiovascular ({cardiovascular.basis.value} {cardiovascular.value:g} "
                f"{cardiovascular.unit}, worst in 24 h; not in the lab subtotal)",
                cardiovascular.points,
                "unknown",
            )
        )
    code = {"text": "SOFA-style lab components (Vincent 1996): renal, coagulation, liver"}
    return _score_observation(
        "sofa-labs", bool(labs.missing), code, subject, as_of, labs.subtotal, components
    )


def icu_risk_assessment(
    assessment_id: str,
    patient: str,
    news2: News2Result,
    qsofa: QsofaResult,
    labs: LabScores | None = None,
) -> dict[str, Any]:
    """The ICU endpoint's output resource."""
    subject = {"reference": f"Patient/{patient}"}
    as_of = news2.as_of.isoformat()
    with_labs = labs is not None and not labs.empty
    lab_lineage = labs.lineage if labs is not None and with_labs else ()
    lineage = tuple(dict.fromkeys((*news2.lineage, *qsofa.lineage, *lab_lineage)))
    administrations = frozenset(
        i.source_id for i in (labs.cardiovascular.infusions if labs is not None else ())
    )
    qsofa_text = {True: "positive", False: "negative", None: "indeterminate"}[qsofa.positive]
    used = "; ".join(
        f"{p.parameter.value}={p.status.value}"
        + (f" ({p.age_seconds:.0f}s old)" if p.age_seconds is not None else "")
        for p in news2.parameters
    )
    contained = [news2_observation(news2, subject), qsofa_observation(qsofa, subject, as_of)]
    basis = [{"reference": "#news2"}, {"reference": "#qsofa"}]
    predictions: list[dict[str, Any]] = []
    if labs is not None and with_labs:
        contained.append(labs_observation(labs, subject, as_of))
        basis.append({"reference": "#sofa-labs"})
        if labs.lactate is not None:
            elevated = "elevated" in labs.lactate.flags
            predictions.append(
                {
                    "outcome": {"text": "tissue hypoperfusion (lactate > 2 mmol/L)"},
                    "qualitativeRisk": {"text": "elevated" if elevated else "not elevated"},
                    "rationale": f"lactate {labs.lactate.value:g} mmol/L"
                    + (f" ({', '.join(labs.lactate.flags)})" if labs.lactate.flags else ""),
                }
            )
        if labs.cardiovascular.infusions:
            infusions = ", ".join(
                f"{i.parameter.value} {i.rate:g} ug/kg/min" for i in labs.cardiovascular.infusions
            )
            predictions.append(
                {
                    "outcome": {"text": "circulatory failure (SOFA cardiovascular)"},
                    "qualitativeRisk": {
                        "text": f"SOFA cardiovascular {labs.cardiovascular.points}/4"
                    },
                    "rationale": f"vasoactive infusions (highest rate in 24 h): {infusions}",
                }
            )
    return {
        "resourceType": "RiskAssessment",
        "id": assessment_id,
        "meta": {"tag": [MOCK_TAG]},
        "contained": contained,
        "status": "preliminary" if news2.partial else "final",
        "method": {
            "coding": [{"system": SNOMED, "code": NEWS2_TOTAL_CODE}],
            "text": f"NEWS2 (RCP 2017, SpO2 scale {news2.scale}) and qSOFA — mock model",
        },
        "code": {"text": "Risk of clinical deterioration (mock)"},
        "subject": subject,
        "occurrenceDateTime": as_of,
        "basis": [*basis, *_observation_refs(lineage, administrations)],
        "prediction": [
            {
                "outcome": {"text": "clinical deterioration (NEWS2)"},
                "qualitativeRisk": {
                    "coding": [{"system": RISK_PROBABILITY, "code": _BAND_TO_RISK[news2.band]}],
                    "text": news2.band.value,
                },
                "rationale": (
                    f"NEWS2 {news2.total}{' (partial)' if news2.partial else ''}: "
                    f"{news2.response.trigger}; monitoring {news2.response.monitoring}. "
                    f"{news2.response.response}"
                ),
            },
            {
                "outcome": {"text": "sepsis screen (qSOFA)"},
                "qualitativeRisk": {"text": qsofa_text},
                "rationale": f"qSOFA {qsofa.score}/3{' (partial)' if qsofa.partial else ''}",
            },
            *predictions,
        ],
        "note": [{"text": MOCK_LABEL}, {"text": f"inputs: {used}"}],
    }


def triage_risk_assessment(
    assessment_id: str, patient: str, result: TriageResult, as_of: str, lineage: tuple[str, ...]
) -> dict[str, Any]:
    """The triage endpoint's output resource (ESI-style level as the qualitative risk)."""
    return {
        "resourceType": "RiskAssessment",
        "id": assessment_id,
        "meta": {"tag": [MOCK_TAG]},
        "status": "final",
        "method": {"text": "ESI v4-style decision points A-D (mock)"},
        "code": {"text": "ESI-style triage level (mock)"},
        "subject": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": as_of,
        "basis": _observation_refs(lineage),
        "prediction": [
            {
                "outcome": {"text": f"ESI-style level {result.level}"},
                "qualitativeRisk": {"text": f"level {result.level}"},
                "rationale": f"decision point {result.decision_point}: "
                + "; ".join(result.reasons),
            }
        ],
        "note": [{"text": result.label}],
    }
