"""Loading Consents from folders (Bundles, Bulk ndjson); the generator's scheduled revocations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from clinflow.consent.service import ConsentService
from clinflow.errors import ConfigError

from .helpers import research_opt_in_r5


def patient_resource(fhir_id: str, mrn: str) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "id": fhir_id,
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": mrn}],
    }


def test_bulk_ndjson_folder_and_labels(service: ConsentService, tmp_path: Path) -> None:
    folder = tmp_path / "ndjson"
    folder.mkdir()
    (folder / "Patient.ndjson").write_bytes(
        b"\n".join(orjson.dumps(patient_resource(f"p{i}", f"MRN-SYN-{i}")) for i in range(3))
    )
    consents = []
    for i in range(3):
        consent = research_opt_in_r5("x", f"p{i}-consent-hresch")
        consent["subject"] = {"reference": f"Patient/p{i}"}
        consents.append(orjson.dumps(consent))
    (folder / "Consent.ndjson").write_bytes(b"\n".join(consents))
    (folder / "Observation.ndjson").write_bytes(b"not read\n")
    report = service.load(folder)
    assert report.loaded == 3 and report.rejected == []
    labels = tmp_path / "labels.json"
    labels.write_bytes(orjson.dumps({"consent_revocations": [
        {"patient": "p1", "mrn": "MRN-SYN-1", "consent": "p1-consent-hresch",
         "purpose": "HRESCH", "revoke_at": "2026-01-05T12:00:00Z"}]}))
    (scheduled,) = service.scheduled_revocations(labels)
    assert scheduled.patient == service.pseudonym_for("MRN-SYN-1")
    service.revoke(scheduled.patient, [scheduled.purpose])
    decisions = {
        i: service.status(service.pseudonym_for(f"MRN-SYN-{i}"))["decisions"]["HRESCH"]["decision"]
        for i in range(3)
    }
    assert decisions == {0: "permit", 1: "deny", 2: "permit"}
    labels.write_text("{")
    with pytest.raises(ConfigError, match="labels.json"):
        service.scheduled_revocations(labels)


@pytest.mark.slow
@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_generator_output_loads(service: ConsentService, tmp_path: Path, version: str) -> None:
    out = tmp_path / "gen"
    subprocess.run(
        [sys.executable, "-m", "clinflow", "generate", "--patients", "12", "--seed", "3",
         "--out", str(out), "--workers", "1", "--quiet", "--fhir-version", version,
         "--scenario", "synthetic/icu-ward.yaml", "--data-dir", str(tmp_path / "gen-data")],
        check=True, capture_output=True, timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    report = service.load(out / "fhir" / "ndjson")
    assert report.loaded > 0 and report.rejected == []
    again = service.load(out / "fhir" / "bundles")  # the same consents: new versions, no change
    assert again.loaded == report.loaded
    for scheduled in service.scheduled_revocations(out / "labels.json"):
        before = service.status(scheduled.patient)["decisions"][scheduled.purpose]
        assert before["decision"] == "permit" and before["source"] == "consent"
        receipt = service.revoke(scheduled.patient, [scheduled.purpose])
        assert receipt.complete
        after = service.status(scheduled.patient)["decisions"][scheduled.purpose]
        assert after["decision"] == "deny"
