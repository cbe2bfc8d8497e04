"""The generator's clinical and billing resources (Condition, MedicationRequest,
DiagnosticReport, Claim, ExplanationOfBenefit) under safe-harbor, R5 and R4B: every resource
still validates, none is quarantined, the leak scanner finds none of their planted PHI, and
what is not PHI (codes, amounts, links) is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.deid.fhir.engine import build_fhir_deidentifier
from clinflow.deid.fhir.io import FhirDeidRunner
from clinflow.deid.leaks.scanner import scan
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.manifest import read_manifest
from clinflow.synthetic.scenario import Scenario

KEY = bytes(range(32))
NEW_TYPES = ("Condition", "MedicationRequest", "DiagnosticReport", "Claim", "ExplanationOfBenefit")


@pytest.fixture(scope="module", params=["R5", "R4B"])
def deidentified(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    cohort = tmp_path_factory.mktemp(f"cohort-{request.param}")
    scenario = Scenario(imaging_fraction=0.0, vitals_hours=2.0, fhir_version=request.param)
    generate(GenerateOptions(patients=8, seed=21, out=cohort, scenario=scenario, workers=1))
    out = tmp_path_factory.mktemp(f"deid-{request.param}")
    report = FhirDeidRunner(build_fhir_deidentifier(Pseudonymizer(KEY)), validation="both").run(
        cohort / "fhir" / "bundles", out / "fhir" / "bundles"
    )
    assert report.quarantined == 0, report.problems
    return cohort, out


def _resources(root: Path, kind: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted((root / "fhir" / "bundles").glob("*.json")):
        for entry in orjson.loads(path.read_bytes())["entry"]:
            if entry["resource"]["resourceType"] == kind:
                found.append(entry["resource"])
    return found


def test_no_planted_phi_of_the_new_types_survives(deidentified: tuple[Path, Path]) -> None:
    cohort, out = deidentified
    report = scan(cohort / "manifest.ndjson", out)
    assert report.files_scanned == 8 and report.files_absent == 0
    new_type_entries = [
        entry for entry in read_manifest(cohort / "manifest.ndjson")
        if entry.location.split("/")[0] in NEW_TYPES
    ]  # fmt: skip
    assert len(new_type_entries) > 8 * 10
    # Ages over 89 are searched as bare numbers anywhere (vital signs match); all else is gone.
    residual = [f for f in report.findings if f.kind != "age_over_89"]
    assert residual == []


def test_what_is_not_phi_is_kept(deidentified: tuple[Path, Path]) -> None:
    cohort, out = deidentified
    for kind in NEW_TYPES:
        before, after = _resources(cohort, kind), _resources(out, kind)
        assert len(after) == len(before) > 0, kind
    for original, clean in zip(_resources(cohort, "Claim"), _resources(out, "Claim"),
                               strict=True):  # fmt: skip
        assert clean["total"] == original["total"]
        assert [i["productOrService"] for i in clean["item"]] == [
            i["productOrService"] for i in original["item"]
        ]
        assert clean["diagnosis"] == original["diagnosis"]
        member = clean["insurance"][0]["coverage"]["identifier"]["value"]
        assert member != original["insurance"][0]["coverage"]["identifier"]["value"]
        assert "display" not in clean["provider"]
    for original, clean in zip(_resources(cohort, "Condition"), _resources(out, "Condition"),
                               strict=True):  # fmt: skip
        assert clean["code"] == original["code"]
        assert clean["recordedDate"] != original["recordedDate"]  # shifted
    for clean in _resources(out, "DiagnosticReport"):
        assert clean["presentedForm"][0]["data"] and clean["conclusion"]
    eobs = _resources(out, "ExplanationOfBenefit")
    claims = {f"Claim/{claim['id']}" for claim in _resources(out, "Claim")}
    assert {eob["claim"]["reference"] for eob in eobs} <= claims  # links survive hashing
