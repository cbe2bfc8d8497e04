"""C2SP checkpoints and signed notes; checkpoint cadence; canonical JSON."""

from __future__ import annotations

import base64
import hashlib
import math
import time
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.audit import AuditLog, Checkpoint, NoteSigner, NoteVerifier, canonical_json
from clinflow.audit.canonical import is_canonical
from clinflow.config import DataDir
from clinflow.errors import AuditIntegrityError

from .helpers import sample_event

SEED = bytes(range(32))


def test_signed_note_matches_the_c2sp_spec_byte_for_byte() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    signer = NoteSigner("example.com/log", key)
    root = hashlib.sha256(b"root").digest()
    note = signer.sign(Checkpoint("example.com/log", 7, root))
    public = key.public_key().public_bytes_raw()
    expected_id = hashlib.sha256(b"example.com/log\n\x01" + public).digest()[:4]
    body = f"example.com/log\n7\n{base64.b64encode(root).decode()}\n"
    assert note.startswith(body + "\n\u2014 example.com/log ")
    blob = base64.b64decode(note[len(body) + 1 :].split(" ")[2])
    assert blob[:4] == expected_id
    Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], body.encode())
    encoded_key = base64.b64encode(b"\x01" + public).decode()
    assert signer.vkey() == f"example.com/log+{expected_id.hex()}+{encoded_key}"
    assert NoteVerifier(signer.vkey()).verify(note) == Checkpoint("example.com/log", 7, root)


def test_verifier_rejects_altered_notes_and_foreign_keys() -> None:
    signer = NoteSigner("log", Ed25519PrivateKey.from_private_bytes(SEED))
    note = signer.sign(Checkpoint("log", 3, bytes(32)))
    verifier = NoteVerifier(signer.vkey())
    with pytest.raises(AuditIntegrityError, match="does not verify"):
        verifier.verify(note.replace("\n3\n", "\n4\n"))
    other = NoteSigner("log", Ed25519PrivateKey.generate())
    with pytest.raises(AuditIntegrityError):
        NoteVerifier(other.vkey()).verify(note)
    with pytest.raises(AuditIntegrityError, match="key id"):
        NoteVerifier("other+" + signer.vkey().split("+", 1)[1])


def test_checkpoint_every_n_entries_and_on_close(data_dir: Path) -> None:
    deployment = DataDir.open(data_dir)
    with AuditLog.open(deployment, checkpoint_every=5, batch_wait=0) as log:
        for i in range(12):
            log.append(sample_event(i))
        sizes = [c.size for c in log.store.checkpoints()]
        assert sizes == [5, 10]
    with AuditLog.open(deployment) as log:
        assert [c.size for c in log.store.checkpoints()] == [5, 10, 12]


def test_checkpoint_every_t_seconds_when_idle(data_dir: Path) -> None:
    with AuditLog.open(DataDir.open(data_dir), checkpoint_seconds=0.2) as log:
        log.append(sample_event(1))
        deadline = time.monotonic() + 10
        while log.latest_checkpoint() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        latest = log.latest_checkpoint()
        assert latest is not None and latest.size == 1


def test_canonical_json_form() -> None:
    assert (
        canonical_json({"b": [1, True, None], "a": "é\n"})
        == '{"a":"é\\n","b":[1,true,null]}'.encode()
    )
    for bad in ({"x": math.nan}, {"x": 2**60}, {"x": {1: 2}}, {"x": object()}):
        with pytest.raises(ValueError, match=r"\$\.x"):
            canonical_json(bad)  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet="abcdefghij_", max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.dictionaries(st.text(alphabet="abcxyz", max_size=4), json_values, max_size=5))
def test_canonical_json_is_order_independent_and_idempotent(value: dict[str, object]) -> None:
    encoded = canonical_json(value)
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(reordered) == encoded
    assert is_canonical(encoded)
    assert canonical_json(orjson.loads(encoded)) == encoded
    assert b"\n" not in encoded  # one line; separators are checked by is_canonical
    if all(":" not in text for text in _strings(value)):
        assert b": " not in encoded  # no space after a key (": " may only occur inside strings)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for item in value.values() for s in _strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_key_rotation_keeps_old_checkpoints_verifiable(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clinflow.audit.verify import TRUSTED_VKEYS_FILE

    from .helpers import failures, verify

    deployment = DataDir.open(data_dir)
    monkeypatch.setenv("CLINFLOW_AUDIT_SIGNING_KEY", bytes(range(32)).hex())
    with AuditLog.open(deployment, checkpoint_every=5, batch_wait=0) as log:
        log.append_many([sample_event(i) for i in range(5)])
        old_vkey = log.vkey()
    monkeypatch.setenv("CLINFLOW_AUDIT_SIGNING_KEY", bytes(range(1, 33)).hex())
    with AuditLog.open(deployment, checkpoint_every=5, batch_wait=0) as log:
        log.append_many([sample_event(i) for i in range(5, 10)])
        assert log.vkey() != old_vkey
    assert failures(verify(deployment))[0].startswith("checkpoint 1: signature invalid")
    deployment.keys.mkdir(exist_ok=True)
    (deployment.keys / TRUSTED_VKEYS_FILE).write_text(old_vkey + "\n", encoding="utf-8")
    report = verify(deployment)
    assert report.ok and report.checkpoints == 2
