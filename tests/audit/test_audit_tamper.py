"""Tampering with the stored log is detected by ``verify`` and the failure names the place."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinflow.audit import AuditLog
from clinflow.audit.merkle import leaf_hash
from clinflow.cli import app
from clinflow.config import DataDir
from clinflow.errors import AuditIntegrityError

from .helpers import build_log, failures, raw, verify


def test_untouched_log_verifies(data_dir: Path) -> None:
    report = verify(build_log(data_dir))
    assert report.ok, failures(report)
    assert report.entries == 40 and report.checkpoints == 4


def test_triggers_refuse_update_and_delete(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    conn = sqlite3.connect(deployment.audit_db)
    for statement in (
        "UPDATE audit_entries SET entry = x'00' WHERE idx = 1",
        "DELETE FROM audit_entries WHERE idx = 1",
        "UPDATE audit_index SET patient = 'PT-ffffffffffffffff'",
        "DELETE FROM audit_checkpoints",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()


@pytest.mark.parametrize("index", [0, 17, 39])
def test_one_changed_byte_in_an_entry_is_named(data_dir: Path, index: int) -> None:
    deployment = build_log(data_dir)
    conn = raw(deployment)
    (entry,) = conn.execute("SELECT entry FROM audit_entries WHERE idx = ?", (index,)).fetchone()
    changed = bytearray(entry)
    position = changed.index(b"fhir" if b"fhir" in changed else b"TREAT")
    changed[position] ^= 0x20  # one byte, still valid JSON
    conn.execute("UPDATE audit_entries SET entry = ? WHERE idx = ?", (bytes(changed), index))
    report = verify(deployment)
    assert not report.ok
    assert failures(report)[0] == (
        f"entry {index}: content does not match its stored leaf hash (altered)"
    )


def test_changed_entry_with_recomputed_leaf_hash_is_caught_by_checkpoint(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    conn = raw(deployment)
    (entry,) = conn.execute("SELECT entry FROM audit_entries WHERE idx = 23").fetchone()
    forged = bytes(entry).replace(b"fhir", b"dcm!")
    conn.execute(
        "UPDATE audit_entries SET entry = ?, leaf = ? WHERE idx = 23", (forged, leaf_hash(forged))
    )
    report = verify(deployment)
    assert failures(report)[0].startswith(
        "checkpoint 3: signed root does not match the entries (size 30): an entry in 20..29"
    )


def test_deleted_entry_is_named(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    raw(deployment).execute("DELETE FROM audit_entries WHERE idx = 12")
    report = verify(deployment)
    assert failures(report)[0] == "entry 12: missing (deleted from the log)"


def test_two_reordered_entries_are_named(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    conn = raw(deployment)
    (a,) = conn.execute("SELECT entry FROM audit_entries WHERE idx = 5").fetchone()
    (b,) = conn.execute("SELECT entry FROM audit_entries WHERE idx = 6").fetchone()
    conn.execute("UPDATE audit_entries SET entry = ? WHERE idx = 5", (b,))
    conn.execute("UPDATE audit_entries SET entry = ? WHERE idx = 6", (a,))
    found = failures(verify(deployment))
    assert "entry 5: content does not match its stored leaf hash (altered)" in found
    assert "entry 6: content does not match its stored leaf hash (altered)" in found


def test_reorder_of_entries_with_their_leaf_hashes_is_caught_by_checkpoint(
    data_dir: Path,
) -> None:
    deployment = build_log(data_dir)
    conn = raw(deployment)
    rows = conn.execute("SELECT idx, leaf, entry FROM audit_entries WHERE idx IN (31, 32)")
    (_, leaf_a, a), (_, leaf_b, b) = rows.fetchall()
    conn.execute("UPDATE audit_entries SET entry = ?, leaf = ? WHERE idx = 31", (b, leaf_b))
    conn.execute("UPDATE audit_entries SET entry = ?, leaf = ? WHERE idx = 32", (a, leaf_a))
    found = failures(verify(deployment))
    # The side index still describes the original order, so the swap is named exactly ...
    assert found[:2] == [
        "index row 31: search fields differ from the entry (index altered)",
        "index row 32: search fields differ from the entry (index altered)",
    ]
    # ... and the signed root shows it even without the index.
    assert found[2] == (
        "checkpoint 4: signed root does not match the entries (size 40): an entry in 30..39 "
        "was altered, reordered or replaced"
    )


def test_truncated_tail_is_detected(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    raw(deployment).execute("DELETE FROM audit_entries WHERE idx >= 35")
    found = failures(verify(deployment))
    assert found == ["checkpoint 4: signed size 40 exceeds the 35 entries present (log truncated)"]


def test_truncation_with_checkpoints_removed_is_caught_by_trusted_checkpoint(
    data_dir: Path,
) -> None:
    deployment = build_log(data_dir)
    with AuditLog.open(deployment) as log:
        latest = log.latest_checkpoint()
    assert latest is not None
    conn = raw(deployment)
    conn.execute("DELETE FROM audit_entries WHERE idx >= 25")
    conn.execute("DELETE FROM audit_checkpoints WHERE size > 25")
    assert verify(deployment).ok  # locally consistent: only the kept checkpoint shows it
    found = failures(verify(deployment, trusted=latest.note))
    assert found == ["trusted checkpoint: size 40 exceeds the 25 entries present (log truncated)"]


def test_replaced_checkpoint_is_named(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    conn = raw(deployment)
    (note,) = conn.execute("SELECT note FROM audit_checkpoints WHERE seq = 2").fetchone()
    lines = note.split("\n")
    lines[1] = "21"  # claim a different size under the old signature
    conn.execute("UPDATE audit_checkpoints SET note = ? WHERE seq = 2", ("\n".join(lines),))
    found = failures(verify(deployment))
    assert found[0].startswith("checkpoint 2: signature invalid")


def test_checkpoint_signed_by_another_key_is_rejected(data_dir: Path, tmp_path: Path) -> None:
    deployment = build_log(data_dir)
    other = build_log(tmp_path / "other", n=20)
    (forged,) = raw(other).execute("SELECT note FROM audit_checkpoints WHERE seq = 2").fetchone()
    raw(deployment).execute("UPDATE audit_checkpoints SET note = ? WHERE seq = 2", (forged,))
    assert failures(verify(deployment))[0].startswith("checkpoint 2: signature invalid")


def test_log_refuses_to_sign_inconsistent_checkpoint(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    conn = raw(deployment)
    forged = b'{"resourceType":"AuditEvent"}'
    conn.execute(
        "UPDATE audit_entries SET entry = ?, leaf = ? WHERE idx = 3", (forged, leaf_hash(forged))
    )
    with AuditLog.open(deployment) as log:
        with pytest.raises(AuditIntegrityError, match="refusing to sign"):
            log.sign_checkpoint()
        before = len(log.store.checkpoints())
    assert before == 4  # close() did not sign either


def test_cli_verify_exit_codes_and_messages(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--data-dir", str(data_dir)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: 40 entries, 4 checkpoints verified")
    saved = data_dir / "trusted.note"
    save = runner.invoke(
        app, ["audit", "verify", "--data-dir", str(data_dir), "--save-checkpoint", str(saved)]
    )
    assert save.exit_code == 0, save.output
    assert saved.read_text().split("\n")[:2] == ["clinflow.local/audit", "40"]
    raw(deployment).execute("DELETE FROM audit_entries WHERE idx = 7")
    bad = runner.invoke(
        app, ["audit", "verify", "--data-dir", str(data_dir), "--from-checkpoint", str(saved)]
    )
    assert bad.exit_code == 1 and isinstance(bad.exception, SystemExit)  # typer.Exit(1), no crash
    lines = bad.output.splitlines()
    assert lines[0] == "FAIL entry 7: missing (deleted from the log)"  # the first failure
    trusted = "FAIL trusted checkpoint: size 40 exceeds the 39 entries present (log truncated)"
    assert trusted in lines
    assert lines[-1] == "audit log NOT verified: 6 failure(s) in 39 entries, 4 checkpoints"
    assert "Traceback" not in bad.output


def test_cli_checkpoint_and_pubkey(data_dir: Path) -> None:
    build_log(data_dir)
    runner = CliRunner()
    checkpoint = runner.invoke(app, ["audit", "checkpoint", "--data-dir", str(data_dir)])
    pubkey = runner.invoke(app, ["audit", "pubkey", "--data-dir", str(data_dir)])
    assert (checkpoint.exit_code, pubkey.exit_code) == (0, 0), checkpoint.output + pubkey.output
    note, vkey = checkpoint.output, pubkey.output.strip()
    lines = note.split("\n")
    assert lines[0] == "clinflow.local/audit" and lines[1] == "40"
    assert lines[4].startswith("\u2014 clinflow.local/audit ")
    assert vkey.startswith("clinflow.local/audit+")
    external = runner.invoke(app, ["audit", "verify", "--data-dir", str(data_dir), "--vkey", vkey])
    assert external.exit_code == 0


def test_verify_on_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    # Through the real entry point: CliRunner would see the raised ConfigError as exit code 1.
    missing = DataDir(tmp_path / "none").audit_db
    result = subprocess.run(
        [sys.executable, "-m", "clinflow", "audit", "verify", "--data-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2  # usage error: there is no log to verify
    assert result.stderr == f"error: no audit log at {missing}\n"
    assert result.stdout == ""
    assert not missing.exists() and not missing.parent.exists()


def test_altered_search_index_row_is_named(data_dir: Path) -> None:
    deployment = build_log(data_dir)
    raw(deployment).execute(
        "UPDATE audit_index SET patient = 'PT-00000000000000ff' WHERE idx = 9"
    )
    assert failures(verify(deployment)) == [
        "index row 9: search fields differ from the entry (index altered)"
    ]
