"""FHIR vital-sign Observations in, R5 RiskAssessment out (validated with fhir.resources)."""

from __future__ import annotations

import pytest
from fhir.resources.riskassessment import RiskAssessment

from clinflow.errors import InputRejected
from clinflow.scoring.fhir_io import parse_observation, parse_observations
from clinflow.scoring.service import ScoringService
from clinflow.scoring.vitals import Consciousness, Parameter
from helpers.vitals import PATIENT, acvpu_obs, bp_obs, bundle, quantity_obs, vital_set


def test_fahrenheit_converted_and_banded_at_one_decimal() -> None:
    (reading,) = parse_observation(quantity_obs("t", "8310-5", 102.2, "[degF]"))
    assert reading.parameter is Parameter.TEMPERATURE
    assert reading.value == pytest.approx(39.0)


def test_bp_panel_yields_systolic_and_diastolic() -> None:
    # NEWS2 scores the systolic; the diastolic makes the MAP of the SOFA cardiovascular component
    readings = parse_observation(bp_obs("bp", 95))
    assert [(r.parameter, r.value) for r in readings] == [
        (Parameter.SYSTOLIC_BP, 95),
        (Parameter.DIASTOLIC_BP, 70),
    ]


@pytest.mark.parametrize(("flow", "on_oxygen"), [(0, False), (0.5, True), (15, True)])
def test_oxygen_flow_above_zero_means_on_oxygen(flow: float, on_oxygen: bool) -> None:
    (reading,) = parse_observation(quantity_obs("o2", "3151-8", flow, "L/min"))
    assert reading.value is on_oxygen


@pytest.mark.parametrize(
    ("code", "level"),
    [("A", "A"), ("V", "V"), ("248234008", "A"), ("1104081000000107", "C")],
)
def test_acvpu_values(code: str, level: str) -> None:
    resource = acvpu_obs("c", code)
    if len(code) > 1:
        resource["valueCodeableConcept"].pop("text")
    (reading,) = parse_observation(resource)
    assert reading.value is Consciousness(level)


def test_acvpu_letter_in_text_wins_over_code() -> None:
    resource = acvpu_obs("c", "P")
    resource["valueCodeableConcept"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "450847001"}],
        "text": "P",
    }
    (reading,) = parse_observation(resource)
    assert reading.value is Consciousness.PAIN


@pytest.mark.parametrize(
    ("mutate", "location"),
    [
        (lambda o: o.pop("effectiveDateTime"), "effectiveDateTime"),
        (lambda o: o.update(effectiveDateTime="2026-01-05T08:00:00"), "effectiveDateTime"),
        (lambda o: o["valueQuantity"].update(code="kg", unit="kg"), "valueQuantity.code"),
        (lambda o: o["valueQuantity"].update(value="high"), "valueQuantity.value"),
        (lambda o: o.update(code={"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}),
         ".code"),
        (lambda o: o.pop("id"), ".id"),
    ],
)  # fmt: skip
def test_bad_observations_rejected_naming_location(mutate, location: str) -> None:  # type: ignore[no-untyped-def]
    resource = quantity_obs("hr", "8867-4", 80, "/min")
    mutate(resource)
    with pytest.raises(InputRejected) as info:
        parse_observations([resource])
    assert location in info.value.location
    assert "80" not in str(info.value)  # never the value


def test_entered_in_error_is_ignored() -> None:
    resource = quantity_obs("hr", "8867-4", 80, "/min")
    resource["status"] = "entered-in-error"
    assert parse_observation(resource) == []


def test_risk_assessment_is_valid_r5_with_scores_band_response_and_lineage() -> None:
    service = ScoringService()
    score = service.score_icu_fhir(bundle(vital_set(rr=26, spo2=95, hr=115, o2_flow=2)))
    resource = score.risk_assessment()
    RiskAssessment.model_validate(resource)  # raises if not valid FHIR R5
    news2 = next(c for c in resource["contained"] if c["id"] == "news2")
    assert news2["valueInteger"] == score.news2.total == 3 + 1 + 2 + 2
    subscores = {c["code"]["coding"][0]["code"]: c["valueInteger"] for c in news2["component"]}
    assert subscores == {
        "respiratory_rate": 3,
        "spo2": 1,
        "supplemental_oxygen": 2,
        "systolic_bp": 0,
        "heart_rate": 2,
        "consciousness": 0,
        "temperature": 0,
    }
    band = resource["prediction"][0]
    assert band["qualitativeRisk"]["text"] == "high"
    assert "critical care" in band["rationale"]
    assert resource["prediction"][1]["outcome"]["text"].startswith("sepsis")
    basis = {b["reference"] for b in resource["basis"]}
    assert {
        f"Observation/o-{k}" for k in ("rr", "spo2", "o2", "bp", "hr", "acvpu", "temp")
    } <= basis
    assert resource["subject"]["reference"] == f"Patient/{PATIENT}"
    assert "Mock clinical model" in resource["note"][0]["text"]
    assert resource["meta"]["tag"][0]["code"] == "mock-clinical-model"


def test_partial_score_marked_preliminary_with_absent_reason() -> None:
    service = ScoringService()
    observations = [o for o in vital_set() if not o["id"].endswith("-temp")]
    resource = service.score_icu_fhir(observations).risk_assessment()
    RiskAssessment.model_validate(resource)
    assert resource["status"] == "preliminary"
    news2 = next(c for c in resource["contained"] if c["id"] == "news2")
    temp = next(c for c in news2["component"] if c["code"]["coding"][0]["code"] == "temperature")
    assert temp["dataAbsentReason"]["text"] == "missing"


def test_triage_risk_assessment_valid() -> None:
    service = ScoringService()
    score = service.triage_fhir(
        {
            "patient": PATIENT,
            "age_years": 2,
            "chief_complaint": "fever",
            "expected_resources": 2,
            "observations": bundle(vital_set(hr=170)),
        }
    )
    resource = score.risk_assessment()
    RiskAssessment.model_validate(resource)
    assert score.result.level == 2 and score.result.danger_zone == ("heart_rate",)
    assert "MOCK" in resource["note"][0]["text"]
