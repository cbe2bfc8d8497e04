"""Bad input is quarantined with a reason naming file, entry/line and field, nothing else
is lost; the CLI exits 0/1/2 by the conventions; audit events and encryption are wired."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from clinflow.cli import app
from clinflow.config import DataDir
from clinflow.crypto.datakeys import DataKeyStore
from clinflow.crypto.keys import KeyRing
from clinflow.deid.fhir.engine import DATA_KEY_SCOPE, FhirDeidentifier
from clinflow.deid.fhir.policy import parse_policy
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.quarantine import Quarantine

from . import helpers

cli = CliRunner()


def write_inputs(root: Path) -> Path:
    source = root / "in"
    (source / "ndjson").mkdir(parents=True)
    bundle = helpers.r5_patient_bundle()
    # a broken reference inside a bundle: only that entry goes to quarantine
    broken = helpers.clone(bundle["entry"][1])
    broken["resource"]["id"] = "obs-broken"
    broken["resource"]["subject"] = {"reference": "Patient/does-not-exist"}
    bundle["entry"].append(broken)
    # a resource the models reject (and that is not valid R4 either)
    bad = helpers.clone(bundle["entry"][1])
    bad["resource"]["id"] = "obs-bad"
    bad["resource"]["effectiveDateTime"] = "yesterday-ish"
    bundle["entry"].append(bad)
    (source / "bundle.json").write_bytes(orjson.dumps(bundle))
    (source / "broken.json").write_bytes(b'{"resourceType": "Bundle", "type": ')
    patient = bundle["entry"][0]["resource"]
    observation = bundle["entry"][1]["resource"]
    lines = [orjson.dumps(observation), b"{not json", orjson.dumps(observation)]
    (source / "ndjson" / "Observation.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    (source / "ndjson" / "Patient.ndjson").write_bytes(orjson.dumps(patient) + b"\n")
    return source


def test_cli_quarantines_bad_input_and_keeps_the_rest(tmp_path: Path, data_dir: Path) -> None:
    source = write_inputs(tmp_path)
    result = cli.invoke(app, ["deid", "fhir", str(source), str(tmp_path / "out"),
                              "--data-dir", str(data_dir), "--no-audit"])
    assert result.exit_code == 1, result.output
    out_bundle = orjson.loads((tmp_path / "out" / "bundle.json").read_bytes())
    assert len(out_bundle["entry"]) == 3  # patient, observation, consent survive
    ndjson = (tmp_path / "out" / "ndjson" / "Observation.ndjson").read_bytes().splitlines()
    assert len(ndjson) == 2
    assert not (tmp_path / "out" / "broken.json").exists()
    items = Quarantine(DataDir.open(data_dir).quarantine_db).list()
    reasons = {item.location: item.reason for item in items}
    assert len(items) == 4
    assert any("broken.json" in loc and "invalid JSON" in r for loc, r in reasons.items())
    assert any("Observation.ndjson:line 2" in loc and "invalid JSON" in r
               for loc, r in reasons.items())
    assert any("Bundle.entry[3]" in loc and "broken reference" in r for loc, r in reasons.items())
    assert any("Bundle.entry[4]" in loc and "effectiveDateTime" in r
               for loc, r in reasons.items())
    rejected_by_model = next(i for i in items if "Bundle.entry[4]" in i.location)
    assert rejected_by_model.patient == Pseudonymizer(
        KeyRing(DataDir.open(data_dir).keys).project_key()).patient_pseudonym("33144716")
    for reason in reasons.values():  # never PHI in reasons
        assert "33144716" not in reason and "Schäfer" not in reason


def test_cli_clean_input_exits_zero_and_audits(tmp_path: Path, data_dir: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "b.json").write_bytes(orjson.dumps(helpers.r5_patient_bundle()))
    result = cli.invoke(app, ["deid", "fhir", str(source), str(tmp_path / "out"),
                              "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output.strip().splitlines()[-1])
    assert report["resources_out"] == 3 and report["quarantined"] == 0
    from clinflow.audit.log import AuditLog

    pseudonym = KeyRing(DataDir.open(data_dir).keys).project_key()
    expected = Pseudonymizer(pseudonym).patient_pseudonym("33144716")
    with AuditLog.open(DataDir.open(data_dir)) as log:
        assert log.size == 1
        entry = orjson.loads(log.get_entry(0) or b"{}")
    assert entry["patient"]["reference"] == f"Patient/{expected}"
    assert b"33144716" not in orjson.dumps(entry)  # pseudonyms only


def test_cli_usage_errors_exit_two(tmp_path: Path, data_dir: Path) -> None:
    bad_policy = tmp_path / "p.yaml"
    bad_policy.write_text("name: p\nrules:\n  - {id: x, path: Patient.name, method: nope}\n")
    (tmp_path / "in.json").write_bytes(orjson.dumps(helpers.r5_patient_bundle()))
    import pytest

    from clinflow.cli import main

    for argv in (["deid", "fhir", str(tmp_path / "in.json"), str(tmp_path / "o"),
                  "--policy", str(bad_policy), "--data-dir", str(data_dir)],
                 ["deid", "fhir", str(tmp_path / "missing"), str(tmp_path / "o"),
                  "--data-dir", str(data_dir)]):
        with pytest.raises(SystemExit) as caught:
            import sys

            old = sys.argv
            sys.argv = ["clinflow", *argv]
            try:
                main()
            finally:
                sys.argv = old
        assert caught.value.code == 2


def test_encrypt_uses_the_patients_data_key(tmp_path: Path, data_dir: Path) -> None:
    deployment = DataDir.open(data_dir)
    keys = KeyRing(deployment.keys)
    store = DataKeyStore(deployment.root / "datakeys.db", keys.master_key())
    policy = parse_policy("name: e\nrules:\n"
                          "  - {path: Patient.telecom.value, method: encrypt}\n"
                          "  - {path: Patient.telecom.system, method: keep}\n")
    pseudonymizer = Pseudonymizer(keys.project_key())
    engine = FhirDeidentifier(policy, pseudonymizer, sealer=lambda p, d, a: store.seal(
        p, DATA_KEY_SCOPE, d, a))
    patient = helpers.r5_patient_bundle()["entry"][0]["resource"]
    out, report = engine.deidentify_resource(patient)
    token = out["telecom"][0]["value"]
    assert token.startswith("enc:v1:") and "555" not in token
    raw = base64.b64decode(token.removeprefix("enc:v1:"))
    assert store.open(raw, b"Patient.telecom.value") == b"(312) 555-0196"
    store.destroy(report.pseudonym or "")  # crypto-shredding: unreadable afterwards
    import pytest

    from clinflow.errors import KeyError_

    with pytest.raises(KeyError_):
        store.open(raw, b"Patient.telecom.value")
    store.close()


def test_shallow_validation_refuses_unknown_types_ids_and_elements() -> None:
    from clinflow.deid.fhir.io import validate_shallow
    from clinflow.errors import InputRejected

    good = {"resourceType": "Observation", "id": "o-1", "status": "final",
            "code": {"text": "x"}, "_status": {"extension": []}}  # fmt: skip
    assert validate_shallow(good, "f ") == "R5"
    bad_cases = [
        ({**good, "resourceType": "Observaton"}, "unknown resourceType"),
        ({**good, "id": "has spaces"}, "id is not a FHIR id"),
        ({**good, "race": "2106-3"}, "element not defined"),
    ]
    for resource, reason in bad_cases:
        with pytest.raises(InputRejected, match=reason) as caught:
            validate_shallow(resource, "f ")
        assert "2106-3" not in str(caught.value)
