"""``clinflow deid dicom`` and ``clinflow leaks`` end to end on a small generated corpus."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinflow.cli import app
from clinflow.quarantine import Quarantine

runner = CliRunner()


def test_deid_then_leaks_is_clean_and_audited(
    tmp_path: Path, data_dir: Path, small_corpus: tuple[Path, Path, int]
) -> None:
    source, manifest, files = small_corpus
    out = tmp_path / "out"
    result = runner.invoke(app, ["deid", "dicom", str(source), str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["files"] == files == report["deidentified"]
    assert report["burned_in_masked"] > 0
    leaks = runner.invoke(app, ["leaks", "--manifest", str(manifest), str(out), "--json"])
    assert leaks.exit_code == 0, leaks.output
    scan = json.loads(leaks.output)
    assert scan["residual"] == 0
    assert scan["scorecard_overall"] == 1.0
    with sqlite3.connect(data_dir / "audit.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        entries = max(
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608
            for t in tables
            if "entr" in t or "leaf" in t or t.endswith("audit")
        )
    assert entries >= files  # one de-identification event per file


def test_leaks_finds_residual_phi_in_untouched_files(
    tmp_path: Path, data_dir: Path, small_corpus: tuple[Path, Path, int]
) -> None:
    source, manifest, _ = small_corpus
    result = runner.invoke(app, ["leaks", "--manifest", str(manifest), str(source)])
    assert result.exit_code == 1
    assert "residual PHI" in result.output
    # default output names kind, file and location, never the value
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    name = next(e["value"] for e in entries if e["location"] == "(0010,0010)")
    assert name not in result.output
    shown = runner.invoke(
        app, ["leaks", "--manifest", str(manifest), str(source), "--show-values", "--json"]
    )
    assert name in shown.output


def test_bad_inputs_are_quarantined_and_listed(
    tmp_path: Path, data_dir: Path, small_corpus: tuple[Path, Path, int]
) -> None:
    source, _, _ = small_corpus
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    good = next(source.rglob("*.dcm"))
    (mixed / "good.dcm").write_bytes(good.read_bytes())
    (mixed / "notes.txt").write_text("not dicom", encoding="utf-8")
    (mixed / "cut.dcm").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    result = runner.invoke(app, ["deid", "dicom", str(mixed), str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "notes.txt" in result.output and "cut.dcm" in result.output
    assert "2 file(s) quarantined" in result.output
    items = Quarantine(data_dir / "quarantine.db").list()
    assert {item.stage for item in items} == {"deid-dicom"}
    assert any("truncated" in item.reason for item in items)
    assert any("not a DICOM file" in item.reason for item in items)
    assert (tmp_path / "o" / "good.dcm").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--option", "retain_everything"], "unknown profile option"),
        (["--policy", "/nonexistent/policy.yaml"], "cannot read policy file"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, data_dir: Path, args: list[str], message: str) -> None:
    import sys

    from clinflow.cli import main

    argv = ["clinflow", "deid", "dicom", str(tmp_path), str(tmp_path / "o"), *args]
    old = sys.argv
    sys.argv = argv
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        sys.argv = old
    assert exited.value.code == 2


def test_clinflow_generate_output_end_to_end(tmp_path: Path, data_dir: Path) -> None:
    """`clinflow generate` (imaging-day scenario) -> `deid dicom` -> `leaks`: residual 0."""
    scenario = Path(__file__).resolve().parents[2] / "synthetic" / "imaging-day.yaml"
    if not scenario.exists():
        pytest.skip("imaging-day scenario not present")
    gen = tmp_path / "gen"
    made = runner.invoke(
        app,
        [
            "generate",
            "--patients",
            "2",
            "--seed",
            "9",
            "--out",
            str(gen),
            "--workers",
            "1",
            "--quiet",
            "--scenario",
            str(scenario),
        ],
    )
    assert made.exit_code == 0, made.output
    dicom_lines = [
        line
        for line in (gen / "manifest.ndjson").read_text().splitlines()
        if '"file":"dicom/' in line
    ]
    manifest = tmp_path / "dicom-manifest.ndjson"
    manifest.write_text("\n".join(dicom_lines) + "\n")
    out = tmp_path / "out" / "dicom"
    result = runner.invoke(app, ["deid", "dicom", str(gen / "dicom"), str(out), "--json"])
    assert result.exit_code == 0, result.output
    scan = runner.invoke(
        app, ["leaks", "--manifest", str(manifest), str(tmp_path / "out"), "--json"]
    )
    assert scan.exit_code == 0, scan.output
    report = json.loads(scan.output)
    assert report["residual"] == 0 and report["files_absent"] == 0
    assert report["scorecard_overall"] == 1.0
