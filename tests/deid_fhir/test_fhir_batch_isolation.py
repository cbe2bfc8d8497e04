"""``clinflow deid fhir`` on awkward inputs: one bad file never stops the run or loses audit.

Regression tests for issue 13 finding 4 (a file name that is not valid UTF-8 aborted the run
with ``UnicodeEncodeError`` in the quarantine) and finding 5 (a rejected document carried no
patient, so a revocation never purged it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from clinflow.cli import app
from clinflow.crypto.keys import KeyRing
from clinflow.deid.fhir.io import FhirDeidRunner
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.quarantine import Quarantine

from . import helpers

cli = CliRunner()
BAD_NAME = os.fsdecode(b"bad\xff.json")  # not valid UTF-8
ODD_NDJSON = os.fsdecode(b"good\xfe.ndjson")


def _inputs(root: Path) -> Path:
    source = root / "in"
    source.mkdir()
    bundle = helpers.r5_patient_bundle()
    (source / "ok.json").write_bytes(orjson.dumps(bundle))
    wrong_type = helpers.clone(bundle)
    wrong_type["type"] = "not-a-bundle-type"  # rejected whole, but it names its patient
    (source / BAD_NAME).write_bytes(orjson.dumps(wrong_type))
    patient, observation = (e["resource"] for e in bundle["entry"][:2])
    (source / ODD_NDJSON).write_bytes(orjson.dumps(patient) + b"\n" + orjson.dumps(observation))
    return source


def _run(tmp_path: Path, data_dir: Path) -> Any:
    return cli.invoke(app, ["deid", "fhir", str(_inputs(tmp_path)), str(tmp_path / "out"),
                            "--data-dir", str(data_dir)])


def test_undecodable_file_name_is_quarantined_for_its_patient_and_the_run_goes_on(
    tmp_path: Path, data_dir: Path
) -> None:
    result = _run(tmp_path, data_dir)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = result.output.replace("\n", " ")
    assert "quarantined: bad\\xff.json: Bundle.type missing" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(["ok.json", ODD_NDJSON])
    (item,) = Quarantine(data_dir / "quarantine.db").list()
    assert item.location == "bad\\xff.json"
    expected = Pseudonymizer(KeyRing(data_dir / "keys").project_key()).patient_pseudonym(
        "33144716"
    )
    assert item.patient == expected  # so the patient's revocation purges it
    assert "33144716" not in result.output and "Schäfer" not in result.output


def test_a_defect_on_one_file_is_quarantined_not_raised(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = FhirDeidRunner._run_json

    def breaks_on_ok(self: FhirDeidRunner, path: Path, target: Path) -> None:
        if path.name == "ok.json":
            raise RuntimeError("a bug")
        original(self, path, target)

    monkeypatch.setattr(FhirDeidRunner, "_run_json", breaks_on_ok)
    result = _run(tmp_path, data_dir)
    assert result.exit_code == 1, result.output
    reasons = {i.location: i.reason for i in Quarantine(data_dir / "quarantine.db").list()}
    assert reasons["ok.json"] == "internal error (RuntimeError); file skipped"
    assert set(reasons) == {"ok.json", "bad\\xff.json"}
    assert (tmp_path / "out" / ODD_NDJSON).exists()  # the file after it was still processed
