"""Vasopressor infusions in the generated files: septic patients' norepinephrine pump records
as MedicationAdministration that validate in R5 and R4B, planted dates that resolve, the same
bytes whatever the workers, nothing unless the scenario asks, and records the ICU scoring
reads (after the minimum-necessary stage) into a SOFA cardiovascular component of 3-4."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
from clinflow.scoring.policy import cached_policy
from clinflow.scoring.service import ScoringService
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.manifest import read_manifest
from clinflow.synthetic.scenario import Scenario, load_scenario

from .helpers import resolve_fhir

SEPTIC = Scenario(
    name="test-infusions",
    vitals_hours=24,
    vitals_interval_minutes=60,
    deterioration_fraction=0.6,
    deterioration_patterns=("sepsis",),
    imaging_fraction=0.0,
    labs_interval_hours=6,
    vasopressor_record_minutes=60,
)


def _build(out: Path, workers: int = 1, **changes: object) -> dict[str, Any]:
    scenario = SEPTIC.model_copy(update=changes) if changes else SEPTIC
    return generate(GenerateOptions(patients=5, seed=21, out=out, scenario=scenario,
                                    workers=workers, chunk_size=2))  # fmt: skip


def _ndjson(root: Path, kind: str) -> list[dict[str, Any]]:
    path = root / "fhir" / "ndjson" / f"{kind}.ndjson"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_administrations_validate_and_their_dates_resolve(tmp_path: Path, version: str) -> None:
    _build(tmp_path, fhir_version=version)
    administrations = _ndjson(tmp_path, "MedicationAdministration")
    assert administrations
    model = (r5_model if version == "R5" else r4b_model)("MedicationAdministration")
    for resource in administrations:
        model.model_validate(resource)
        assert resource["dosage"]["rateQuantity"]["code"] == "ug/kg/min"
        assert 0.05 <= resource["dosage"]["rateQuantity"]["value"] <= 0.35
    statuses = {r["status"] for r in administrations}
    assert statuses == {"in-progress", "completed"}
    planted = [e for e in read_manifest(tmp_path / "manifest.ndjson")
               if "infusion record" in e.detail]  # fmt: skip
    assert planted
    for entry in planted:
        assert resolve_fhir(tmp_path, entry) == entry.value


def test_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    _build(tmp_path / "one", workers=1)
    _build(tmp_path / "two", workers=2)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


def test_nothing_unless_the_scenario_asks_and_other_phases_unchanged(tmp_path: Path) -> None:
    _build(tmp_path / "on")
    _build(tmp_path / "off", vasopressor_record_minutes=0)
    assert not _ndjson(tmp_path / "off", "MedicationAdministration")
    for kind in ("Patient", "Observation", "Encounter"):
        on = (tmp_path / "on" / "fhir" / "ndjson" / f"{kind}.ndjson").read_bytes()
        assert on == (tmp_path / "off" / "fhir" / "ndjson" / f"{kind}.ndjson").read_bytes()


def test_the_icu_labs_scenario_asks_for_infusions() -> None:
    scenario = load_scenario(Path(__file__).parents[2] / "synthetic" / "icu-labs.yaml")
    assert scenario.vasopressor_record_minutes > 0


def test_generated_records_score_the_cardiovascular_component(tmp_path: Path) -> None:
    _build(tmp_path)
    stage = MinimumNecessaryStage(cached_policy().endpoints["icu"])
    administrations = _ndjson(tmp_path, "MedicationAdministration")
    patient = administrations[0]["subject"]["reference"]
    resources = [
        r for kind in ("Observation", "MedicationAdministration") for r in _ndjson(tmp_path, kind)
        if r["subject"]["reference"] == patient
    ]  # fmt: skip
    kept = [k for k in (stage.strip_resource(r)[0] for r in resources) if k is not None]
    for resource in kept:  # the pseudonym the treatment path writes (runtime TreatmentSelect)
        resource["subject"] = {"reference": "Patient/PT-0123456789abcdef"}
    assert any(k["resourceType"] == "MedicationAdministration" for k in kept)

    def when(resource: dict[str, Any]) -> str:
        return str(resource.get("effectiveDateTime") or resource.get("occurenceDateTime"))

    scores = ScoringService().ingest_many(sorted(kept, key=when))
    last = scores[-1].to_json()["sofa_labs"]["cardiovascular"]
    assert last["points"] in (3, 4) and last["infusions"][0]["medication"] == "norepinephrine"
