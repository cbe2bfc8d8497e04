"""``clinflow generate`` and ``clinflow demo`` through the real entry point."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from clinflow.audit import AuditLog
from clinflow.config import DataDir
from helpers.cli import run_cli

Capsys = pytest.CaptureFixture[str]


def test_generate_prints_the_manifest_hash_and_audits(tmp_path: Path, capsys: Capsys) -> None:
    out, data = tmp_path / "out", tmp_path / "data"
    code, stdout, stderr = run_cli(
        capsys,
        "generate",
        "--patients",
        "3",
        "--seed",
        "4",
        "--out",
        str(out),
        "--data-dir",
        str(data),
        "--fhir-version",
        "R4B",
    )
    assert code == 0, stderr
    digest = hashlib.sha256((out / "manifest.ndjson").read_bytes()).hexdigest()
    assert stdout.strip().splitlines()[-1] == f"manifest sha256 {digest}"
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["fhir_version"] == "R4B" and summary["patients"] == 3
    with AuditLog.open(DataDir.open(data)) as log:
        assert log.size >= 1


def test_demo_generates_into_the_data_dir(tmp_path: Path, capsys: Capsys) -> None:
    # `demo` now runs the whole embedded pipeline (clinflow.runtime; tests in tests/runtime/).
    data = tmp_path / "data"
    code, stdout, stderr = run_cli(
        capsys, "demo", "--data-dir", str(data), "--patients", "4", "--seed", "3"
    )
    assert code == 0, stderr
    for row in ("inputs: dicom", "NEWS2 scores", "residual PHI", "verified"):
        assert row in stdout
    summary = orjson.loads((data / "cohort" / "summary.json").read_bytes())
    assert summary["dicom_files"] > 0 and summary["patients"] == 4
    assert (data / "audit.db").exists()


def test_help_lists_generate_and_demo(capsys: Capsys) -> None:
    code, stdout, _ = run_cli(capsys, "--help")
    assert code == 0 and "generate" in stdout and "demo" in stdout
    code, _, stderr = run_cli(capsys, "generate", "--patients", "0", "--out", "x")
    assert code == 2 and "--patients" in stderr
