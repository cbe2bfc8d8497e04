"""The HTTP app and the in-process service are the same code: endpoints, 422s, retraction."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.riskassessment import RiskAssessment

from clinflow.interfaces import RetractionRequest, RetractionTarget
from clinflow.scoring.service import ScoringService
from helpers.fakes import RecordingAuditSink
from helpers.vitals import PATIENT, bundle, later, vital_set

from .helpers import Client, us_core_extensions


@pytest.mark.parametrize("fast", [True, False])
def test_icu_fhir_bundle_and_array_return_same_risk_assessment(fast: bool) -> None:
    a, b = Client(fast=fast), Client(fast=fast)
    from_bundle = a.request("POST", "/icu/risk-assessment", json=bundle(vital_set(rr=25)))
    from_array = b.request("POST", "/icu/risk-assessment", json=vital_set(rr=25))
    assert from_bundle.status_code == from_array.status_code == 200
    assert from_bundle.headers["content-type"].startswith("application/fhir+json")
    assert from_bundle.json() == from_array.json()
    RiskAssessment.model_validate(from_bundle.json())


@pytest.mark.parametrize("fast", [True, False])
def test_scale2_flag(fast: bool) -> None:
    observations = vital_set(spo2=89, o2_flow=0)
    scale1 = Client(fast=fast).request("POST", "/icu/risk-assessment", json=observations).json()
    scale2 = (
        Client(fast=fast)
        .request("POST", "/icu/risk-assessment", json=observations, params={"spo2_scale2": "true"})
        .json()
    )
    assert scale1["contained"][0]["valueInteger"] == 3
    assert scale2["contained"][0]["valueInteger"] == 0
    assert "scale 2" in scale2["method"]["text"]


def test_icu_plain_json_matches_fhir() -> None:
    plain = Client().request(
        "POST",
        "/icu/score",
        json={
            "patient": PATIENT,
            "observed_at": "2026-01-05T08:00:00Z",
            "respiratory_rate": 25,
            "spo2": 97,
            "supplemental_oxygen": False,
            "systolic_bp": 120,
            "heart_rate": 70,
            "consciousness": "A",
            "temperature_c": 37.0,
        },
    )
    assert plain.status_code == 200
    body = plain.json()
    assert body["news2"]["total"] == 3 and body["news2"]["risk_band"] == "low-medium"
    assert body["news2"]["partial"] is False and "Mock" in body["label"]
    assert body["lineage"] and body["lineage"][0].startswith("icu-request-")


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/icu/score", {"patient": PATIENT, "race": "2106-3"}, ["body", "race"]),
        (
            "/triage/score",
            {
                "patient": PATIENT,
                "age_years": 30,
                "chief_complaint": "fever",
                "expected_resources": 1,
                "ethnicity": "2135-2",
            },
            ["body", "ethnicity"],
        ),
        ("/icu/score", {"patient": "MRN 12345"}, ["body", "patient"]),
    ],
)
def test_unlisted_fields_refused_with_422_naming_field_not_value(
    path: str, body: dict[str, Any], loc: list[str]
) -> None:
    response = Client().request("POST", path, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert loc[-1] in response.json()["message"]
    for value in ("2106-3", "2135-2", "12345"):
        assert value not in response.text


@pytest.mark.parametrize("fast", [True, False])
def test_fhir_extension_refused_with_422(fast: bool) -> None:
    observations = vital_set()
    observations[3]["extension"] = us_core_extensions("2106-3", "2135-2")
    response = Client(fast=fast).request("POST", "/icu/risk-assessment", json=bundle(observations))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "extension"
    assert "2106-3" not in response.text


@pytest.mark.parametrize("fast", [True, False])
def test_fhir_wrong_code_refused_naming_entry(fast: bool) -> None:
    observations = vital_set()
    observations[0]["code"]["coding"][0]["code"] = "29463-7"  # body weight: not needed
    response = Client(fast=fast).request("POST", "/icu/risk-assessment", json=bundle(observations))
    assert response.status_code == 422
    assert "entry[0]" in response.json()["message"]


def test_triage_endpoints() -> None:
    client = Client()
    fhir = client.request(
        "POST",
        "/triage/risk-assessment",
        json={
            "patient": PATIENT,
            "age_years": 0.1,
            "chief_complaint": "fever",
            "expected_resources": 2,
            "observations": vital_set(hr=185),
        },
    )
    assert fhir.status_code == 200
    assert fhir.json()["prediction"][0]["qualitativeRisk"]["text"] == "level 2"
    assert "Observation/o-hr" in {b["reference"] for b in fhir.json()["basis"]}
    plain = client.request(
        "POST",
        "/triage/score",
        json={
            "patient": PATIENT,
            "age_years": 40,
            "chief_complaint": "minor_injury",
            "expected_resources": 0,
        },
    )
    assert plain.json()["esi_level"] == 5 and "MOCK" in plain.json()["label"]


def test_openapi_says_mock_and_lists_exact_fields() -> None:
    spec = Client().request("GET", "/openapi.json").json()
    assert "Mock clinical model" in spec["info"]["description"]
    assert "MOCK" in spec["info"]["description"]
    schemas = spec["components"]["schemas"]
    icu = schemas["IcuRequest"]
    assert icu["additionalProperties"] is False
    assert "race" not in icu["properties"] and "ethnicity" not in icu["properties"]


def test_alerts_ack_features_over_http() -> None:
    client = Client()
    client.request("POST", "/icu/risk-assessment", json=vital_set("a", when=later(0)))
    sick = vital_set("b", rr=26, spo2=91, o2_flow=2, when=later(15))
    client.request("POST", "/icu/risk-assessment", json=sick)
    alerts = client.request("GET", f"/patients/{PATIENT}/alerts").json()
    assert len(alerts) == 1 and alerts[0]["band"] == "high"
    assert "b-rr" in alerts[0]["lineage"]
    acked = client.request(
        "POST",
        f"/alerts/{alerts[0]['alert_id']}/acknowledge",
        json={"acknowledged_by": "rrt-nurse"},
    )
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "rrt-nurse"
    missing = client.request(
        "POST", "/alerts/alert-404/acknowledge", json={"acknowledged_by": "rrt-nurse"}
    )
    assert missing.status_code == 404
    features = client.request("GET", f"/patients/{PATIENT}/features").json()
    rr = features["parameters"]["respiratory_rate"]
    assert rr["last"] == 26 and rr["windows"]["1h"]["count"] == 2
    assert rr["windows"]["1h"]["slope_per_hour"] == pytest.approx(40.0)


def test_retraction_deletes_everything_and_confirms() -> None:
    sink = RecordingAuditSink()
    service = ScoringService(audit=sink)
    assert isinstance(service, RetractionTarget)
    client = Client(service)
    client.request("POST", "/icu/risk-assessment", json=vital_set("a", rr=26, spo2=91, o2_flow=2))
    client.request(
        "POST",
        "/triage/score",
        json={"patient": PATIENT, "age_years": 50, "chief_complaint": "fever",
              "expected_resources": 2},
    )  # fmt: skip
    assert service.alerts(PATIENT) and service.latest_score(PATIENT)
    refused = client.request("DELETE", f"/patients/{PATIENT}")  # a scoring client's token
    assert refused.status_code == 403 and service.latest_score(PATIENT)
    receipt = client.request("DELETE", f"/patients/{PATIENT}", who="deployment").json()
    assert receipt["status"] == "retracted"
    assert receipt["deleted"] == 6 + 8  # window entries + latest of each parameter (BP: 2)
    assert receipt["derived_deleted"] == 1 + 1 + 1  # score, alert, triage result
    assert receipt["remaining"] == {"scores": 0, "alerts": 0, "readings": 0}
    assert service.patient_features(PATIENT).parameters == {}
    codes = sink.codes()
    assert codes.count("score") == 2 and codes.count("alert") == 1
    # the refused attempt, the purge, then the retraction call itself (with its principal)
    assert codes[-3:] == ["api-query", "purge", "api-query"]
    who = sink.events[-1]["agent"][0]
    assert who["who"]["identifier"]["value"] == "token:deployment"
    assert who["role"] == [{"text": "deployment"}]
    again = service.retract(RetractionRequest(patient=PATIENT))  # idempotent
    assert (again.deleted, again.derived_deleted) == (0, 0)


def test_retraction_by_input_message_ids() -> None:
    service = ScoringService()
    service.score_icu_fhir(vital_set("a", when=later(0)))
    service.score_icu_fhir(vital_set("b", rr=26, spo2=91, o2_flow=2, when=later(15)))
    report = service.retract(RetractionRequest(patient=PATIENT, message_ids=("b-rr", "b-spo2")))
    assert report.deleted == 4  # two window entries + two latest readings
    assert report.derived_deleted == 2  # the second score and its alert
    assert len(service.score_history(PATIENT)) == 1
    assert service.alerts(PATIENT) == []


def test_retraction_for_other_purpose_keeps_data() -> None:
    service = ScoringService()
    service.score_icu_fhir(vital_set())
    report = service.retract(RetractionRequest(patient=PATIENT, purposes=("HRESCH",)))
    assert report.deleted == 0 and service.latest_score(PATIENT) is not None


def test_replayed_observation_not_scored_twice() -> None:
    service = ScoringService()
    observation = vital_set()[0]
    assert service.ingest_observation(observation) is not None
    assert service.ingest_observation(observation) is None
    assert len(service.score_history(PATIENT)) == 1


def test_serve_scoring_help() -> None:
    from typer.testing import CliRunner

    from clinflow.cli import app

    result = CliRunner().invoke(app, ["serve", "scoring", "--help"])
    assert result.exit_code == 0 and "MOCK" in result.output and "--data-dir" in result.output


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"resourceType": "Bundle", "extension": [{"url": "x"}], "entry": []}, "extension"),
        (
            {"resourceType": "Bundle", "entry": [{"resource": vital_set()[0], "search": {}}]},
            "search",
        ),
        (bundle([{"resourceType": "Patient", "id": "p"}]), "resourceType"),
    ],
)
@pytest.mark.parametrize("fast", [True, False])
def test_bundle_level_elements_refused(body: dict[str, Any], loc: str, fast: bool) -> None:
    response = Client(fast=fast).request("POST", "/icu/risk-assessment", json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == loc


def test_ingest_many_scores_once_per_charting_time_without_peeking_ahead() -> None:
    batched, single = ScoringService(), ScoringService()
    stream = [*vital_set("a", when=later(0)), *vital_set("b", rr=26, when=later(15))]
    scores = batched.ingest_many(stream)
    assert [s.news2.total for s in scores] == [0, 3]
    per_observation = [single.ingest_observation(o) for o in stream]
    assert per_observation[6] is not None and per_observation[-1] is not None
    assert per_observation[6].news2.total == 0 and per_observation[-1].news2.total == 3


def test_serve_scoring_bad_policy_is_one_line_usage_error(tmp_path: Any) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "clinflow", "serve", "scoring", "--policy",
         str(tmp_path / "missing.yaml"), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "missing.yaml" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("fast", [True, False])
def test_bad_query_and_non_json_body_are_422(fast: bool) -> None:
    client = Client(fast=fast)
    bad_flag = client.request(
        "POST", "/icu/risk-assessment", json=vital_set(), params={"spo2_scale2": "maybe"}
    )
    assert bad_flag.status_code == 422 and "spo2_scale2" in bad_flag.text
    not_json = client.request(
        "POST",
        "/icu/risk-assessment",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 422


def test_fast_path_refuses_oversized_body() -> None:
    response = Client().request(
        "POST", "/icu/risk-assessment", content=b" " * (4 * 1024 * 1024 + 1)
    )
    assert response.status_code == 413
