"""C2SP tlog-checkpoint bodies signed as C2SP signed-notes with Ed25519.

Checkpoint body (https://c2sp.org/tlog-checkpoint)::

    <origin>\\n<decimal tree size>\\n<base64 root hash>\\n[extension lines\\n]

Signed note (https://c2sp.org/signed-note): the body, a blank line, then one line per
signature ``— <key name> <base64(key id || signature)>`` (U+2014 em dash). For Ed25519 the key
id is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte public key), and the
verifier key is written ``<name>+<hex key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from clinflow.errors import AuditIntegrityError

ED25519_ALG = 0x01
EM_DASH = "\u2014"
_NAME_RE = re.compile(r"^[^\s+]+$")
_SIZE_RE = re.compile(r"^(0|[1-9][0-9]{0,19})$")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One tree head: origin, size and root (plus optional extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(line + "\n" for line in (*lines, *self.extensions))

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise AuditIntegrityError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise AuditIntegrityError("checkpoint needs origin, size and root hash lines")
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise AuditIntegrityError("checkpoint origin line is empty")
        if not _SIZE_RE.match(size_text):
            raise AuditIntegrityError("checkpoint size line is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error as exc:
            raise AuditIntegrityError("checkpoint root hash is not base64") from exc
        if len(root) != 32:
            raise AuditIntegrityError("checkpoint root hash is not 32 bytes")
        if any(not line for line in extensions):
            raise AuditIntegrityError("checkpoint has an empty extension line")
        return cls(origin, int(size_text), root, tuple(extensions))


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note Ed25519 key id: SHA-256(name || 0x0A || 0x01 || pubkey)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG]) + public_key).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class NoteSigner:
    """Signs checkpoint bodies as signed notes under one named Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not _NAME_RE.match(name):
            raise ValueError("key name must be non-empty without spaces or '+'")
        self.name = name
        self._key = private_key
        self.public_key = _raw_public(private_key.public_key())
        self.key_id = key_id(name, self.public_key)

    def vkey(self) -> str:
        """The verifier key: ``<name>+<hex key id>+<base64(0x01 || pubkey)>``."""
        encoded = base64.b64encode(bytes([ED25519_ALG]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def sign(self, checkpoint: Checkpoint) -> str:
        body = checkpoint.body()
        signature = self._key.sign(body.encode())
        encoded = base64.b64encode(self.key_id + signature).decode()
        return f"{body}\n{EM_DASH} {self.name} {encoded}\n"


class NoteVerifier:
    """Checks signed notes against one verifier key (C2SP vkey string)."""

    def __init__(self, vkey: str) -> None:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise AuditIntegrityError("verifier key must be <name>+<hex key id>+<base64 key>")
        name, hex_id, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
            expected_id = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError) as exc:
            raise AuditIntegrityError("verifier key is not valid hex/base64") from exc
        if len(raw) != 33 or raw[0] != ED25519_ALG:
            raise AuditIntegrityError("verifier key is not an Ed25519 key")
        if key_id(name, raw[1:]) != expected_id:
            raise AuditIntegrityError("verifier key id does not match its name and key")
        self.name = name
        self.key_id = expected_id
        self._public = Ed25519PublicKey.from_public_bytes(raw[1:])

    def verify(self, note: str) -> Checkpoint:
        """Return the checkpoint if one signature line is a valid signature by this key."""
        split = note.rfind("\n\n")
        if split < 0:
            raise AuditIntegrityError("signed note has no signature block")
        body, sig_block = note[: split + 1], note[split + 2 :]
        if not sig_block.endswith("\n"):
            raise AuditIntegrityError("signed note signature block must end with a newline")
        found_key = False
        for line in sig_block[:-1].split("\n"):
            prefix = f"{EM_DASH} {self.name} "
            if not line.startswith(prefix):
                continue
            try:
                blob = base64.b64decode(line[len(prefix) :], validate=True)
            except binascii.Error:
                continue
            if len(blob) != 68 or blob[:4] != self.key_id:
                continue
            found_key = True
            try:
                self._public.verify(blob[4:], body.encode())
            except InvalidSignature:
                continue
            return Checkpoint.parse(body)
        if found_key:
            raise AuditIntegrityError(f"signature by {self.name} does not verify")
        raise AuditIntegrityError(f"no signature by key {self.name}")
