"""Per-patient data keys: envelope encryption round-trips; destroyed keys open nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.crypto.datakeys import DataKeyStore
from clinflow.crypto.keys import KeyRing
from clinflow.errors import KeyError_

PATIENT = "PT-0000000000000001"
OTHER = "PT-0000000000000002"


@pytest.fixture()
def store(data_dir: Path) -> DataKeyStore:
    keys = KeyRing(data_dir / "keys")
    return DataKeyStore(data_dir / "datakeys.db", keys.master_key())


def test_seal_open_round_trip_and_scope_separation(store: DataKeyStore) -> None:
    research = store.seal(PATIENT, "HRESCH", b"vitals", aad=b"m1")
    treatment = store.seal(PATIENT, "TREAT", b"vitals", aad=b"m1")
    assert b"vitals" not in research
    assert store.open(research, aad=b"m1") == b"vitals"
    assert store.open(treatment, aad=b"m1") == b"vitals"
    with pytest.raises(KeyError_):
        store.open(research, aad=b"other-message")  # aad binds the ciphertext to its record


def test_ciphertext_written_before_destroy_cannot_be_decrypted_after(
    store: DataKeyStore, data_dir: Path
) -> None:
    topic_copy = store.seal(PATIENT, "HRESCH", b"payload")  # e.g. a Kafka record we can't rewrite
    treatment_copy = store.seal(PATIENT, "TREAT", b"payload")
    other_copy = store.seal(OTHER, "HRESCH", b"payload")
    destroyed = store.destroy(PATIENT, "HRESCH")
    assert [k.scope for k in destroyed] == ["HRESCH"]
    with pytest.raises(KeyError_, match="destroyed"):
        store.open(topic_copy)
    # A fresh store object (another process) cannot open it either.
    again = DataKeyStore(data_dir / "datakeys.db", KeyRing(data_dir / "keys").master_key())
    with pytest.raises(KeyError_, match="destroyed"):
        again.open(topic_copy)
    # Other scopes and other patients are untouched.
    assert again.open(treatment_copy) == b"payload"
    assert again.open(other_copy) == b"payload"
    # A new key generation for the scope works for new data and still opens nothing old.
    fresh = store.seal(PATIENT, "HRESCH", b"new")
    assert store.open(fresh) == b"new"
    with pytest.raises(KeyError_):
        store.open(topic_copy)
    assert store.destroy(PATIENT, "HRESCH")  # the new generation can be destroyed too
    assert store.destroy(PATIENT, "HRESCH") == []  # idempotent


def test_destroy_in_another_process_is_noticed(store: DataKeyStore, data_dir: Path) -> None:
    token = store.seal(PATIENT, "HRESCH", b"x")
    assert store.open(token) == b"x"  # unwrapped key now cached
    other = DataKeyStore(data_dir / "datakeys.db", KeyRing(data_dir / "keys").master_key())
    other.destroy(PATIENT)
    with pytest.raises(KeyError_):
        store.open(token)


def test_wrapped_key_bytes_gone_from_disk(store: DataKeyStore, data_dir: Path) -> None:
    store.seal(PATIENT, "HRESCH", b"x")
    row = store._conn.execute("SELECT wrapped FROM data_keys").fetchone()
    wrapped = bytes(row[0])
    store.destroy(PATIENT, "HRESCH")
    store.close()
    on_disk = b"".join(
        p.read_bytes() for p in data_dir.glob("datakeys.db*") if p.is_file()
    )
    assert wrapped not in on_disk


def test_wrong_master_key_and_no_key_material_in_errors(
    store: DataKeyStore, data_dir: Path
) -> None:
    token = store.seal(PATIENT, "HRESCH", b"x")
    master = KeyRing(data_dir / "keys").master_key()
    wrong = DataKeyStore(data_dir / "datakeys.db", os.urandom(32))
    with pytest.raises(KeyError_) as info:
        wrong.open(token)
    message = str(info.value)
    assert "wrong master key" in message
    assert master.hex() not in message and PATIENT not in message
    with pytest.raises(KeyError_):
        DataKeyStore(data_dir / "x.db", b"short")
    with pytest.raises(KeyError_):
        store.open(b"garbage")


@settings(max_examples=40, deadline=None)
@given(payload=st.binary(max_size=2048), aad=st.binary(max_size=64))
def test_round_trip_any_payload(tmp_path_factory: pytest.TempPathFactory, payload: bytes,
                                aad: bytes) -> None:
    root = tmp_path_factory.mktemp("dk")
    store = DataKeyStore(root / "k.db", b"\x01" * 32)
    token = store.seal(PATIENT, "HRESCH", payload, aad=aad)
    assert store.open(token, aad=aad) == payload
    store.close()
