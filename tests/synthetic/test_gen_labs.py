"""Lab results in the generated files: laboratory Observations (LOINC, UCUM) that validate in
R5 and R4B, their planted dates resolve, the same bytes for a seed whatever the workers, and
a cohort without labs is byte-for-byte what it was (the labs phase draws from its own RNG)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import orjson
import pytest
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.manifest import PhiKind, read_manifest
from clinflow.synthetic.scenario import Scenario

from .helpers import resolve_fhir

LABS = Scenario(
    name="test-labs",
    vitals_hours=12,
    vitals_interval_minutes=60,
    deterioration_fraction=0.5,
    imaging_fraction=0.0,
    labs_interval_hours=4,
    duplicate_registration_fraction=0.5,  # stream only: the files keep one Patient each
)


def _build(out: Path, workers: int = 1, **changes: object) -> dict[str, object]:
    scenario = LABS.model_copy(update=changes) if changes else LABS
    return generate(GenerateOptions(patients=5, seed=21, out=out, scenario=scenario,
                                    workers=workers, chunk_size=2))  # fmt: skip


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _labs(root: Path) -> list[dict[str, object]]:
    lines = (root / "fhir" / "ndjson" / "Observation.ndjson").read_bytes().splitlines()
    return [
        o for o in map(orjson.loads, lines)
        if o["category"][0]["coding"][0]["code"] == "laboratory"
    ]  # fmt: skip


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_lab_observations_validate_and_their_dates_resolve(tmp_path: Path, version: str) -> None:
    summary = _build(tmp_path, fhir_version=version)
    labs = _labs(tmp_path)
    model = (r5_model if version == "R5" else r4b_model)("Observation")
    for resource in labs:
        model.model_validate(resource)
    codes = Counter(o["code"]["coding"][0]["code"] for o in labs)  # type: ignore[index]
    draws = codes["2524-7"]
    assert draws >= 5 * 3 and set(codes.values()) == {draws}  # every draw has all five
    assert set(codes) == {"2524-7", "2160-0", "6690-2", "777-3", "1975-2"}
    units = {o["valueQuantity"]["code"] for o in labs}  # type: ignore[index]
    assert units == {"mmol/L", "mg/dL", "10*3/uL"}
    patients = (tmp_path / "fhir" / "ndjson" / "Patient.ndjson").read_bytes().splitlines()
    assert len(patients) == 5  # duplicate registrations are not in the files
    planted = [e for e in read_manifest(tmp_path / "manifest.ndjson")
               if "lab draw" in e.detail]  # fmt: skip
    assert planted and all(e.kind is PhiKind.DATE for e in planted)
    for entry in planted:
        assert resolve_fhir(tmp_path, entry) == entry.value
    assert summary["resources"]["Observation"] > len(labs)  # type: ignore[index]


def test_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    _build(tmp_path / "one", workers=1)
    _build(tmp_path / "two", workers=2)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


def test_without_labs_the_rest_of_the_cohort_is_unchanged(tmp_path: Path) -> None:
    _build(tmp_path / "labs")
    _build(tmp_path / "plain", labs_interval_hours=0.0, duplicate_registration_fraction=0.0)
    assert not _labs(tmp_path / "plain")
    with_labs = (tmp_path / "labs" / "fhir" / "ndjson" / "Observation.ndjson").read_bytes()
    plain = (tmp_path / "plain" / "fhir" / "ndjson" / "Observation.ndjson").read_bytes()
    kept = [line for line in with_labs.splitlines() if b'"laboratory"' not in line]
    assert kept == plain.splitlines()
    for name in ("Patient", "Encounter", "Consent", "DocumentReference"):
        assert (tmp_path / "labs" / "fhir" / "ndjson" / f"{name}.ndjson").read_bytes() == (
            tmp_path / "plain" / "fhir" / "ndjson" / f"{name}.ndjson"
        ).read_bytes()
    labels = [orjson.loads((tmp_path / k / "labels.json").read_bytes()) for k in ("labs", "plain")]
    assert labels[0] == labels[1]
