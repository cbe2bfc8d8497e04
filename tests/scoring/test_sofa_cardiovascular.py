"""Vasoactive infusions (FHIR MedicationAdministration) feed the SOFA cardiovascular component
beside the lab components: the published table (Vincent 1996) at every edge, MAP from the BP
panel, the worst of 24 h, dose-rate units, the score JSON / RiskAssessment and the
minimum-necessary policy for MedicationAdministration."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fhir.resources.riskassessment import RiskAssessment
from hypothesis import given
from hypothesis import strategies as st

from clinflow.errors import InputRejected
from clinflow.scoring.fhir_io import (
    is_scored_medication,
    parse_medication_administration,
    parse_resource,
)
from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
from clinflow.scoring.policy import cached_policy
from clinflow.scoring.service import ScoringService
from clinflow.scoring.sofa import cardiovascular_points
from clinflow.scoring.vitals import Parameter
from helpers.vitals import PATIENT, T0, bp_obs, bundle, vital_set

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DRUGS = {"norepinephrine": "7512", "epinephrine": "3992", "dopamine": "3628",
         "dobutamine": "3616"}  # fmt: skip


def infusion(
    admin_id: str,
    drug: str,
    rate: float,
    when: datetime = T0,
    unit: str = "ug/kg/min",
    status: str = "in-progress",
    r5: bool = True,
    patient: str = PATIENT,
) -> dict[str, Any]:
    concept = {"coding": [{"system": RXNORM, "code": DRUGS[drug], "display": drug}]}
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": admin_id,
        "status": status,
        "subject": {"reference": f"Patient/{patient}"},
        "dosage": {
            "rateQuantity": {"value": rate, "unit": unit, "system": "http://unitsofmeasure.org",
                             "code": unit},
        },
    }  # fmt: skip
    if r5:
        resource["medication"] = {"concept": concept}
        resource["occurenceDateTime"] = when.isoformat()
    else:
        resource["medicationCodeableConcept"] = concept
        resource["effectivePeriod"] = {"start": when.isoformat()}
    return resource


def low_map_bp(obs_id: str, systolic: float, diastolic: float, when: datetime = T0) -> Any:
    resource = bp_obs(obs_id, systolic, when)
    resource["component"][1]["valueQuantity"]["value"] = diastolic
    return resource


# -- the published table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value", "points"),
    [
        (Parameter.MEAN_ARTERIAL_PRESSURE, 70.0, 0),
        (Parameter.MEAN_ARTERIAL_PRESSURE, 69.9, 1),
        (Parameter.DOBUTAMINE, 2.5, 2),
        (Parameter.DOBUTAMINE, 20.0, 2),
        (Parameter.DOPAMINE, 3.0, 2),
        (Parameter.DOPAMINE, 5.0, 2),
        (Parameter.DOPAMINE, 5.1, 3),
        (Parameter.DOPAMINE, 15.0, 3),
        (Parameter.DOPAMINE, 15.1, 4),
        (Parameter.EPINEPHRINE, 0.05, 3),
        (Parameter.EPINEPHRINE, 0.1, 3),
        (Parameter.EPINEPHRINE, 0.11, 4),
        (Parameter.NOREPINEPHRINE, 0.02, 3),
        (Parameter.NOREPINEPHRINE, 0.1, 3),
        (Parameter.NOREPINEPHRINE, 0.3, 4),
        (Parameter.NOREPINEPHRINE, 0.0, 0),  # a stopped infusion is no dose
    ],
)
def test_cardiovascular_points_follow_the_published_table(
    parameter: Parameter, value: float, points: int
) -> None:
    assert cardiovascular_points(parameter, value) == points


@given(st.sampled_from(list(DRUGS)), st.integers(0, 3000), st.integers(0, 3000))
def test_more_drug_never_scores_fewer_points(drug: str, a: int, b: int) -> None:
    low, high = sorted((a / 100, b / 100))
    parameter = Parameter(drug)
    assert cardiovascular_points(parameter, low) <= cardiovascular_points(parameter, high)


# -- parsing ----------------------------------------------------------------------------------


def test_r4_and_r5_administrations_give_the_same_reading() -> None:
    r5 = parse_resource(infusion("ma1", "norepinephrine", 0.08))
    r4 = parse_resource(infusion("ma1", "norepinephrine", 0.08, r5=False))
    assert r5 == r4
    (reading,) = r5
    assert (reading.parameter, reading.value, reading.time) == (Parameter.NOREPINEPHRINE, 0.08, T0)
    assert is_scored_medication(infusion("x", "dopamine", 4))


@pytest.mark.parametrize(
    ("unit", "rate", "expected"),
    [("ug/kg/min", 0.2, 0.2), ("mcg/kg/min", 0.2, 0.2), ("\u00b5g/kg/min", 0.2, 0.2),
     ("ug/kg/h", 6.0, 0.1), ("mg/kg/min", 0.0002, 0.2)],
)  # fmt: skip
def test_dose_rate_units_are_converted_to_mcg_per_kg_per_min(
    unit: str, rate: float, expected: float
) -> None:
    (reading,) = parse_medication_administration(infusion("m", "epinephrine", rate, unit=unit))
    assert reading.value == pytest.approx(expected)


@pytest.mark.parametrize("unit", ["mL/h", "ug/min", "mg/h", "furlong"])
def test_unknown_or_non_weight_based_units_are_refused_naming_the_field(unit: str) -> None:
    with pytest.raises(InputRejected) as caught:
        parse_medication_administration(infusion("m", "norepinephrine", 17.25, unit=unit))
    assert caught.value.location.endswith("dosage.rateQuantity.code")
    assert "17.25" not in str(caught.value)


def test_a_missing_rate_or_unit_is_refused() -> None:
    no_unit = infusion("m", "dopamine", 4)
    del no_unit["dosage"]["rateQuantity"]["code"], no_unit["dosage"]["rateQuantity"]["unit"]
    with pytest.raises(InputRejected, match="unit"):
        parse_medication_administration(no_unit)
    no_rate = infusion("m", "dopamine", 4)
    del no_rate["dosage"]["rateQuantity"]
    with pytest.raises(InputRejected) as caught:
        parse_medication_administration(no_rate)
    assert caught.value.location.endswith("dosage.rateQuantity")


@pytest.mark.parametrize("status", ["not-done", "entered-in-error", "on-hold", "unknown"])
def test_only_in_progress_or_completed_administrations_count(status: str) -> None:
    assert parse_medication_administration(infusion("m", "dopamine", 4, status=status)) == []
    assert parse_medication_administration(infusion("m", "dopamine", 4, status="completed"))


def test_other_medications_are_refused() -> None:
    resource = infusion("m", "dopamine", 4)
    resource["medication"]["concept"]["coding"][0]["code"] = "5640"  # ibuprofen
    with pytest.raises(InputRejected) as caught:
        parse_medication_administration(resource)
    assert caught.value.location.endswith("medication")


# -- scoring ----------------------------------------------------------------------------------


def test_norepinephrine_scores_the_cardiovascular_component_beside_the_labs() -> None:
    service = ScoringService()
    service.score_icu_fhir(bundle(vital_set("v1")))
    score = service.score_icu_fhir(bundle([infusion("ma1", "norepinephrine", 0.05)]))
    out = score.to_json()["sofa_labs"]
    assert out["cardiovascular"]["points"] == 3
    assert out["cardiovascular"]["basis"] == "norepinephrine"
    assert out["cardiovascular"]["unit"] == "ug/kg/min"
    assert out["cardiovascular"]["source_id"] == "ma1"
    assert out["cardiovascular"]["infusions"][0]["rate"] == 0.05
    # the lab keys keep their meaning: three lab components, none held
    assert out["subtotal"] == 0 and out["missing"] == ["renal", "coagulation", "liver"]
    assert out["subtotal_with_cardiovascular"] == 3
    assert "ma1" in score.lineage
    # a higher rate later the same day: the worst of 24 h
    score = service.score_icu_fhir(
        bundle([infusion("ma2", "norepinephrine", 0.25, T0 + timedelta(hours=2))])
    )
    assert score.to_json()["sofa_labs"]["cardiovascular"]["points"] == 4
    score = service.score_icu_fhir(
        bundle([infusion("ma3", "norepinephrine", 0.02, T0 + timedelta(hours=6))])
    )
    assert score.to_json()["sofa_labs"]["cardiovascular"]["value"] == 0.25


def test_an_infusion_older_than_24_hours_is_not_scored() -> None:
    service = ScoringService()
    service.score_icu_fhir(bundle([infusion("old", "epinephrine", 0.5, T0 - timedelta(hours=30))]))
    score = service.score_icu_fhir(bundle([infusion("new", "dobutamine", 5.0, T0)]))
    cardiovascular = score.to_json()["sofa_labs"]["cardiovascular"]
    assert cardiovascular["points"] == 2 and cardiovascular["basis"] == "dobutamine"


def test_map_below_70_scores_one_when_no_infusion_is_running() -> None:
    service = ScoringService()
    vitals = [r for r in vital_set("v1") if r["code"]["coding"][0]["code"] != "85354-9"]
    vitals.append(low_map_bp("bp-low", 90, 55))  # MAP (90 + 110) / 3 = 66.7
    service.score_icu_fhir(bundle(vitals))
    score = service.score_icu_fhir(bundle([infusion("stopped", "norepinephrine", 0.0)]))
    cardiovascular = score.to_json()["sofa_labs"]["cardiovascular"]
    assert cardiovascular["points"] == 1
    assert cardiovascular["basis"] == "mean_arterial_pressure"
    assert cardiovascular["value"] == pytest.approx(66.7)
    assert cardiovascular["source_id"] == "bp-low"


def test_risk_assessment_carries_the_cardiovascular_component_and_infusions() -> None:
    service = ScoringService()
    service.score_icu_fhir(bundle(vital_set("v1")))
    score = service.score_icu_fhir(bundle([infusion("ma1", "dopamine", 8.0)]))
    resource = score.risk_assessment()
    RiskAssessment.model_validate(resource)
    (labs,) = [c for c in resource["contained"] if c["id"] == "sofa-labs"]
    (cardio,) = [c for c in labs["component"] if c["code"]["coding"][0]["code"] == "cardiovascular"]
    assert cardio["valueInteger"] == 3
    outcomes = [p["outcome"]["text"] for p in resource["prediction"]]
    assert "circulatory failure (SOFA cardiovascular)" in outcomes
    assert {"reference": "MedicationAdministration/ma1"} in resource["basis"]


def test_vitals_only_output_has_no_cardiovascular_section() -> None:
    score = ScoringService().score_icu_fhir(bundle(vital_set("v1")))
    assert all(c["id"] != "sofa-labs" for c in score.risk_assessment()["contained"])


def test_infusion_reported_late_is_scored_at_the_stream_time() -> None:
    service = ScoringService()
    service.ingest_many(vital_set("v1", when=T0 + timedelta(hours=1)))
    (score,) = service.ingest_many([infusion("ma1", "norepinephrine", 0.3, T0)])
    assert score.news2.as_of == T0 + timedelta(hours=1)
    assert score.to_json()["sofa_labs"]["cardiovascular"]["points"] == 4


# -- minimum necessary ------------------------------------------------------------------------


def test_minimum_necessary_keeps_only_what_the_icu_endpoint_needs_of_an_administration() -> None:
    stage = MinimumNecessaryStage(cached_policy().endpoints["icu"])
    resource = infusion("ma1", "norepinephrine", 0.1)
    resource["dosage"]["route"] = {"text": "intravenous"}
    resource["performer"] = [{"actor": {"reference": "Practitioner/nurse-1"}}]
    resource["note"] = [{"text": "titrate to MAP 65"}]
    resource["subject"]["display"] = "someone"
    kept, removed = stage.strip_resource(resource, "r")
    assert kept is not None
    assert set(kept) == {"resourceType", "id", "status", "medication", "occurenceDateTime",
                         "subject", "dosage"}  # fmt: skip
    assert kept["dosage"] == {"rateQuantity": resource["dosage"]["rateQuantity"]}
    assert kept["subject"] == {"reference": f"Patient/{PATIENT}"}
    assert {"r.performer", "r.note", "r.dosage.route", "r.subject.display"} <= set(removed)
    stage.enforce_resource(kept)  # what was kept passes the endpoint's own gate
    with pytest.raises(InputRejected) as caught:
        stage.enforce_resource(resource, "r")
    assert caught.value.location in {"r.performer", "r.dosage.route", "r.note"}
    other = infusion("ma2", "dopamine", 4)
    other["medication"]["concept"]["coding"][0]["code"] = "5640"
    assert stage.strip_resource(other, "r")[0] is None


def test_the_scoring_endpoint_refuses_administrations_with_extra_elements() -> None:
    service = ScoringService()
    resource = infusion("ma1", "norepinephrine", 0.1)
    resource["dosage"]["route"] = {"text": "intravenous"}
    with pytest.raises(InputRejected) as caught:
        service.score_icu_fhir(bundle([resource]))
    assert caught.value.location.endswith("dosage.route")
