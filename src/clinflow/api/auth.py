"""Bearer tokens with roles, stored hashed in ``<data-dir>/api_tokens.db``.

A token is 32 random bytes (``secrets.token_urlsafe``) shown once when created; only its
SHA-256 is stored, so a stolen token table grants nothing. Lookup is by hash, then the hashes
are compared with ``hmac.compare_digest``. Roles:

- ``auditor``: search every entry, read entries with proofs, accounting of disclosures.
- ``privacy_officer``: the same (and is who answers a patient's accounting request).
- ``service``: checkpoints and proofs only (machines verifying the log), no entry contents.
- ``patient``: scoped to one patient pseudonym; sees only that patient's entries/disclosures.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from clinflow.audit.events import check_pseudonym
from clinflow.config import DataDir
from clinflow.errors import ClinflowError, ConfigError
from clinflow.sqlite_store import open_wal

TOKEN_PREFIX = "cfa_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    role TEXT NOT NULL,
    patient TEXT,
    label TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


class Role(StrEnum):
    AUDITOR = "auditor"
    PRIVACY_OFFICER = "privacy_officer"
    SERVICE = "service"
    PATIENT = "patient"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id (never the token), role and patient scope."""

    token_id: str
    role: Role
    patient: str | None = None
    label: str = ""


def api_tokens_path(data_dir: DataDir) -> Path:
    """Where a deployment keeps its token store."""
    return data_dir.root / "api_tokens.db"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenStore:
    """Hashed API tokens in a small SQLite file beside the audit log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._conn = open_wal(path, _SCHEMA)
        except sqlite3.Error as exc:
            raise ClinflowError(f"token store {path}: cannot open ({exc})") from exc

    def create(
        self, role: Role | str, patient: str | None = None, label: str = ""
    ) -> tuple[str, str]:
        """Create a token; return (token id, token). The token is not stored, only its hash."""
        try:
            role = Role(role)
        except ValueError as exc:
            raise ConfigError(f"--role must be one of {', '.join(r.value for r in Role)}") from exc
        if role is Role.PATIENT:
            if not patient:
                raise ConfigError("--patient is required for a patient-scoped token")
            try:
                check_pseudonym(patient)
            except ValueError as exc:
                raise ConfigError(f"--patient: {exc}") from exc
        elif patient:
            raise ConfigError("--patient is only for --role patient")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = uuid.uuid4().hex[:12]
        created = datetime.now(UTC).isoformat(timespec="seconds")
        self._conn.execute(
            "INSERT INTO api_tokens(token_id, token_hash, role, patient, label, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (token_id, hash_token(token), role.value, patient, label, created),
        )
        return token_id, token

    def authenticate(self, token: str) -> Principal | None:
        """The principal for a presented token, or None (unknown or revoked)."""
        digest = hash_token(token)
        row = self._conn.execute(
            "SELECT token_id, token_hash, role, patient, label, revoked FROM api_tokens "
            "WHERE token_hash = ?",
            (digest,),
        ).fetchone()
        if row is None or not hmac.compare_digest(bytes(row[1]), digest) or row[5]:
            return None
        return Principal(str(row[0]), Role(row[2]), row[3], str(row[4]))

    def revoke(self, token_id: str) -> bool:
        cursor = self._conn.execute(
            "UPDATE api_tokens SET revoked = 1 WHERE token_id = ?", (token_id,)
        )
        return cursor.rowcount > 0

    def list(self) -> list[tuple[str, str, str | None, str, str, bool]]:
        rows = self._conn.execute(
            "SELECT token_id, role, patient, label, created, revoked FROM api_tokens "
            "ORDER BY created"
        )
        return [(str(a), str(b), c, str(d), str(e), bool(f)) for a, b, c, d, e, f in rows]

    def close(self) -> None:
        self._conn.close()
