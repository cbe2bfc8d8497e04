"""Per-patient, per-scope data keys and AES-GCM envelope encryption (crypto-shredding).

Every (patient pseudonym, scope) pair gets a random 256-bit data key, stored only wrapped
(AES-256-GCM) under ``KeyRing.master_key()``. Payloads are sealed under the data key; the
sealed token names the key by a random id, never the patient. Destroying a scope's key
deletes the wrapped key (SQLite ``secure_delete`` and a WAL checkpoint so the bytes do not
linger), after which every copy sealed under it — topics, exports, audit-log fields — is
unreadable. A later key for the same scope is a new generation and opens nothing old.

Token layout: ``b"CFK1" || key_id (16) || nonce (12) || ciphertext+tag``; the header is
authenticated as associated data together with the caller's ``aad``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clinflow.errors import KeyError_
from clinflow.sqlite_locked import LockedWalStore
from clinflow.sqlite_store import where_equal

MAGIC = b"CFK1"
KEY_ID_BYTES = 16
NONCE_BYTES = 12
DATA_KEY_BYTES = 32
_HEADER = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    key_id      BLOB PRIMARY KEY,
    patient     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    wrapped     BLOB,
    created     REAL NOT NULL,
    destroyed   REAL
);
CREATE INDEX IF NOT EXISTS data_keys_scope ON data_keys(patient, scope);
"""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a data key: its id and state, never its bytes."""

    key_id: str  # hex
    patient: str
    scope: str
    created: float
    destroyed: float | None


class DataKeyStore(LockedWalStore):
    """Wrapped data keys in ``<data-dir>/datakeys.db``; seal and open payloads with them."""

    def __init__(self, path: Path, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise KeyError_("master key must be 32 bytes")
        self.path = path
        self._master = AESGCM(master_key)
        # secure_delete: destroyed wrapped keys are overwritten on disk, not just unlinked.
        # synchronous=FULL: a key destruction that returned must not come back after a crash.
        super().__init__(path, _SCHEMA, synchronous="FULL", secure_delete=True)
        os.chmod(path, 0o600)
        self._live: dict[tuple[str, str], tuple[bytes, AESGCM]] = {}
        self._by_id: dict[bytes, AESGCM] = {}
        self._data_version = self._read_data_version()

    # ---------------------------------------------------------------- key lifecycle

    def _read_data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _refresh(self) -> None:
        """Forget unwrapped keys when another process changed the store (maybe destroyed)."""
        current = self._read_data_version()
        if current != self._data_version:
            self._data_version = current
            self._live.clear()
            self._by_id.clear()

    def _wrap_aad(self, key_id: bytes, patient: str, scope: str) -> bytes:
        return b"clinflow-data-key\x00" + key_id + patient.encode() + b"\x00" + scope.encode()

    def _unwrap(self, key_id: bytes, patient: str, scope: str, wrapped: bytes) -> AESGCM:
        try:
            raw = self._master.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], self._wrap_aad(key_id, patient, scope)
            )
        except InvalidTag as exc:
            raise KeyError_(
                f"data key {key_id.hex()} cannot be unwrapped (wrong master key?)"
            ) from exc
        return AESGCM(raw)

    def _live_key(self, patient: str, scope: str, create: bool) -> tuple[bytes, AESGCM] | None:
        with self._lock:
            self._refresh()
            cached = self._live.get((patient, scope))
            if cached is not None:
                return cached
            row = self._conn.execute(
                "SELECT key_id, wrapped FROM data_keys WHERE patient = ? AND scope = ?"
                " AND wrapped IS NOT NULL ORDER BY created DESC LIMIT 1",
                (patient, scope),
            ).fetchone()
            if row is not None:
                key_id, wrapped = bytes(row[0]), bytes(row[1])
                aead = self._unwrap(key_id, patient, scope, wrapped)
            elif create:
                key_id = os.urandom(KEY_ID_BYTES)
                raw = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
                nonce = os.urandom(NONCE_BYTES)
                wrapped = nonce + self._master.encrypt(
                    nonce, raw, self._wrap_aad(key_id, patient, scope)
                )
                self._conn.execute(
                    "INSERT INTO data_keys(key_id, patient, scope, wrapped, created)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (key_id, patient, scope, wrapped, time.time()),
                )
                self._data_version = self._read_data_version()
                aead = AESGCM(raw)
            else:
                return None
            self._live[(patient, scope)] = (key_id, aead)
            self._by_id[key_id] = aead
            return key_id, aead

    def ensure_key(self, patient: str, scope: str) -> str:
        """The live key id of (patient, scope), creating a key on first use."""
        live = self._live_key(patient, scope, create=True)
        assert live is not None
        return live[0].hex()

    def destroy(self, patient: str, scope: str | None = None) -> list[KeyInfo]:
        """Destroy the patient's live key(s) for ``scope`` (all scopes if None).

        Returns the destroyed keys (ids only). Idempotent: nothing live, nothing returned.
        """
        with self._lock:
            sql = "SELECT key_id, patient, scope, created FROM data_keys WHERE patient = ?"
            params: tuple[str, ...] = (patient,)
            if scope is not None:
                sql += " AND scope = ?"
                params = (patient, scope)
            rows = self._conn.execute(sql + " AND wrapped IS NOT NULL", params).fetchall()
            now = time.time()
            destroyed: list[KeyInfo] = []
            for key_id, row_patient, row_scope, created in rows:
                self._conn.execute(
                    "UPDATE data_keys SET wrapped = NULL, destroyed = ? WHERE key_id = ?",
                    (now, key_id),
                )
                self._by_id.pop(bytes(key_id), None)
                self._live.pop((row_patient, row_scope), None)
                destroyed.append(KeyInfo(bytes(key_id).hex(), row_patient, row_scope, created, now))
            if destroyed:
                # Push the zeroed pages out of the WAL so the wrapped key does not linger.
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._data_version = self._read_data_version()
            return destroyed

    def keys(self, patient: str | None = None) -> list[KeyInfo]:
        sql, params = where_equal(
            "SELECT key_id, patient, scope, created, destroyed FROM data_keys", "patient", patient
        )
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created", params).fetchall()
        return [KeyInfo(bytes(r[0]).hex(), r[1], r[2], r[3], r[4]) for r in rows]

    # ---------------------------------------------------------------- envelope encryption

    def seal(self, patient: str, scope: str, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Encrypt ``plaintext`` under the patient's live key for ``scope``."""
        live = self._live_key(patient, scope, create=True)
        assert live is not None
        key_id, aead = live
        nonce = os.urandom(NONCE_BYTES)
        header = MAGIC + key_id + nonce
        return header + aead.encrypt(nonce, plaintext, header + aad)

    def open(self, token: bytes, aad: bytes = b"") -> bytes:
        """Decrypt a sealed token; raises ``KeyError_`` once its key has been destroyed."""
        if len(token) < _HEADER + 16 or not token.startswith(MAGIC):
            raise KeyError_("not a clinflow sealed payload")
        key_id = token[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]
        nonce = token[len(MAGIC) + KEY_ID_BYTES : _HEADER]
        aead = self._key_by_id(key_id)
        try:
            return aead.decrypt(nonce, token[_HEADER:], token[:_HEADER] + aad)
        except InvalidTag as exc:
            raise KeyError_(
                f"sealed payload under key {key_id.hex()} fails authentication"
            ) from exc

    def _key_by_id(self, key_id: bytes) -> AESGCM:
        with self._lock:
            self._refresh()
            aead = self._by_id.get(key_id)
            if aead is not None:
                return aead
            row = self._conn.execute(
                "SELECT patient, scope, wrapped FROM data_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
            if row is None:
                raise KeyError_(f"data key {key_id.hex()} unknown")
            if row[2] is None:
                raise KeyError_(f"data key {key_id.hex()} destroyed (crypto-shredded)")
            aead = self._unwrap(key_id, row[0], row[1], bytes(row[2]))
            self._by_id[key_id] = aead
            return aead
