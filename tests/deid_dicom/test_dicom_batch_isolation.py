"""``clinflow deid dicom`` on awkward inputs: one bad file never stops the run or loses audit.

Regression tests for issue 13 finding 4: a file name that is not valid UTF-8 aborted the run
(``UnicodeEncodeError`` in the quarantine), files already written had no AuditEvents and the
bad file was not quarantined.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinflow.audit.log import AuditLog
from clinflow.cli import app
from clinflow.config import DataDir
from clinflow.deid.dicom.batch import deidentify_tree
from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.quarantine import Quarantine
from helpers.fakes import RecordingAuditSink

from .helpers import make_dataset, to_bytes

runner = CliRunner()
BAD_NAME = os.fsdecode(b"bad\xff.dcm")  # not valid UTF-8: a lone surrogate in Python
GOOD_ODD_NAME = os.fsdecode(b"good\xfe.dcm")


def _folder(root: Path, valid: int) -> Path:
    root.mkdir()
    for index in range(valid):
        (root / f"{index}.dcm").write_bytes(to_bytes(make_dataset(sop_uid=f"1.2.3.9.{index}")))
    (root / BAD_NAME).write_bytes(b"this is not DICOM" * 8)
    (root / GOOD_ODD_NAME).write_bytes(to_bytes(make_dataset(sop_uid="1.2.3.9.99")))
    return root


def _codes(data_dir: Path) -> list[str]:
    with AuditLog.open(DataDir(data_dir)) as log:
        entries = [json.loads(log.get_entry(i) or b"{}") for i in range(log.size)]
    return [e["code"]["coding"][0]["code"] for e in entries if "code" in e]


def test_undecodable_file_name_is_quarantined_and_the_run_goes_on(
    tmp_path: Path, data_dir: Path
) -> None:
    source = _folder(tmp_path / "in", valid=3)
    result = runner.invoke(app, ["deid", "dicom", str(source), str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "de-identified 4 of 5 file(s)" in result.output.replace("\n", " ")
    assert "quarantined bad\\xff.dcm: not a DICOM file" in result.output.replace("\n", " ")
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(["0.dcm", "1.dcm", "2.dcm", GOOD_ODD_NAME])
    (item,) = Quarantine(data_dir / "quarantine.db").list()
    assert item.location == "bad\\xff.dcm" and item.stage == "deid-dicom"
    assert Quarantine(data_dir / "quarantine.db").get(item.id).payload == (  # type: ignore[union-attr]
        b"this is not DICOM" * 8
    )
    codes = _codes(data_dir)  # 4 de-identifications and 1 validation failure, all committed
    assert len(codes) == 5 and len(set(codes)) == 2


def test_audit_buffer_is_flushed_when_the_run_dies(
    tmp_path: Path, engine: DicomDeidentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _folder(tmp_path / "in", valid=4)
    calls = []
    original = engine.deidentify_bytes

    def dies_on_third(data: bytes, location: str):  # type: ignore[no-untyped-def]
        calls.append(location)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the operator's Ctrl-C: the run stops here
        return original(data, location)

    monkeypatch.setattr(engine, "deidentify_bytes", dies_on_third)
    sink = RecordingAuditSink()
    with pytest.raises(KeyboardInterrupt):
        deidentify_tree(source, tmp_path / "out", engine, None, sink)
    assert len(list((tmp_path / "out").iterdir())) == 2
    assert len(sink.events) == 2  # both files written have their AuditEvent


def test_a_defect_on_one_file_is_quarantined_not_raised(
    tmp_path: Path, engine: DicomDeidentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _folder(tmp_path / "in", valid=2)
    original = engine.deidentify_bytes

    def breaks_on_one(data: bytes, location: str):  # type: ignore[no-untyped-def]
        if location == "1.dcm":
            raise RuntimeError("a bug, with PHI maybe: Lindqvist^Anna")
        return original(data, location)

    monkeypatch.setattr(engine, "deidentify_bytes", breaks_on_one)
    quarantine = Quarantine(tmp_path / "data" / "quarantine.db")
    sink = RecordingAuditSink()
    report = deidentify_tree(source, tmp_path / "out", engine, quarantine, sink)
    assert report.deidentified == 2 and report.files == 4
    reasons = {r.location: r.reason for r in report.rejected}
    assert reasons["1.dcm"] == "internal error (RuntimeError); file skipped"  # no message: PHI
    assert reasons["bad\\xff.dcm"].startswith("not a DICOM file")
    held = {item.location: item for item in quarantine.list()}
    assert set(held) == {"1.dcm", "bad\\xff.dcm"}
    # the crashed file is a readable DICOM naming its patient: held for that patient
    assert held["1.dcm"].patient is not None and held["bad\\xff.dcm"].patient is None
    assert len(sink.events) == 4


def test_an_output_that_cannot_be_written_is_quarantined_and_not_left_half_written(
    tmp_path: Path, engine: DicomDeidentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _folder(tmp_path / "in", valid=2)
    original = Path.write_bytes

    def disk_full_on_one(self: Path, data: bytes) -> int:  # type: ignore[override]
        if self.name == "1.dcm":
            original(self, data[:100])
            raise OSError(28, "No space left on device")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full_on_one)
    report = deidentify_tree(source, tmp_path / "out", engine, None, RecordingAuditSink())
    reasons = {r.location: r.reason for r in report.rejected}
    assert reasons["1.dcm"] == "cannot read or write (No space left on device)"
    assert not (tmp_path / "out" / "1.dcm").exists()
    assert (tmp_path / "out" / "0.dcm").exists() and report.deidentified == 2
