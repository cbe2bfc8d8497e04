"""The FHIR de-identification stage on a stream: the engine's index keeps what later messages
need (patients) and forgets what only resolves inside one Bundle (fullUrls), so memory does
not grow with the stream; a later message still resolves its patient."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson

from clinflow.deid.fhir.engine import FhirDeidentifier
from clinflow.deid.fhir.io import FhirDeidRunner
from clinflow.deid.fhir.policy import load_policy
from clinflow.deid.fhir.stage import FhirDeidStage
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.envelope import SourceKind, source_input

BASE = "https://ehr.example.org/fhir"
PATIENT = {"resourceType": "Patient", "id": "p1",
           "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MRN-0001"}]}  # fmt: skip


def _entry(resource: dict[str, object]) -> dict[str, object]:
    relative = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": f"{BASE}/{relative}", "resource": resource,
            "request": {"method": "PUT", "url": relative}}  # fmt: skip


def _vitals(number: int) -> dict[str, object]:
    observations = [
        {"resourceType": "Observation", "id": f"o{number}-{code}", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
         "subject": {"reference": "Patient/p1"},
         "effectiveDateTime": f"2026-01-01T{number % 24:02d}:00:00Z",
         "valueQuantity": {"value": 80, "unit": "/min"}}
        for code in ("8867-4", "9279-1", "59408-5")
    ]  # fmt: skip
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [_entry(o) for o in observations]}  # fmt: skip


def _envelope(document: dict[str, object]) -> object:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return source_input(orjson.dumps(document), SourceKind.FHIR, at, "stream", "fhir-json")


def test_bundle_full_urls_are_forgotten_and_patients_kept() -> None:
    engine = FhirDeidentifier(load_policy("safe-harbor"), Pseudonymizer(bytes(range(32))),
                              as_of=date(2026, 1, 1))  # fmt: skip
    stage = FhirDeidStage(FhirDeidRunner(engine, validation="shallow"))
    admission = {"resourceType": "Bundle", "type": "transaction", "entry": [_entry(PATIENT)]}
    stage.process(_envelope(admission))  # type: ignore[arg-type]
    for number in range(200):
        [released] = stage.process(_envelope(_vitals(number)))  # type: ignore[arg-type]

    assert list(engine.index.full_urls) == [f"{BASE}/Patient/p1"]  # 600 entries seen
    assert engine.index.has_patient("p1")
    document = orjson.loads(released.payload)  # the last one still found its patient
    subjects = {e["resource"]["subject"]["reference"] for e in document["entry"]}
    assert subjects == {f"Patient/{engine.pseudonymizer.patient_pseudonym('MRN-0001')}"}
    assert stage.runner.report.problems == []
