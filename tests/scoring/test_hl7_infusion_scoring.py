"""HL7 v2 RAS^O17 pump records -> MedicationAdministration -> SOFA cardiovascular, directly
and through ``clinflow run --source hl7:PATH``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from clinflow.ehr.hl7.fhir_map import validate_and_map
from clinflow.ehr.hl7.parser import HL7Error
from clinflow.errors import InputRejected
from clinflow.runtime.deployment import Deployment
from clinflow.scoring.service import ScoringService
from helpers.cli import run_cli
from helpers.hl7_treatment import treatment_view

PATIENT = "PT-00000000000000bb"
HEAD = (
    "MSH|^~\\&|PUMPGW|ICU|CLINFLOW|CLINFLOW|{sent}+0000||RAS^O17|{control}|P|2.5.1\r"
    "PID|1||55509876^^^CASCADE^MR||Vell^Arno||19580211|M\r"
    + "|".join(["PV1", "1", "I", "ICU", *[""] * 15, "pat-7-enc"])
    + "\r"
    "ORC|RE|ORD9|NE-{control}\r"
)


def ras(control: str, rate: str, unit: str = "ug/kg/min", when: str = "20260105090000",
        status: str = "PA", drug: str = "7512^norepinephrine^RXNORM") -> str:  # fmt: skip
    return (
        HEAD.format(sent=when, control=control)
        + f"RXA|0|1|{when}+0000||{drug}|{rate}|{unit}|||||||||||||{status}\r"
        + "RXR|IV^Intravenous^HL70162\r"
    )


def _treatment_view(message: str) -> list[dict[str, Any]]:
    return treatment_view(message, "MedicationAdministration", PATIENT)


def test_ras_maps_to_a_valid_medication_administration() -> None:
    mapped = validate_and_map(ras("R1", "0.08"))
    assert mapped.message_type == "RAS^O17"
    (resource,) = [r for r in mapped.resources if r["resourceType"] == "MedicationAdministration"]
    r4b_model("MedicationAdministration").model_validate(resource)
    assert resource["id"] == "NE-R1-rxa-1" and resource["status"] == "in-progress"
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "7512"
    assert resource["dosage"]["rateQuantity"]["value"] == 0.08
    assert resource["dosage"]["route"]["coding"][0]["code"] == "IV"
    assert resource["effectiveDateTime"] == "2026-01-05T09:00:00Z"
    assert resource["context"] == {"reference": "Encounter/pat-7-enc"}
    done = validate_and_map(ras("R2", "0.08", status="CP")).resources[-1]
    assert done["status"] == "completed"


def test_ras_records_score_the_cardiovascular_component() -> None:
    service = ScoringService()
    (first,) = service.ingest_many(_treatment_view(ras("R1", "0.08")))
    assert first.to_json()["sofa_labs"]["cardiovascular"]["points"] == 3
    (second,) = service.ingest_many(_treatment_view(ras("R2", "0.2", when="20260105100000")))
    assert second.to_json()["sofa_labs"]["cardiovascular"]["points"] == 4
    # a rate in a unit scoring cannot read is refused at the endpoint, naming the field
    with pytest.raises(InputRejected) as caught:
        service.ingest_many(_treatment_view(ras("R3", "5", unit="mL/h")))
    assert caught.value.location.endswith("dosage.rateQuantity.code")


@pytest.mark.parametrize(
    ("segment_edit", "location"),
    [(("RXA|0|1|20260105090000+0000||", "RXA|0|1|||"), "RXA[1]-3"),
     (("|0.08|ug/kg/min|", "|fast|ug/kg/min|"), "RXA[1]-6"),
     (("|||||||||||||PA\r", "|||||||||||||XX\r"), "RXA[1]-20")],
)  # fmt: skip
def test_malformed_ras_is_refused_naming_the_field(
    segment_edit: tuple[str, str], location: str
) -> None:
    message = ras("R1", "0.08").replace(*segment_edit)
    with pytest.raises(HL7Error) as caught:
        validate_and_map(message)
    assert caught.value.location == location


def test_ras_reaches_scoring_through_clinflow_run(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    messages = [ras("R1", "0.05"), ras("R2", "0.25", when="20260105110000")]
    (drop / "pump.hl7").write_text("\n".join(messages) + "\n", encoding="utf-8", newline="")
    code, stdout, stderr = run_cli(capsys, "run", "--source", f"hl7:{drop}", "--json",
                                   "--no-progress", "--validation", "shallow")  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["hl7_file"]["accepted"] == 2
    with Deployment.open(data_dir) as deployment:
        (patient,) = deployment.scoring_store.patients()
        stored = deployment.scoring_store.observations(patient)
        assert {r["resourceType"] for r in stored} == {"MedicationAdministration"}
        assert all("route" not in r["dosage"] for r in stored)
        score = deployment.scoring().latest_score(patient)
        assert score is not None and score.labs is not None
        assert score.labs.cardiovascular.points == 4
