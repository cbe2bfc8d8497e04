"""Loading and creating the deployment's long-lived keys.

Keys never live in code. Each comes from an environment variable (base64 or hex) or from a
file in ``<data-dir>/keys/``; a missing file is created on first use from ``os.urandom`` with
mode 0600 inside a 0700 directory. No key material is ever logged or put in an error message.

Creation is atomic (ADR 0087): the key is written and fsynced to a private temporary file in
the same folder, then ``os.link``-ed to its name, which fails if another process got there
first; the loser drops its candidate and reads the winner's. A key file therefore appears
complete or not at all, and every process of a fresh data directory ends with the same key.

- ``project``: 32-byte HMAC-SHA256 key for pseudonyms, UID remapping and date offsets.
- ``master``: 32-byte AES-256 key-encryption key that wraps per-patient data keys.
- ``audit-signing``: Ed25519 private key that signs audit-log checkpoints.
- ``quarantine``: 32-byte AES-256 key sealing quarantined payloads whose patient is not known
  (those whose patient is known are sealed under the patient's data key; ADR 0085).
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clinflow.errors import KeyError_
from clinflow.sqlite_store import secure_dir, secure_file

ENV_VARS = {
    "project": "CLINFLOW_PROJECT_KEY",
    "master": "CLINFLOW_MASTER_KEY",
    "audit-signing": "CLINFLOW_AUDIT_SIGNING_KEY",
    "quarantine": "CLINFLOW_QUARANTINE_KEY",
}
KEY_BYTES = 32


def _decode(text: str, source: str) -> bytes:
    text = text.strip()
    for decoder in (bytes.fromhex, base64.b64decode):
        try:
            raw = decoder(text)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == KEY_BYTES:
            return raw
    raise KeyError_(f"{source}: expected {KEY_BYTES} bytes as hex or base64")


def _read_key_file(path: Path) -> bytes:
    secure_dir(path.parent)  # a key folder or file left by an older build or by hand:
    secure_file(path)  # made owner-only
    return _decode(path.read_text(encoding="ascii"), f"key file {path}")


def _create_key_file(path: Path, raw: bytes) -> None:
    """Publish ``raw`` at ``path`` unless a key is already there (then leave that one).

    The candidate is complete and on disk before it gets its name: readers see the whole
    key or no file, and ``os.link`` lets exactly one of several racing creators win.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:  # mkstemp: mode 0600
            handle.write(raw.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return  # another process won: its key is the key
        _fsync_dir(path.parent)
    finally:
        os.unlink(temp)


def _fsync_dir(folder: Path) -> None:
    """Make a new name in ``folder`` durable (a crash must not lose a key already used)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class KeyRing:
    """The deployment's keys, read from the environment or ``keys_dir`` (created on demand)."""

    keys_dir: Path
    create_missing: bool = True

    def _raw(self, name: str) -> bytes:
        env_name = ENV_VARS[name]
        from_env = os.environ.get(env_name)
        if from_env:
            return _decode(from_env, f"environment variable {env_name}")
        path = self.keys_dir / f"{name}.key"
        if path.exists():
            return _read_key_file(path)
        if not self.create_missing:
            raise KeyError_(f"key file {path} not found and {env_name} not set")
        secure_dir(self.keys_dir)
        _create_key_file(path, os.urandom(KEY_BYTES))
        return _read_key_file(path)  # ours, or the key of a process that linked first

    def project_key(self) -> bytes:
        """HMAC key for pseudonyms, UIDs and date offsets."""
        return self._raw("project")

    def master_key(self) -> bytes:
        """AES-256 key-encryption key for per-patient data keys."""
        return self._raw("master")

    def quarantine_key(self) -> bytes:
        """AES-256 key for quarantined payloads that no patient's data key covers yet."""
        return self._raw("quarantine")

    def audit_signing_key(self) -> Ed25519PrivateKey:
        """Ed25519 key that signs audit checkpoints (seed stored, 32 bytes)."""
        return Ed25519PrivateKey.from_private_bytes(self._raw("audit-signing"))
