"""Bearer tokens with roles, stored hashed in ``<data-dir>/api_tokens.db``.

A token is 32 random bytes (``secrets.token_urlsafe``) shown once when created; only its
SHA-256 is stored, so a stolen token table grants nothing. Lookup is by hash, then the hashes
are compared with ``hmac.compare_digest``. Roles:

- ``auditor``: search every entry, read entries with proofs, accounting of disclosures.
- ``privacy_officer``: the same (and is who answers a patient's accounting request).
- ``service``: checkpoints and proofs only (machines verifying the log), no entry contents.
- ``patient``: scoped to one patient pseudonym; sees only that patient's entries/disclosures.
- ``scoring``: a pipeline or EHR client of the scoring service: posts assessments, reads a
  patient's features and alerts, acknowledges alerts (nothing on the audit API but proofs).
- ``deployment``: reserved, never stored: the random token a running scoring service
  registers in ``<data-dir>/services/scoring.json`` for the deployment's own processes
  (retraction on consent revocation). ``Authenticator`` maps it to this role.

Which role may call which route is declared in ``clinflow.api.access`` (ADR 0080).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from clinflow.audit.events import check_pseudonym
from clinflow.config import DataDir
from clinflow.errors import ClinflowError, ConfigError
from clinflow.sqlite_locked import LockedWalStore

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
    SCORING = "scoring"
    DEPLOYMENT = "deployment"


# Roles a token can be created with (``deployment`` is the registered service token only).
TOKEN_ROLES = tuple(role for role in Role if role is not Role.DEPLOYMENT)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id (never the token), role and patient scope."""

    token_id: str
    role: Role
    patient: str | None = None
    label: str = ""

    @property
    def agent(self) -> str:
        """How AuditEvents name this caller: the token id, never the token."""
        return f"token:{self.token_id}"


def api_tokens_path(data_dir: DataDir) -> Path:
    """Where a deployment keeps its token store."""
    return data_dir.root / "api_tokens.db"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenStore(LockedWalStore):
    """Hashed API tokens in a small SQLite file beside the audit log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            super().__init__(path, _SCHEMA)
        except sqlite3.Error as exc:
            raise ClinflowError(f"token store {path}: cannot open ({exc})") from exc

    def create(
        self, role: Role | str, patient: str | None = None, label: str = ""
    ) -> tuple[str, str]:
        """Create a token; return (token id, token). The token is not stored, only its hash."""
        choices = ", ".join(r.value for r in TOKEN_ROLES)
        try:
            role = Role(role)
        except ValueError as exc:
            raise ConfigError(f"--role must be one of {choices}") from exc
        if role not in TOKEN_ROLES:
            raise ConfigError(f"--role must be one of {choices} (deployment is reserved)")
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
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_tokens(token_id, token_hash, role, patient, label, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, hash_token(token), role.value, patient, label, created),
            )
        return token_id, token

    def authenticate(self, token: str) -> Principal | None:
        """The principal for a presented token, or None (unknown or revoked)."""
        digest = hash_token(token)
        with self._lock:
            row = self._conn.execute(
                "SELECT token_id, token_hash, role, patient, label, revoked FROM api_tokens "
                "WHERE token_hash = ?",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(bytes(row[1]), digest) or row[5]:
            return None
        return Principal(str(row[0]), Role(row[2]), row[3], str(row[4]))

    def describe(self, token_id: str) -> tuple[str, str | None] | None:
        """(role, patient scope) of a token id, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT role, patient FROM api_tokens WHERE token_id = ?", (token_id,)
            ).fetchone()
        return None if row is None else (str(row[0]), row[1])

    def revoke(self, token_id: str) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE api_tokens SET revoked = 1 WHERE token_id = ?", (token_id,)
            )
        return cursor.rowcount > 0

    def list(self) -> list[tuple[str, str, str | None, str, str, bool]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT token_id, role, patient, label, created, revoked FROM api_tokens "
                "ORDER BY created"
            ).fetchall()
        return [(str(a), str(b), c, str(d), str(e), bool(f)) for a, b, c, d, e, f in rows]


DEPLOYMENT_PRINCIPAL = Principal("deployment", Role.DEPLOYMENT, label="registered service token")


class Authenticator:
    """Bearer token -> Principal for every clinflow HTTP app: the deployment's token store,
    plus (scoring service) the registered deployment token.

    Lookups are cached for ``ttl`` seconds (the scoring hot path answers in well under a
    millisecond; a SQLite lookup per request would be a visible share of it), so a revoked
    token stops working within ``ttl`` seconds in a running server.
    """

    def __init__(
        self, tokens: TokenStore, *, deployment_token: str | None = None, ttl: float = 2.0
    ) -> None:
        self.tokens = tokens
        self._deployment = hash_token(deployment_token) if deployment_token else None
        self._ttl = ttl
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def authenticate(self, token: str) -> Principal | None:
        digest = hash_token(token)
        if self._deployment is not None and hmac.compare_digest(digest, self._deployment):
            return DEPLOYMENT_PRINCIPAL
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
            if cached is not None and cached[0] > now:
                return cached[1]
            principal = self.tokens.authenticate(token)
            if len(self._cache) >= 4096:  # bounded: guessed tokens must not grow it
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, principal)
        return principal

    def close(self) -> None:
        self.tokens.close()
