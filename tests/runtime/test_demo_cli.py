"""``clinflow demo`` through the real entry point: JSON report, re-runs, exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.deid.leaks import scanner as leaks
from clinflow.runtime import DemoReport
from helpers.cli import run_cli

Capsys = pytest.CaptureFixture[str]
TINY = ("--patients", "3", "--seed", "1")


def test_demo_json_rerun_and_audit_verify(data_dir: Path, capsys: Capsys) -> None:
    code, stdout, stderr = run_cli(capsys, "demo", "--data-dir", str(data_dir), "--json", *TINY)
    assert code == 0, stderr
    first = orjson.loads(stdout)
    assert first["ok"] and first["leaks"]["residual_phi"] == 0
    assert orjson.loads((data_dir / "demo-report.json").read_bytes()) == first
    keys = sorted(p.name for p in (data_dir / "keys").iterdir())

    code, stdout, stderr = run_cli(capsys, "demo", "--data-dir", str(data_dir), "--json", *TINY)
    assert code == 0, stderr
    second = orjson.loads(stdout)
    assert second["ok"], second["reason"]
    # same keys, same cohort: every input is a duplicate of the first run (idempotent by
    # content) and the deployment's stores still hold exactly what the first run left
    assert sorted(p.name for p in (data_dir / "keys").iterdir()) == keys
    assert second["inputs"] == first["inputs"]
    assert second["duplicates_skipped"] == sum(first["inputs"].values())
    assert second["research"]["released_total"] == 0 and second["scoring"]["scores"] == 0
    held = first["research"]["held_after_revocation"]
    assert second["research"]["held_after_revocation"] == held
    assert second["leaks"]["residual_phi"] == 0
    assert second["audit"]["entries"] > first["audit"]["entries"]  # one log, still verifying

    code, stdout, stderr = run_cli(capsys, "consent", "status", "--data-dir", str(data_dir),
                                   "--json")  # fmt: skip
    assert code == 0, stderr
    assert len(orjson.loads(stdout)) == 3  # the demo's patients, in the deployment's registry

    code, stdout, stderr = run_cli(capsys, "audit", "verify", "--data-dir", str(data_dir))
    assert code == 0, stderr


def test_table_output_names_stages(data_dir: Path, capsys: Capsys) -> None:
    code, stdout, stderr = run_cli(capsys, "demo", "--data-dir", str(data_dir), *TINY)
    assert code == 0, stderr
    for row in ("inputs: dicom", "HRESCH permit / deny", "NEWS2 scores / alerts",
                "residual PHI (research)", "entries / checkpoints", "total"):  # fmt: skip
        assert row in stdout
    assert "quarantined fhir/bundles/zz-truncated.json: invalid JSON" in stderr
    assert "Traceback" not in stdout + stderr


def test_residual_phi_fails_the_demo_with_one_line(
    data_dir: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_scan = leaks.scan

    def leaky_scan(
        manifest: Path, output_dir: Path, offsets: Callable[[str], int] | None = None
    ) -> leaks.LeakReport:
        report = real_scan(manifest, output_dir, offsets)
        report.findings.append(leaks.Finding("name", "fhir/bundles/x.json", "text", "exact"))
        return report

    monkeypatch.setattr(leaks, "scan", leaky_scan)
    code, stdout, stderr = run_cli(
        capsys, "demo", "--data-dir", str(data_dir), "--json", "--no-bad-inputs", *TINY
    )
    assert code == 1
    # the kind, never the value: a failing run says what to look for
    assert stderr.strip() == "demo check failed: residual PHI in research releases: 1 (name 1)"
    assert orjson.loads(stdout)["quarantined"]["at_ingest"] == 0


@given(
    residual=st.integers(0, 3),
    violations=st.integers(0, 3),
    remaining=st.integers(0, 3),
    verified=st.booleans(),
    complete=st.booleans(),
)
def test_ok_only_when_every_check_passes(
    residual: int, violations: int, remaining: int, verified: bool, complete: bool
) -> None:
    report = DemoReport(patients=1, seed=0, residual_phi=residual,
                        consent_violations=violations, revoked_research_remaining=remaining,
                        audit_verified=verified)  # fmt: skip
    report.receipts.append({"complete": complete})
    report.finish()
    expected = residual == 0 and violations == 0 and remaining == 0 and verified and complete
    assert report.ok is expected
    assert (report.reason is None) is expected
