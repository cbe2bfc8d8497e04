"""Loading and creating the deployment's long-lived keys.

Keys never live in code. Each comes from an environment variable (base64 or hex) or from a
file in ``<data-dir>/keys/``; a missing file is created on first use from ``os.urandom`` with
mode 0600 inside a 0700 directory. No key material is ever logged or put in an error message.

- ``project``: 32-byte HMAC-SHA256 key for pseudonyms, UID remapping and date offsets.
- ``master``: 32-byte AES-256 key-encryption key that wraps per-patient data keys.
- ``audit-signing``: Ed25519 private key that signs audit-log checkpoints.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clinflow.errors import KeyError_

ENV_VARS = {
    "project": "CLINFLOW_PROJECT_KEY",
    "master": "CLINFLOW_MASTER_KEY",
    "audit-signing": "CLINFLOW_AUDIT_SIGNING_KEY",
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
            return _decode(path.read_text(encoding="ascii"), f"key file {path}")
        if not self.create_missing:
            raise KeyError_(f"key file {path} not found and {env_name} not set")
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.keys_dir, 0o700)
        raw = os.urandom(KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(raw.hex() + "\n")
        return raw

    def project_key(self) -> bytes:
        """HMAC key for pseudonyms, UIDs and date offsets."""
        return self._raw("project")

    def master_key(self) -> bytes:
        """AES-256 key-encryption key for per-patient data keys."""
        return self._raw("master")

    def audit_signing_key(self) -> Ed25519PrivateKey:
        """Ed25519 key that signs audit checkpoints (seed stored, 32 bytes)."""
        return Ed25519PrivateKey.from_private_bytes(self._raw("audit-signing"))
