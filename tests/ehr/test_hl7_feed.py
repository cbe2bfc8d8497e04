"""``clinflow generate --format hl7v2``: one feed file per run, messages readable back, the
summary honest about what has no HL7 v2 form; bad options are usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clinflow.ehr.hl7.feed_files import read_feed
from clinflow.ehr.hl7.fhir_map import validate_and_map
from helpers.cli import run_cli


def test_generate_hl7v2_writes_a_feed_that_maps(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "feed"
    code, stdout, stderr = run_cli(
        capsys, "generate", "--format", "hl7v2", "--vendor", "meridian-ehr", "--patients", "2",
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert code == 0, stderr
    assert "hl7v2/meridian-ehr.hl7" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["vendor"] == "meridian-ehr" and summary["patients"] == 2
    messages = list(read_feed((out / "hl7v2" / "meridian-ehr.hl7").read_bytes()))
    assert len(messages) == sum(summary["messages"].values())
    types = [validate_and_map(m).message_type for m in messages]
    assert types.count("ADT^A01") == types.count("ADT^A03") == 2
    assert summary["not_in_hl7v2"]  # consents, notes... are counted, not silently dropped
    assert (out / "manifest.ndjson").stat().st_size > 0
    # a second run replaces its own output; a foreign folder is refused
    assert run_cli(capsys, "generate", "--format", "hl7v2", "--patients", "1", "--out",
                   str(out), "--quiet")[0] == 0  # fmt: skip
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, _, stderr = run_cli(capsys, "generate", "--format", "hl7v2", "--out", str(foreign))
    assert code != 0 and "not a previous HL7 v2 feed" in stderr
    assert (foreign / "notes.txt").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--format", "hl7v3"), "--format"), (("--format", "hl7v2", "--vendor", "acme"), "--vendor")],
)
def test_bad_format_or_vendor_is_a_usage_error(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
    message: str,
) -> None:  # fmt: skip
    code, _, stderr = run_cli(capsys, "generate", *args, "--out", str(tmp_path / "x"))
    assert code == 2 and message in stderr
    assert not (tmp_path / "x").exists()


def test_read_feed_splits_on_msh_lines_whatever_the_line_ends() -> None:
    data = b"MSH|^~\\&|A\rPID|1\r\nMSH|^~\\&|B\nPID|2\n\nMSH|^~\\&|C\r"
    assert list(read_feed(data)) == [
        b"MSH|^~\\&|A\rPID|1\r",
        b"MSH|^~\\&|B\rPID|2\r",
        b"MSH|^~\\&|C\r",
    ]
