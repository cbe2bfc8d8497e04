"""Condition, MedicationRequest, DiagnosticReport, Claim and ExplanationOfBenefit: valid R5 and
R4B (fhir.resources), linked to each other and to the patient, identifiers in the manifest."""

from __future__ import annotations

import base64
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from clinflow.synthetic.manifest import PhiKind, read_manifest

from .helpers import build

NEW_TYPES = ("Condition", "MedicationRequest", "DiagnosticReport", "Claim", "ExplanationOfBenefit")


@pytest.fixture(scope="module", params=["R5", "R4B"])
def cohort(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"clinical-{request.param}")
    build(out, fhir_version=request.param)
    return out


def _resources(cohort: Path, kind: str) -> list[dict[str, Any]]:
    path = cohort / "fhir" / "ndjson" / f"{kind}.ndjson"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_every_new_resource_validates(cohort: Path) -> None:
    version = orjson.loads((cohort / "summary.json").read_bytes())["fhir_version"]
    model_of = r5_model if version == "R5" else r4b_model
    patients = len(_resources(cohort, "Patient"))
    for kind in NEW_TYPES:
        lines = (cohort / "fhir" / "ndjson" / f"{kind}.ndjson").read_bytes().splitlines()
        assert len(lines) >= patients, kind
        model = model_of(kind)
        for line in lines:
            model.model_validate_json(line)


def test_references_resolve_within_the_record(cohort: Path) -> None:
    ids = {
        f"{kind}/{resource['id']}"
        for kind in ("Patient", "Encounter", *NEW_TYPES)
        for resource in _resources(cohort, kind)
    }
    member_ids = {
        f"Patient/{p['id']}": next(i["value"] for i in p["identifier"]
                                   if i["type"]["coding"][0]["code"] == "MB")
        for p in _resources(cohort, "Patient")
    }  # fmt: skip
    for request in _resources(cohort, "MedicationRequest"):
        reasons = request.get("reasonReference") or [r["reference"] for r in request["reason"]]
        assert {r["reference"] for r in reasons} <= ids
        assert {request["subject"]["reference"], request["encounter"]["reference"]} <= ids
    for kind in ("Claim", "ExplanationOfBenefit"):
        for resource in _resources(cohort, kind):
            patient = resource["patient"]["reference"]
            coverage = resource["insurance"][0]["coverage"]["identifier"]["value"]
            assert coverage == member_ids[patient]
    for eob in _resources(cohort, "ExplanationOfBenefit"):
        assert eob["claim"]["reference"] in ids


def test_report_text_is_a_note_with_planted_spans(cohort: Path) -> None:
    spans: dict[str, list[tuple[str, str]]] = defaultdict(list)
    planted: dict[str, set[PhiKind]] = defaultdict(set)
    for entry in read_manifest(cohort / "manifest.ndjson"):
        reference, _, path = entry.location.partition("#")
        planted[reference.split("/")[0]].add(entry.kind)
        if "@" in path and reference.startswith("DiagnosticReport/"):
            spans[reference].append((path, entry.value))
    for report in _resources(cohort, "DiagnosticReport"):
        text = base64.b64decode(report["presentedForm"][0]["data"]).decode("utf-8")
        reference = f"DiagnosticReport/{report['id']}"
        for path, value in spans[reference]:
            where, _, span = path.partition("@")
            start, end = (int(n) for n in span.split("-"))
            source = text if where.startswith("presentedForm") else report["conclusion"]
            assert source[start:end] == value
        assert {p.split("@")[0] for p, _ in spans[reference]} == {
            "conclusion", "presentedForm[0].data"
        }
    # every new type plants identifiers and dates; billing also the member and account ids
    for kind in NEW_TYPES:
        assert {PhiKind.OTHER_ID, PhiKind.DATE} <= planted[kind], kind
    assert {PhiKind.HEALTH_PLAN, PhiKind.ACCOUNT, PhiKind.INSTITUTION} <= planted["Claim"]
