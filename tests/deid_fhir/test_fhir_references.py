"""Issue 13 finding 9: unresolved and invalid FHIR references are rejected, never rewritten.

``#nope`` (no contained resource has that id) and ``../../../../etc/passwd`` (not a FHIR
reference) used to become ``#<hash>`` / ``Resource/<hash>``, and the Observation silently lost
its patient link. Now the resource is quarantined with an error naming the file, the entry,
the resource and the field, never the value; the rest of the Bundle is still written.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.deid.fhir.engine import FhirDeidentifier, build_fhir_deidentifier
from clinflow.deid.fhir.io import FhirDeidRunner
from clinflow.deid.pseudonym import Pseudonymizer

from . import helpers

KEY = bytes(range(32))


def _engine() -> FhirDeidentifier:
    return build_fhir_deidentifier(Pseudonymizer(KEY), as_of=date(2026, 1, 1))


def _run(tmp_path: Path, bundle: dict[str, Any]) -> tuple[dict[str, Any], FhirDeidRunner]:
    source = tmp_path / "in"
    source.mkdir()
    (source / "bundle.json").write_bytes(orjson.dumps(bundle))
    runner = FhirDeidRunner(_engine(), validation="both")
    runner.run(source, tmp_path / "out")
    return orjson.loads((tmp_path / "out" / "bundle.json").read_bytes()), runner


def _with_subject(reference: str) -> dict[str, Any]:
    bundle = helpers.r5_patient_bundle()
    bundle["entry"][1]["resource"]["subject"] = {"reference": reference}
    return bundle


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("#nope", "unresolved reference: no contained resource has this id"),
        ("../../../../etc/passwd", "invalid reference"),
        ("Patient/pat-1/../../../etc/passwd", "invalid reference"),
        ("Observation/..", "invalid reference"),
        ("not a reference", "invalid reference"),
    ],
)
def test_unresolved_or_invalid_reference_quarantines_the_resource(
    tmp_path: Path, reference: str, reason: str
) -> None:
    out, runner = _run(tmp_path, _with_subject(reference))
    assert runner.report.quarantined == 1
    [problem] = runner.report.problems
    assert problem.startswith("bundle.json Bundle.entry[1] Observation ")
    assert "Observation.subject.reference" in problem and reason in problem
    assert reference not in problem  # the value is never echoed
    # nothing else lost: the Patient and the Consent are written, no Resource/<hash> appears
    assert [e["resource"]["resourceType"] for e in out["entry"]] == ["Patient", "Consent"]
    assert b"Resource/" not in orjson.dumps(out)


def test_a_contained_reference_that_resolves_is_kept_consistent(tmp_path: Path) -> None:
    bundle = helpers.r5_patient_bundle()
    observation = bundle["entry"][1]["resource"]
    observation["contained"] = [{"resourceType": "Device", "id": "dev1", "status": "active"}]
    observation["device"] = {"reference": "#dev1"}
    observation["focus"] = [{"reference": "#"}]  # the container itself: valid
    engine = _engine()
    engine.index.add_all([(e["resource"], e["fullUrl"]) for e in bundle["entry"]])
    out, _ = engine.deidentify_resource(copy.deepcopy(observation), "x.json ")
    assert out["subject"]["reference"].startswith("Patient/PT-")


def test_contained_siblings_may_reference_each_other() -> None:
    engine = _engine()
    bundle = helpers.r5_patient_bundle()
    engine.index.add_all([(e["resource"], e["fullUrl"]) for e in bundle["entry"]])
    encounter = {
        "resourceType": "Encounter", "id": "e1", "status": "completed",
        "subject": {"reference": "Patient/pat-1"},
        "contained": [
            {"resourceType": "Location", "id": "loc", "partOf": {"reference": "#org"}},
            {"resourceType": "Location", "id": "org"},
        ],
        "location": [{"location": {"reference": "#loc"}}],
    }  # fmt: skip
    engine.deidentify_resource(encounter, "e.json ")  # no InputRejected


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/pat-1",
        "https://clinflow.example/fhir/Patient/pat-1",
        "Patient/pat-1/_history/2",
        "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999939",
        "urn:oid:1.2.840.113619.2.55",
    ],
)
def test_every_valid_reference_form_is_still_rewritten(reference: str) -> None:
    engine = _engine()
    bundle = helpers.r5_patient_bundle()
    engine.index.add_all([(e["resource"], e["fullUrl"]) for e in bundle["entry"]])
    mapped = engine.map_reference(reference, "f.json Observation.subject.reference")
    assert mapped != reference and "pat-1" not in mapped and "9999999939" not in mapped
    assert not mapped.startswith("Resource/")


def test_a_symlink_loop_in_the_input_folder_is_an_input_error(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "bundle.json").write_bytes(orjson.dumps(helpers.r5_patient_bundle()))
    (source / "loop.json").symlink_to(source / "loop.json")
    runner = FhirDeidRunner(_engine(), validation="input")
    runner.run(source, tmp_path / "out")
    assert runner.report.files == 1 and runner.report.resources_out == 3
    assert runner.report.quarantined == 1 and runner.report.failed
    assert runner.report.problems == ["loop.json: symbolic link loop (not followed)"]
