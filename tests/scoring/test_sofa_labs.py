"""Lab results feed ICU scoring: SOFA-style renal / coagulation / liver components (Vincent
1996 table, every edge), the lactate and leukocyte flags, unit conversion (µmol/L), the
worst value of 24 h, the ICU score / RiskAssessment / features outputs, the plain-JSON
fields and the minimum-necessary gate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from fhir.resources.riskassessment import RiskAssessment
from hypothesis import given
from hypothesis import strategies as st

from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import InputRejected
from clinflow.interfaces import RetractionRequest
from clinflow.scoring.fhir_io import is_scored_observation, parse_observation
from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
from clinflow.scoring.policy import cached_policy
from clinflow.scoring.service import ScoringService
from clinflow.scoring.sofa import bilirubin_points, creatinine_points, platelet_points
from clinflow.scoring.stage import IcuScoringStage
from clinflow.scoring.vitals import Parameter
from helpers.vitals import PATIENT, T0, bp_obs, bundle, quantity_obs, vital_set


def lab_obs(
    obs_id: str, code: str, value: float, unit: str, when: Any = T0, patient: str = PATIENT
) -> dict[str, Any]:
    resource = quantity_obs(obs_id, code, value, unit, when, patient)
    resource["category"][0]["coding"][0]["code"] = "laboratory"
    return resource


@pytest.mark.parametrize(
    ("mg_dl", "points"),
    [(0.5, 0), (1.19, 0), (1.2, 1), (1.9, 1), (1.99, 1), (2.0, 2), (3.4, 2), (3.5, 3),
     (4.9, 3), (4.99, 3), (5.0, 4), (12.0, 4)],
)  # fmt: skip
def test_creatinine_renal_points(mg_dl: float, points: int) -> None:
    assert creatinine_points(mg_dl) == points


@pytest.mark.parametrize(
    ("k_per_ul", "points"),
    [(400, 0), (150, 0), (149, 1), (100, 1), (99, 2), (50, 2), (49, 3), (20, 3), (19, 4),
     (0, 4)],
)  # fmt: skip
def test_platelet_coagulation_points(k_per_ul: float, points: int) -> None:
    assert platelet_points(k_per_ul) == points


@pytest.mark.parametrize(
    ("mg_dl", "points"),
    [(0.4, 0), (1.19, 0), (1.2, 1), (1.9, 1), (2.0, 2), (5.9, 2), (6.0, 3), (11.9, 3),
     (12.0, 4), (30.0, 4)],
)  # fmt: skip
def test_bilirubin_liver_points(mg_dl: float, points: int) -> None:
    assert bilirubin_points(mg_dl) == points


@given(st.integers(0, 3000), st.integers(0, 3000))
def test_points_are_monotone(a: int, b: int) -> None:
    low, high = sorted((a / 100, b / 100))
    assert creatinine_points(low) <= creatinine_points(high)
    assert bilirubin_points(low) <= bilirubin_points(high)
    assert platelet_points(low * 20) >= platelet_points(high * 20)


@given(st.integers(0, 2500))
def test_micromolar_and_mass_units_give_the_same_points(centi_mg_dl: int) -> None:
    """x mg/dL and x * 88.4 µmol/L creatinine (x * 17.1 bilirubin) score alike."""
    mg_dl = centi_mg_dl / 100
    for code, factor, parameter, points in (
        ("2160-0", 88.4, Parameter.CREATININE, creatinine_points),
        ("1975-2", 17.1, Parameter.BILIRUBIN, bilirubin_points),
    ):
        (mass,) = parse_observation(lab_obs("a", code, mg_dl, "mg/dL"))
        (molar,) = parse_observation(lab_obs("b", code, mg_dl * factor, "µmol/L"))
        assert mass.parameter is molar.parameter is parameter
        assert molar.value == pytest.approx(mg_dl, abs=1e-3)
        assert points(float(molar.value)) == points(float(mass.value))


def _labs(
    prefix: str,
    creatinine: tuple[float, str],
    platelets: float,
    bilirubin: tuple[float, str],
    lactate: float,
    when: Any = T0,
) -> list[dict[str, Any]]:
    return [
        lab_obs(f"{prefix}-creat", "2160-0", creatinine[0], creatinine[1], when),
        lab_obs(f"{prefix}-plt", "777-3", platelets, "10*3/uL", when),
        lab_obs(f"{prefix}-tbil", "1975-2", bilirubin[0], bilirubin[1], when),
        lab_obs(f"{prefix}-lact", "2524-7", lactate, "mmol/L", when),
        lab_obs(f"{prefix}-wbc", "6690-2", 14.2, "10*3/uL", when),
    ]


def test_labs_crossing_thresholds_give_the_expected_components() -> None:
    service = ScoringService()
    body = bundle(
        vital_set("v1", rr=24, spo2=95, sbp=98, hr=112, temp=38.4)
        + _labs("lab1", (309.4, "umol/L"), 45, (102.6, "umol/L"), 4.1)
    )
    score = service.score_icu_fhir(body)
    out = score.to_json()["sofa_labs"]
    points = {c["system"]: (c["points"], c["value"], c["unit"]) for c in out["components"]}
    assert points == {
        "renal": (3, 3.5, "mg/dL"),  # 309.4 µmol/L / 88.4
        "coagulation": (3, 45, "10*3/uL"),
        "liver": (3, 6.0, "mg/dL"),  # 102.6 µmol/L / 17.1
    }
    assert out["subtotal"] == 9 and out["missing"] == []
    assert out["lactate"]["flags"] == ["elevated", "severe"]
    assert out["wbc"]["flags"] == ["high"]
    assert {"lab1-creat", "lab1-plt", "lab1-tbil", "lab1-lact", "lab1-wbc"} <= set(score.lineage)
    # NEWS2 and qSOFA are unchanged by the labs
    assert score.news2.total == ScoringService().score_icu_fhir(
        bundle(vital_set("v1", rr=24, spo2=95, sbp=98, hr=112, temp=38.4))
    ).news2.total


def test_risk_assessment_carries_lab_components_and_lactate_prediction() -> None:
    service = ScoringService()
    score = service.score_icu_fhir(
        bundle(vital_set("v1") + _labs("lab1", (1.0, "mg/dL"), 160, (0.8, "mg/dL"), 2.0))
    )
    resource = score.risk_assessment()
    RiskAssessment.model_validate(resource)  # raises if not valid FHIR R5
    (labs,) = [c for c in resource["contained"] if c["id"] == "sofa-labs"]
    assert labs["valueInteger"] == 0 and labs["status"] == "final"
    assert {"reference": "#sofa-labs"} in resource["basis"]
    assert {"reference": "Observation/lab1-lact"} in resource["basis"]
    (lactate,) = [p for p in resource["prediction"] if "lactate" in p["outcome"]["text"]]
    assert lactate["qualitativeRisk"]["text"] == "not elevated"  # 2.0 is not > 2


def test_vitals_only_output_is_unchanged_by_the_lab_section() -> None:
    score = ScoringService().score_icu_fhir(bundle(vital_set("v1")))
    resource = score.risk_assessment()
    assert [c["id"] for c in resource["contained"]] == ["news2", "qsofa"]
    assert len(resource["prediction"]) == 2
    assert score.to_json()["sofa_labs"]["missing"] == ["renal", "coagulation", "liver"]


def test_components_read_the_worst_value_of_24_hours() -> None:
    service = ScoringService()
    service.score_icu_fhir(bundle(vital_set("v0", when=T0 - timedelta(hours=30))))
    old = T0 - timedelta(hours=26)  # outside the window at T0
    earlier = T0 - timedelta(hours=10)
    service.score_icu_fhir(bundle([lab_obs("c-old", "2160-0", 6.0, "mg/dL", old)]))
    service.score_icu_fhir(bundle([lab_obs("c-10h", "2160-0", 2.4, "mg/dL", earlier),
                                   lab_obs("p-10h", "777-3", 30, "10*3/uL", earlier)]))  # fmt: skip
    score = service.score_icu_fhir(
        bundle(vital_set("v1") + [lab_obs("c-now", "2160-0", 1.3, "mg/dL"),
                                  lab_obs("p-now", "777-3", 120, "10*3/uL")])  # fmt: skip
    )
    assert score.labs is not None
    renal, coagulation, liver = score.labs.components
    assert (renal.points, renal.source_id) == (2, "c-10h")  # 2.4 beats 1.3; 6.0 too old
    assert (coagulation.points, coagulation.source_id) == (3, "p-10h")
    assert liver.points is None and score.labs.missing == ("liver",)


def test_a_lab_reported_after_later_vitals_is_scored_at_the_stream_time() -> None:
    service = ScoringService()
    (first,) = service.ingest_many(vital_set("v1", when=T0))
    late_lab = lab_obs("lact-1", "2524-7", 3.0, "mmol/L", T0 - timedelta(minutes=40))
    (score,) = service.ingest_many([late_lab])
    assert score.news2.as_of == T0 and not score.news2.partial
    assert score.labs is not None and score.labs.lactate is not None
    assert score.labs.lactate.age_seconds == 2400 and score.labs.lactate_elevated
    assert score.assessment_id != first.assessment_id


@pytest.mark.parametrize(
    ("unit", "location", "reason"),
    [("mg%", "Observation.valueQuantity.code", "unexpected unit for creatinine"),
     ("", "Observation.valueQuantity.code", "a unit is required for creatinine")],
)  # fmt: skip
def test_lab_units_we_cannot_convert_are_refused(unit: str, location: str, reason: str) -> None:
    resource = lab_obs("c", "2160-0", 176.8, "umol/L")
    resource["valueQuantity"]["code"] = resource["valueQuantity"]["unit"] = unit
    with pytest.raises(InputRejected) as caught:
        parse_observation(resource)
    assert caught.value.location == location and caught.value.reason == reason
    assert "176.8" not in str(caught.value)


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected"),
    [("32693-4", 18.0, "mg/dL", 1.998), ("14682-9", 442, "umol/L", 5.0),
     ("14631-6", 205.2, "μmol/L", 12.0), ("777-3", 95, "10*9/L", 95.0),
     ("777-3", 95000, "/uL", 95.0), ("6690-2", 3.5, "K/uL", 3.5)],
)  # fmt: skip
def test_other_codes_and_units_convert(code: str, value: float, unit: str, expected: float) -> None:
    (reading,) = parse_observation(lab_obs("x", code, value, unit))
    assert reading.value == pytest.approx(expected, abs=1e-3)


def test_plain_json_labs_and_features() -> None:
    service = ScoringService()
    request = {"patient": PATIENT, "observed_at": T0.isoformat(), "respiratory_rate": 18,
               "creatinine_mg_per_dl": 2.0, "platelets_k_per_ul": 99,
               "bilirubin_mg_per_dl": 1.2, "lactate_mmol_per_l": 2.1,
               "wbc_k_per_ul": 3.9}  # fmt: skip
    out = service.score_icu_json(request).to_json()["sofa_labs"]
    assert [c["points"] for c in out["components"]] == [2, 2, 1] and out["subtotal"] == 5
    assert out["lactate"]["flags"] == ["elevated"] and out["wbc"]["flags"] == ["low"]
    features = service.patient_features(PATIENT)
    assert features.parameters[Parameter.CREATININE].last == 2.0
    assert features.parameters[Parameter.LACTATE].windows["24h"].count == 1
    with pytest.raises(InputRejected) as caught:
        service.score_icu_json({**request, "race": "x"})
    assert caught.value.location == "race"


def test_minimum_necessary_passes_lab_results_and_drops_other_labs() -> None:
    stage = MinimumNecessaryStage(cached_policy().endpoint("icu"))
    sodium = lab_obs("na", "2951-2", 140, "mmol/L")
    creatinine = lab_obs("c", "2160-0", 1.0, "mg/dL")
    creatinine["interpretation"] = [{"text": "N"}]
    kept, removed = stage.strip_body([creatinine, sodium])
    assert [r["id"] for r in kept] == ["c"]
    assert "[0].interpretation" in removed and "[1] (Observation)" in removed
    assert is_scored_observation(creatinine) and not is_scored_observation(sodium)
    assert is_scored_observation(bp_obs("bp", 120))


def test_retracting_a_lab_input_drops_its_reading_and_the_score_built_on_it() -> None:
    service = ScoringService()
    labs = _labs("l", (2.2, "mg/dL"), 80, (1, "mg/dL"), 1)
    service.score_icu_fhir(bundle(vital_set("v1") + labs))
    report = service.retract(RetractionRequest(patient=PATIENT, message_ids=("l-creat",)))
    assert report.deleted == 2  # its window point and its latest-reading entry
    assert service.latest_score(PATIENT) is None
    score = service.score_icu_fhir(bundle(vital_set("v2", when=T0 + timedelta(minutes=15))))
    assert score.labs is not None and score.labs.components[0].points is None
    assert score.labs.components[1].points == 2


def test_pipeline_stage_names_the_lab_subtotal_and_lactate_flag() -> None:
    stage = IcuScoringStage(ScoringService())
    labs = _labs("l", (2.2, "mg/dL"), 80, (1, "mg/dL"), 2.5)
    envelope = Envelope(
        message_id="m-1",
        source=SourceKind.FHIR,
        patient=PATIENT,
        payload=orjson.dumps(vital_set("v1") + labs),
        event_time=T0,
    )
    (out,) = stage.process(envelope)
    assert out.attributes["sofa_labs"] == "4" and out.attributes["lactate_elevated"] == "true"
    assert {"reference": "Observation/l-lact"} in orjson.loads(out.payload)["basis"]


@pytest.mark.parametrize("fast", [True, False])
def test_http_endpoints_take_lab_results(fast: bool) -> None:
    from .helpers import Client

    client = Client(fast=fast)
    labs = _labs("h", (4.2, "mg/dL"), 18, (13.0, "mg/dL"), 5.0)
    answer = client.request("POST", "/icu/risk-assessment", json=bundle(vital_set("v1") + labs))
    assert answer.status_code == 200, answer.text
    (contained,) = [c for c in answer.json()["contained"] if c["id"] == "sofa-labs"]
    assert contained["valueInteger"] == 3 + 4 + 4
    sodium = lab_obs("na", "2951-2", 140, "mmol/L")
    refused = client.request("POST", "/icu/risk-assessment", json=[sodium])
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "code"
    plain = client.request("POST", "/icu/score", json={
        "patient": PATIENT, "observed_at": T0.isoformat(), "platelets_k_per_ul": 45})  # fmt: skip
    assert plain.status_code == 200
    coagulation = plain.json()["sofa_labs"]["components"][1]
    assert (coagulation["points"], coagulation["value"]) == (4, 18)  # 18 is worse than 45
    features = client.request("GET", f"/patients/{PATIENT}/features")
    assert "creatinine" in features.json()["parameters"]
    assert features.json()["sofa_labs"]["subtotal"] == 11
    assert features.json()["sofa_labs"]["lactate"]["flags"] == ["elevated", "severe"]
