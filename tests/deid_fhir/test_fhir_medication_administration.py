"""MedicationAdministration (pump records, vasoactive infusions: issue 19) under Safe Harbor,
R5 and R4: what research needs stays (drug, rate, status, shifted times, hashed references),
what names a person goes (displays, free text in notes and dosage text), output validates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.deid.fhir.engine import build_fhir_deidentifier
from clinflow.deid.fhir.io import FhirDeidRunner
from clinflow.deid.pseudonym import Pseudonymizer

KEY = bytes(range(32))


def run(tmp_path: Path, documents: dict[str, Any]) -> tuple[dict[str, bytes], FhirDeidRunner]:
    """De-identify ``documents`` (file name -> resource) as `clinflow deid fhir` does, both
    validations on; the output files by name."""
    source = tmp_path / "in"
    source.mkdir(parents=True)
    for name, document in documents.items():
        (source / name).write_bytes(orjson.dumps(document))
    runner = FhirDeidRunner(build_fhir_deidentifier(Pseudonymizer(KEY)), validation="both")
    runner.run(source, tmp_path / "out")
    return {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}, runner

PATIENT = {"resourceType": "Patient", "id": "p-ma", "name": [{"family": "Quillfeather",
           "given": ["Odalys"]}], "identifier": [{"type": {"coding": [{"code": "MR"}]},
           "value": "MRN-558201"}], "birthDate": "1950-03-04"}  # fmt: skip
RATE = {"value": 0.12, "unit": "ug/kg/min", "system": "http://unitsofmeasure.org",
        "code": "ug/kg/min"}  # fmt: skip
NOREPI = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7512",
                      "display": "norepinephrine"}]}  # fmt: skip


def _r5() -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration", "id": "ma-1", "status": "in-progress",
        "medication": {"concept": NOREPI},
        "subject": {"reference": "Patient/p-ma", "display": "Odalys Quillfeather"},
        "occurenceDateTime": "2031-05-01T10:00:00Z",
        "performer": [{"actor": {"reference": {"reference": "Practitioner/pr-9",
                                                "display": "Dr. Ignatius Vell"}}}],
        "note": [{"text": "Titrated by Ignatius Vell, MAP 62, wife Marisol at bedside"}],
        "dosage": {"text": "norepinephrine for Odalys Quillfeather 0.12 mcg/kg/min",
                   "route": {"text": "IV"}, "rateQuantity": RATE},
    }  # fmt: skip


def _r4() -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration", "id": "ma-2", "status": "completed",
        "medicationCodeableConcept": NOREPI,
        "subject": {"reference": "Patient/p-ma", "display": "Odalys Quillfeather"},
        "effectivePeriod": {"start": "2031-05-01T10:00:00Z", "end": "2031-05-01T11:00:00Z"},
        "performer": [{"actor": {"reference": "Practitioner/pr-9", "display": "Ignatius Vell"}}],
        "dosage": {"text": "per Dr Vell", "rateQuantity": RATE},
    }  # fmt: skip


@pytest.mark.parametrize("make", [_r5, _r4])
def test_research_keeps_the_infusion_and_loses_the_people(make: Any, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": PATIENT}, {"resource": make()}]}  # fmt: skip
    outputs, runner = run(tmp_path, {"b.json": bundle})
    assert runner.report.quarantined == 0, runner.report.problems
    text = outputs["b.json"].decode()
    for phi in ("Quillfeather", "Odalys", "Ignatius", "Vell", "Marisol", "MRN-558201", "p-ma",
                "pr-9", "2031-05-01"):  # fmt: skip
        assert phi not in text, phi
    resources = [entry["resource"] for entry in orjson.loads(text)["entry"]]
    (administration,) = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    assert administration["status"] in ("in-progress", "completed")
    assert "7512" in orjson.dumps(administration).decode()  # the drug
    assert administration["dosage"]["rateQuantity"] == RATE  # the rate scoring and research use
    assert administration["subject"]["reference"].startswith("Patient/")  # hashed, still linked
    shifted = administration.get("occurenceDateTime") or administration["effectivePeriod"]["start"]
    assert shifted[:4].isdigit() and not shifted.startswith("2031-05-01")
