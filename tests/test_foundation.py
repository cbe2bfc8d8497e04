"""Foundation: public API, keys, pseudonyms, envelopes, quarantine, CLI conventions."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import types
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import clinflow
from clinflow.crypto.keys import KeyRing
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import KeyError_
from clinflow.interfaces import Rejection
from clinflow.quarantine import Quarantine

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def test_public_api_is_exactly_all() -> None:
    public = {
        name
        for name, value in vars(clinflow).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(clinflow.__all__) - {"__version__"} == public - {"annotations"}


def test_keys_created_with_restrictive_permissions(data_dir: Path) -> None:
    ring = KeyRing(data_dir / "keys")
    key = ring.project_key()
    assert len(key) == 32
    assert ring.project_key() == key  # stable once created
    mode = stat.S_IMODE(os.stat(data_dir / "keys" / "project.key").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(data_dir / "keys").st_mode) == 0o700


def test_key_from_environment_wins(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINFLOW_PROJECT_KEY", KEY_A.hex())
    assert KeyRing(data_dir / "keys").project_key() == KEY_A
    assert not (data_dir / "keys" / "project.key").exists()


def test_malformed_key_is_refused_without_echoing_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINFLOW_MASTER_KEY", "not-a-key-zzzz")
    with pytest.raises(KeyError_) as info:
        KeyRing(data_dir / "keys").master_key()
    assert "not-a-key" not in str(info.value)
    assert "CLINFLOW_MASTER_KEY" in str(info.value)


def test_missing_key_without_create_is_clear(data_dir: Path) -> None:
    with pytest.raises(KeyError_, match="not found"):
        KeyRing(data_dir / "keys", create_missing=False).master_key()


@given(st.text(min_size=1, max_size=40))
def test_pseudonyms_are_deterministic_and_keyed(patient_key: str) -> None:
    a, a2, b = Pseudonymizer(KEY_A), Pseudonymizer(KEY_A), Pseudonymizer(KEY_B)
    assert a.patient_pseudonym(patient_key) == a2.patient_pseudonym(patient_key)
    assert a.patient_pseudonym(patient_key) != b.patient_pseudonym(patient_key)
    assert patient_key not in a.patient_pseudonym(patient_key)[3:] or len(patient_key) < 3


@given(st.from_regex(r"1\.2\.[0-9]{1,10}(\.[0-9]{1,10}){1,8}", fullmatch=True))
def test_uids_are_valid_2_25_uids(original: str) -> None:
    uid = Pseudonymizer(KEY_A).uid(original)
    assert uid.startswith("2.25.")
    assert len(uid) <= 64
    assert uid[5] != "0" or len(uid) == 6  # no leading zero in a UID component
    assert uid == Pseudonymizer(KEY_A).uid(original)
    assert uid != Pseudonymizer(KEY_B).uid(original)


@given(st.text(min_size=1, max_size=20))
def test_date_offset_keeps_weekday_and_range(patient_key: str) -> None:
    pseudo = Pseudonymizer(KEY_A)
    offset = pseudo.date_offset_days(patient_key)
    assert offset % 7 == 0 and -156 * 7 <= offset <= -35
    day = date(2024, 3, 15)
    assert pseudo.shift_date(patient_key, day).weekday() == day.weekday()


def test_envelope_round_trip_and_lineage() -> None:
    env = Envelope(
        message_id="m1",
        source=SourceKind.FHIR,
        patient="PT-x",
        payload=b"{}",
        event_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    child = env.derive(b'{"a":1}')
    assert child.lineage == ("m1",)
    assert child.message_id != env.message_id
    assert Envelope.from_bytes(child.to_bytes()) == child
    with pytest.raises(ValueError):
        Envelope("m", SourceKind.NOTE, "p", b"", datetime(2024, 1, 1))


def test_quarantine_put_list_replay_purge(tmp_path: Path) -> None:
    store = Quarantine(tmp_path / "q.db")
    first = store.put(Rejection("deid.dicom", "in/a.dcm", "not a DICOM file", b"xx", "PT-1"))
    second = store.put(Rejection("deid.fhir", "in/b.json", "invalid JSON at line 1", b"{"))
    assert [i.location for i in store.list()] == ["in/a.dcm", "in/b.json"]

    def fail(item: object) -> None:
        raise RuntimeError("still broken")

    with pytest.raises(RuntimeError):
        store.replay(first, fail)
    assert [(i.id, i.status) for i in store.list(status=None)] == [
        (first, "open"),
        (second, "open"),
    ]  # a failed replay leaves the item open

    seen: list[bytes | None] = []
    store.replay(first, lambda item: seen.append(item.payload))
    assert seen == [b"xx"]
    assert [(i.id, i.status) for i in store.list(status=None)] == [
        (first, "replayed"),
        (second, "open"),
    ]
    assert [i.id for i in store.list()] == [second]
    assert [i.id for i in store.list(status="replayed")] == [first]
    assert store.purge_patient("PT-1") == 1
    assert [(i.id, i.status) for i in store.list(status=None)] == [(second, "open")]
    assert store.count(status=None) == 1


def test_cli_help_lists_commands_and_usage_error_exits_2() -> None:
    exe = [sys.executable, "-m", "clinflow"]
    out = subprocess.run([*exe, "--help"], capture_output=True, text=True, check=True)
    assert "quarantine" in out.stdout
    bad = subprocess.run([*exe, "no-such-command"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr + bad.stdout
