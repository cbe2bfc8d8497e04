"""``clinflow deid text IN OUT``: .txt folders and JSONL notes end to end, --explain without
and with values, the FHIR path's surrogates and date shift, malformed input quarantined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.surrogates import surrogate_name
from clinflow.deid.text.engine import shift_text_date
from clinflow.quarantine import Quarantine
from helpers.cli import run_cli

from .helpers import patient

NOTE_A = "Seen by Dr. Xzavian Tavares on 04/07/2069. d/w holmes re: plan.\n"
NOTE_B = "cc: Hobbs\nPager 54321\n"


def test_folder_of_txt_notes_with_explain_prints_no_values(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "a.txt").write_text(NOTE_A)
    (tmp_path / "in" / "sub" / "b.txt").write_text(NOTE_B)
    code, out, err = run_cli(capsys, "deid", "text", str(tmp_path / "in"), str(tmp_path / "out"),
                             "--explain", "--patient-id", "MRN-1")
    assert code == 0, err
    a = (tmp_path / "out" / "a.txt").read_text()
    b = (tmp_path / "out" / "sub" / "b.txt").read_text()
    for value in ("Xzavian", "Tavares", "holmes", "Hobbs", "54321", "04/07/2069"):
        assert value not in a + b
        assert value not in out  # --explain without --show-values: offsets and types only
    explained = [line.split("\t") for line in out.splitlines() if "\t" in line]
    assert ["a.txt", "PERSON", "8-27"] == explained[0][:3]
    assert "titled_name" in explained[0][3]
    assert {row[1] for row in explained} == {"PERSON", "DATE_TIME", "PHONE_NUMBER"}
    assert "2 note(s) de-identified" in out


def test_jsonl_notes_get_the_fhir_paths_surrogates_and_date_shift(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = patient(["Adaeze"], "Okonkwo", "00318842", "508-555-0143")
    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps({
        "id": "n1",
        "text": "Adaeze Okonkwo seen 04/07/2069; call 508-555-0143. Signed: Zarathustra",
        "patient": record,
        "people": [{"resourceType": "Practitioner",
                    "name": [{"given": ["Quillon"], "family": "Zarathustra"}]}],
    }) + "\n")
    code, out, err = run_cli(capsys, "deid", "text", str(notes), str(tmp_path / "out"),
                             "--explain", "--show-values")
    assert code == 0, err
    (line,) = (tmp_path / "out" / "notes.jsonl").read_text().splitlines()
    result = json.loads(line)
    assert set(result) == {"id", "text"} and result["id"] == "n1"
    pseudonymizer = Pseudonymizer(KeyRing(DataDir.open(str(data_dir)).keys).project_key())
    offset = pseudonymizer.date_offset_days("00318842")
    assert shift_text_date("04/07/2069", offset) in result["text"]
    assert surrogate_name(pseudonymizer, "00318842", "Adaeze Okonkwo") in result["text"]
    assert "Okonkwo" not in result["text"] and "Zarathustra" not in result["text"]
    assert "'Adaeze Okonkwo'" in out and "known_identifier" in out  # values: asked for


def test_malformed_input_is_quarantined_and_named_without_phi(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.txt").write_text(NOTE_B)
    (tmp_path / "in" / "latin1.txt").write_bytes("Patient Ren\xe9e Tavares".encode("latin-1"))
    (tmp_path / "in" / "notes.jsonl").write_text(
        '{"id": "ok", "text": "cc: Hobbs"}\n'
        '{"id": "n2", "text": "Tavares 04/07/2069"\n'
        '{"id": "n3", "text": 7}\n'
        '{"id": "n4", "text": "x", "patient": {"name": "Tavares"}}\n'
    )
    code, out, err = run_cli(capsys, "deid", "text", str(tmp_path / "in"), str(tmp_path / "out"))
    assert code == 1
    assert "latin1.txt: not UTF-8 text" in err
    assert "notes.jsonl:line 2: invalid JSON" in err
    assert "notes.jsonl:line 3: field 'text' must be a string" in err
    assert "notes.jsonl:line 4: field 'patient' must be a FHIR Patient object" in err
    assert "Tavares" not in err + out and "Traceback" not in err
    assert "2 note(s) de-identified" in out and "4 quarantined" in out
    quarantine = Quarantine(DataDir.open(str(data_dir)).quarantine_db)
    try:
        items = quarantine.list()
    finally:
        quarantine.close()
    assert sorted(i.location for i in items) == [
        "latin1.txt", "notes.jsonl:line 2", "notes.jsonl:line 3", "notes.jsonl:line 4"]
    assert {i.stage for i in items} == {"deid-text"}


def test_missing_input_and_lone_show_values_are_usage_errors(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "deid", "text", str(tmp_path / "nope"), str(tmp_path / "o"))
    assert code == 2 and "no such file" in err
    (tmp_path / "a.txt").write_text("x")
    code, _, err = run_cli(capsys, "deid", "text", str(tmp_path / "a.txt"), str(tmp_path / "o"),
                           "--show-values")
    assert code == 2 and "--show-values needs --explain" in err


def test_every_note_is_audited_by_content_id_and_pseudonym_never_its_text(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One transformation AuditEvent per note (as `deid fhir` writes per resource): the
    note's patient by pseudonym, input and output by content id, the text policy by hash;
    nothing of the note's text in the log, which still verifies; --no-audit writes none."""
    from clinflow.audit.log import AuditLog

    record = patient(["Adaeze"], "Okonkwo", "00318842", "508-555-0143")
    notes = tmp_path / "notes.jsonl"
    notes.write_text(
        json.dumps({"id": "n1", "text": "Adaeze Okonkwo seen 04/07/2069.", "patient": record})
        + "\n"
        + json.dumps({"id": "n2", "text": "cc: Hobbs, pager 54321"})
        + "\n"
    )
    code, _, err = run_cli(capsys, "deid", "text", str(notes), str(tmp_path / "out"))
    assert code == 0, err
    deployment = DataDir.open(data_dir)
    pseudonym = Pseudonymizer(KeyRing(deployment.keys).project_key()).patient_pseudonym("00318842")
    with AuditLog.open(deployment) as log:
        entries = [json.loads(log.get_entry(i) or b"{}") for i in range(log.size)]
    code, _, err = run_cli(capsys, "audit", "verify")
    assert code == 0, err
    deid = [e for e in entries if "deidentif" in json.dumps(e.get("code", e.get("type", "")))]
    assert len(deid) == 2, [e.get("code") for e in entries]
    text = json.dumps(entries)
    assert pseudonym in text
    for value in ("Adaeze", "Okonkwo", "00318842", "Hobbs", "54321", "04/07/2069"):
        assert value not in text
    size = len(entries)
    code, _, err = run_cli(capsys, "deid", "text", str(notes), str(tmp_path / "out2"), "--no-audit")
    assert code == 0, err
    with AuditLog.open(deployment) as log:
        assert log.size == size
