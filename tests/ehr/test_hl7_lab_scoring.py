"""ORU^R01 lab results reach ICU scoring: a lab system's local codes and SI units become LOINC
/ UCUM laboratory Observations, pass the ICU endpoint's minimum-necessary gate and give the
SOFA-style components and the lactate flag; through ``clinflow run --source hl7:PATH`` the
lab results reach the deployment's scoring features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.runtime.deployment import Deployment
from clinflow.scoring.service import ScoringService
from clinflow.scoring.vitals import Parameter
from helpers.cli import run_cli
from helpers.hl7_treatment import treatment_view

PATIENT = "PT-00000000000000aa"

# cascade-lab dialect (policies/ehr/vendors/cascade-lab.yaml): local codes, umol/L, K/uL,
# Pacific local time. Creatinine 309.4 umol/L = 3.5 mg/dL, bilirubin 34.2 umol/L = 2.0 mg/dL.
LAB = (
    "MSH|^~\\&|CASCADELIS|CORE-LAB|CLINFLOW|CLINFLOW|20260105063000||ORU^R01|L0001|P|2.4\r"
    "PID|1||55501234^^^CASCADE^MR||Quist^Ona||19610304|F\r"
    + "|".join(["PV1", "1", "I", "ICU", *[""] * 15, "pat-9-enc"])
    + "\r"
    "OBR|1|ORD1|LAB-77|80048^Chemistry^L|||20260105060000\r"
    "ZLR|1|ANALYZER-3\r"
    "OBX|1|NM|LACT^Lactate^L||4.4|mmol/L|0.5-2.2|H|||F|||20260105061500\r"
    "OBX|2|NM|CREAT^Creatinine^L||309.4|umol/L|||||F|||20260105061500\r"
    "OBX|3|NM|WBC^White cell count^L||14.2|K/uL|||||F|||20260105061500\r"
    "OBX|4|NM|PLT^Platelet count^L||95|K/uL|||||F|||20260105061500\r"
    "OBX|5|NM|TBIL^Bilirubin total^L||34.2|umol/L|||||F|||20260105061500\r"
)
# a point-of-care blood gas from another sender: LOINC lactate in blood
POC = (
    "MSH|^~\\&|OTHERPOC|ICU|CLINFLOW|CLINFLOW|20260105160000+0000||ORU^R01|P0001|P|2.5.1\r"
    "PID|1||55501234^^^CASCADE^MR||Quist^Ona||19610304|F\r"
    "OBR|1||POC-5|24336-0^Gas panel^LN|||20260105155500+0000\r"
    "OBX|1|NM|32693-4^Lactate Bld^LN||1.8|mmol/L|||||F|||20260105155500+0000\r"
)


def _treatment_view(message: str) -> list[dict[str, Any]]:
    return treatment_view(message, "Observation", PATIENT)


def test_oru_lab_results_feed_sofa_components_and_lactate_flag() -> None:
    service = ScoringService()
    kept = _treatment_view(LAB)
    assert {r["code"]["coding"][0]["code"] for r in kept} == {
        "2524-7", "2160-0", "6690-2", "777-3", "1975-2"
    }  # fmt: skip
    assert all("encounter" not in r for r in kept)  # minimum necessary
    (score,) = service.ingest_many(kept)
    labs = score.to_json()["sofa_labs"]
    assert {c["system"]: c["points"] for c in labs["components"]} == {
        "renal": 3, "coagulation": 2, "liver": 2
    }  # fmt: skip
    assert [c["value"] for c in labs["components"]] == [3.5, 95, 2.0]
    assert labs["lactate"]["flags"] == ["elevated", "severe"]
    assert labs["lactate"]["observed_at"] == "2026-01-05T14:15:00+00:00"  # 06:15 Pacific
    # a later point-of-care lactate (LOINC 32693-4) becomes the latest: no longer elevated
    (later,) = service.ingest_many(_treatment_view(POC))
    assert later.to_json()["sofa_labs"]["lactate"]["flags"] == []
    assert later.to_json()["sofa_labs"]["subtotal"] == 7  # the chemistry is still in 24 h
    features = service.patient_features(PATIENT)
    assert features.parameters[Parameter.LACTATE].windows["24h"].count == 2


def test_lab_results_reach_scoring_through_clinflow_run(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "labs.hl7").write_text(LAB + "\n" + POC + "\n", encoding="utf-8", newline="")
    code, stdout, stderr = run_cli(capsys, "run", "--source", f"hl7:{drop}", "--json",
                                   "--no-progress", "--validation", "shallow")  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["hl7_file"]["accepted"] == 2 and report["hops"]["ingest"]["received"] == 2
    with Deployment.open(data_dir) as deployment:
        (patient,) = deployment.scoring_store.patients()
        stored = deployment.scoring_store.observations(patient)
        codes = {r["code"]["coding"][0]["code"] for r in stored}
        assert {"2524-7", "32693-4", "2160-0", "777-3", "1975-2", "6690-2"} <= codes
        assert all("Quist" not in orjson.dumps(r).decode() for r in stored)
        service = deployment.scoring()
        features = service.patient_features(patient)
        assert {Parameter.CREATININE, Parameter.PLATELETS, Parameter.BILIRUBIN} <= set(
            features.parameters
        )
        score = service.latest_score(patient)
        assert score is not None and score.labs is not None
        assert [c.points for c in score.labs.components] == [3, 2, 2]
