"""Safe Harbor on hand-written R4 (Synthea-style), R4B and R5 inputs: nothing identifying
survives, references and dates stay consistent, output validates."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.deid.fhir.engine import FhirDeidentifier, build_fhir_deidentifier
from clinflow.deid.fhir.io import FhirDeidRunner, _errors, validate_output
from clinflow.deid.pseudonym import Pseudonymizer

from . import helpers

KEY = bytes(range(32))
AS_OF = date(2026, 1, 1)


def make_engine(policy: str = "safe-harbor") -> FhirDeidentifier:
    return build_fhir_deidentifier(Pseudonymizer(KEY), policy=policy, as_of=AS_OF)


def run(tmp_path: Path, documents: dict[str, Any], policy: str = "safe-harbor",
        validation: str = "both") -> tuple[dict[str, bytes], FhirDeidRunner]:
    source = tmp_path / "in"
    source.mkdir(parents=True)
    for name, document in documents.items():
        data = document if isinstance(document, bytes) else orjson.dumps(document)
        (source / name).write_bytes(data)
    runner = FhirDeidRunner(make_engine(policy), validation=validation)  # type: ignore[arg-type]
    runner.run(source, tmp_path / "out")
    outputs = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    return outputs, runner


def resources(bundle_bytes: bytes) -> dict[str, dict[str, Any]]:
    bundle = orjson.loads(bundle_bytes)
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}


def decoded_text(raw: bytes) -> str:
    """The output as text, with base64 attachments decoded (so notes are searched too)."""
    text = raw.decode()
    document = orjson.loads(raw)
    for entry in document.get("entry", []):
        for content in entry["resource"].get("content", []):
            text += base64.b64decode(content["attachment"]["data"]).decode()
    return text


def test_r4_synthea_bundle_keeps_no_phi(tmp_path: Path) -> None:
    outputs, runner = run(tmp_path, {"bundle.json": helpers.r4_synthea_bundle()})
    text = decoded_text(outputs["bundle.json"])
    for value in helpers.PHI:
        assert value not in text, f"{value!r} survived"
    assert runner.report.quarantined == 0
    assert runner.report.versions["R4B"] >= 1  # R4 Encounter (class Coding, period)


def test_valid_r4_that_no_model_takes_is_deidentified_and_recorded(tmp_path: Path) -> None:
    bundle = helpers.r4_synthea_bundle()
    product = {"resourceType": "MedicinalProduct", "id": "mp1",
               "name": [{"productName": "Antonia30's compound"}]}
    bundle["entry"].append({"fullUrl": "urn:uuid:mp1", "resource": product,
                            "request": {"method": "POST", "url": "MedicinalProduct"}})
    outputs, runner = run(tmp_path, {"bundle.json": bundle})
    assert runner.report.validation_skipped == 1 and runner.report.quarantined == 0
    assert b"Antonia30" not in outputs["bundle.json"]


def test_patient_pseudonym_and_references_are_consistent(tmp_path: Path) -> None:
    outputs, _ = run(tmp_path, {"bundle.json": helpers.r4_synthea_bundle()})
    bundle = orjson.loads(outputs["bundle.json"])
    out = resources(outputs["bundle.json"])
    pseudonym = Pseudonymizer(KEY).patient_pseudonym(helpers.MRN)
    assert out["Patient"]["id"] == pseudonym
    patient_url = bundle["entry"][0]["fullUrl"]
    assert patient_url.startswith("urn:uuid:")
    for kind in ("Encounter", "Observation", "DocumentReference"):
        assert out[kind]["subject"]["reference"] == patient_url
    assert out["Observation"]["encounter"]["reference"] == bundle["entry"][1]["fullUrl"]
    # the same patient in an ndjson export, referenced as Patient/<id>, maps to the same id
    engine = make_engine()
    engine.index.add(helpers.r4_synthea_bundle()["entry"][0]["resource"])
    assert engine.map_reference(f"Patient/{helpers.PATIENT_UUID[9:]}") == f"Patient/{pseudonym}"


def test_dates_move_by_the_patient_offset(tmp_path: Path) -> None:
    outputs, _ = run(tmp_path, {"bundle.json": helpers.r4_synthea_bundle()})
    out = resources(outputs["bundle.json"])
    offset = Pseudonymizer(KEY).date_offset_days(helpers.MRN)
    shifted = date.fromordinal(date(2019, 3, 4).toordinal() + offset).isoformat()
    assert out["Observation"]["effectiveDateTime"] == f"{shifted}T10:12:00-05:00"
    assert out["Encounter"]["period"]["start"].startswith(shifted)  # R4-only element
    assert out["DocumentReference"]["context"]["period"]["start"].startswith(shifted)
    note = base64.b64decode(out["DocumentReference"]["content"][0]["attachment"]["data"])
    assert shifted.encode() in note


def test_safe_harbor_generalizations(tmp_path: Path) -> None:
    outputs, _ = run(tmp_path, {"bundle.json": helpers.r4_synthea_bundle(),
                                "r5.json": helpers.r5_patient_bundle()})
    patient = resources(outputs["bundle.json"])["Patient"]
    assert patient["birthDate"] == "1936"  # 98 on AS_OF: folded to the 90-year-olds (90+)
    assert patient["address"] == [{"state": "MA", "postalCode": "011", "country": "US"}]
    assert [e["url"].rsplit("/", 1)[1] for e in patient["extension"]] == ["us-core-race"]
    assert "text" not in patient and "name" not in patient and "identifier" not in patient
    r5_patient = resources(outputs["r5.json"])["Patient"]
    assert r5_patient["address"][0]["postalCode"] == "000"  # 036: low-population prefix
    assert r5_patient["birthDate"] == "1961"


def test_contained_and_conditional_references(tmp_path: Path) -> None:
    outputs, _ = run(tmp_path, {"bundle.json": helpers.r4_synthea_bundle()})
    encounter = resources(outputs["bundle.json"])["Encounter"]
    contained = encounter["contained"][0]
    assert set(contained) == {"resourceType", "id"}  # Location: nothing allow-listed
    assert encounter["location"][0]["location"]["reference"] == "#" + contained["id"]
    npi_ref = encounter["participant"][0]["individual"]["reference"]
    assert npi_ref.startswith("Practitioner/") and "9999999939" not in npi_ref


def test_unknown_elements_are_redacted(tmp_path: Path) -> None:
    bundle = helpers.r5_patient_bundle()
    bundle["entry"][1]["resource"]["device"] = {"display": "Monitor SN 8812"}
    bundle["entry"][1]["resource"]["specimen"] = {"reference": "Specimen/x1"}
    outputs, _ = run(tmp_path, {"r5.json": bundle})
    observation = resources(outputs["r5.json"])["Observation"]
    assert "device" not in observation and "specimen" not in observation


@pytest.mark.parametrize("builder", [helpers.r5_patient_bundle, helpers.r4_synthea_bundle])
def test_every_output_resource_validates(tmp_path: Path, builder: Any) -> None:
    outputs, runner = run(tmp_path, {"b.json": builder()}, validation="both")
    assert runner.report.quarantined == 0, runner.report.problems
    for resource in resources(outputs["b.json"]).values():
        assert _errors("R5", resource) is None or _errors("R4B", resource) is None


def test_r4b_resource_is_recognised_and_validates(tmp_path: Path) -> None:
    bundle = helpers.r5_patient_bundle()
    consent_entry = {"fullUrl": "https://x/Consent/c-r4b", "resource": helpers.r4b_consent()}
    bundle["entry"].append(consent_entry)
    outputs, runner = run(tmp_path, {"b.json": bundle}, validation="both")
    assert runner.report.versions["R4B"] == 1
    consent = [e["resource"] for e in orjson.loads(outputs["b.json"])["entry"]][-1]
    validate_output(consent, "R4B", "test")
    assert consent["provision"]["type"] == "permit"
    assert consent["patient"]["reference"].startswith("Patient/PT-")


def test_limited_data_set_keeps_dates_and_town(tmp_path: Path) -> None:
    outputs, _ = run(tmp_path, {"bundle.json": helpers.r4_synthea_bundle()},
                     policy="limited-data-set")
    out = resources(outputs["bundle.json"])
    assert out["Patient"]["birthDate"] == "1927-06-14"
    assert out["Patient"]["address"][0]["city"] == "Springfield"
    assert out["Patient"]["address"][0]["postalCode"] == "01105"
    assert "line" not in out["Patient"]["address"][0]
    assert out["Observation"]["effectiveDateTime"] == "2019-03-04T10:12:00-05:00"
    assert "name" not in out["Patient"] and "telecom" not in out["Patient"]


def test_same_input_same_output(tmp_path: Path) -> None:
    first, _ = run(tmp_path / "a", {"b.json": helpers.r4_synthea_bundle()})
    second, _ = run(tmp_path / "b", {"b.json": helpers.r4_synthea_bundle()})
    assert first == second


@pytest.mark.parametrize("bundle_type", ["searchset", "batch", "collection", "transaction"])
def test_bundle_types(tmp_path: Path, bundle_type: str) -> None:
    bundle = helpers.r5_patient_bundle()
    bundle["type"] = bundle_type
    bundle["total"] = 3
    bundle["link"] = [{"relation": "self", "url": "https://ehr.example.org/Patient?name=Wei"}]
    for entry in bundle["entry"]:
        entry["search"] = {"mode": "match"}
    outputs, runner = run(tmp_path, {"b.json": bundle})
    out = orjson.loads(outputs["b.json"])
    assert runner.report.quarantined == 0
    assert out["type"] == bundle_type and out["total"] == 3 and "link" not in out
    assert [e["search"] for e in out["entry"]] == [{"mode": "match"}] * 3
    assert b"Wei" not in outputs["b.json"]
