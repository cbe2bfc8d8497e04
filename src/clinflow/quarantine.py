"""The dead-letter store: inputs that could not be processed, kept to list and replay.

Nothing is silently dropped: a stage that cannot process an input puts it here with the stage
name, where it came from (file path or message id, never a PHI value) and why. The payload is
kept so it can be replayed after a fix; it may hold PHI, so it is never stored in the clear
(ADR 0085): it is sealed (AES-256-GCM) under the patient's data key (scope ``quarantine``)
when the stage knows the patient, else under the project quarantine key. Listing shows
metadata only; ``get`` (show, export, replay) decrypts. A full revocation purges the
patient's items (``purge_patient``) and destroys their data key; an item whose patient becomes known
later is re-sealed under that patient's key and linked (``link``, ``link_unknown``), so the
next revocation finds it. Locations are stored printable (``printable_location``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clinflow.config import DataDir
from clinflow.crypto.datakeys import MAGIC as DATA_KEY_MAGIC
from clinflow.crypto.datakeys import DataKeyStore
from clinflow.crypto.keys import KeyRing
from clinflow.errors import KeyError_
from clinflow.interfaces import Rejection
from clinflow.sqlite_locked import LockedWalStore

QUARANTINE_SCOPE = "quarantine"  # the data-key scope of a patient's quarantined payloads
PROJECT_MAGIC = b"CFQ1"  # payload sealed under the project quarantine key
_NONCE = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created     REAL NOT NULL,
    stage       TEXT NOT NULL,
    location    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    patient     TEXT,
    payload     BLOB,
    status      TEXT NOT NULL DEFAULT 'open'
);
CREATE INDEX IF NOT EXISTS quarantine_status ON quarantine(status);
CREATE INDEX IF NOT EXISTS quarantine_patient ON quarantine(patient);
"""


def printable_location(text: str) -> str:
    """``text`` safe to store, print and log: undecodable bytes of a file name (kept by Python
    as lone surrogates, ``os.fsdecode``) shown as ``\\xff`` and control characters escaped.

    A file named ``b"bad\\xff.dcm"`` is shown as ``bad\\xff.dcm``; a valid UTF-8 name is
    unchanged. Used for every location the de-identifiers report, quarantine and audit.
    """
    if text.isprintable():
        return text
    return "".join(_printable_char(char) for char in text)


def _printable_char(char: str) -> str:
    if "\udc80" <= char <= "\udcff":  # an undecodable byte of a file name (surrogateescape)
        return f"\\x{ord(char) - 0xDC00:02x}"
    if char.isprintable() or char == " ":
        return char
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


@dataclass(frozen=True, slots=True)
class QuarantinedItem:
    id: int
    created: float
    stage: str
    location: str
    reason: str
    patient: str | None
    status: str
    payload: bytes | None = None


class QuarantineSeal:
    """Seals and opens quarantined payloads: a patient's data key, else the project key.

    The keys are opened on first use: a deployment passes its own data-key store and key
    ring; ``beside(db_path)`` finds them in the data directory the store file is in.
    """

    def __init__(
        self,
        datakeys: Callable[[], DataKeyStore],
        project_key: Callable[[], bytes],
        owns_datakeys: bool = False,
    ) -> None:
        self._datakeys_factory = datakeys
        self._project_key_factory = project_key
        self._datakeys: DataKeyStore | None = None
        self._project: AESGCM | None = None
        self._owns_datakeys = owns_datakeys

    @classmethod
    def for_keys(cls, datakeys: DataKeyStore, keyring: KeyRing) -> QuarantineSeal:
        return cls(lambda: datakeys, keyring.quarantine_key)

    @classmethod
    def beside(cls, db_path: Path) -> QuarantineSeal:
        """The keys of the data directory ``db_path`` is in (its key folder and data keys)."""
        data_dir = DataDir(db_path.parent)
        keyring = KeyRing(data_dir.keys)
        return cls(
            lambda: DataKeyStore(data_dir.datakeys_db, keyring.master_key()),
            keyring.quarantine_key,
            owns_datakeys=True,
        )

    @property
    def datakeys(self) -> DataKeyStore:
        if self._datakeys is None:
            self._datakeys = self._datakeys_factory()
        return self._datakeys

    def _project_aead(self) -> AESGCM:
        if self._project is None:
            self._project = AESGCM(self._project_key_factory())
        return self._project

    def seal(self, patient: str | None, payload: bytes, aad: bytes) -> bytes:
        if patient:
            return self.datakeys.seal(patient, QUARANTINE_SCOPE, payload, aad=aad)
        nonce = os.urandom(_NONCE)
        header = PROJECT_MAGIC + nonce
        return header + self._project_aead().encrypt(nonce, payload, header + aad)

    def open(self, token: bytes, aad: bytes) -> bytes:
        """The payload; ``KeyError_`` when its key is destroyed or the token was tampered with."""
        if token.startswith(DATA_KEY_MAGIC):
            return self.datakeys.open(token, aad=aad)
        if not token.startswith(PROJECT_MAGIC) or len(token) < len(PROJECT_MAGIC) + _NONCE + 16:
            raise KeyError_("quarantined payload is not sealed (written by an older build?)")
        header = token[: len(PROJECT_MAGIC) + _NONCE]
        try:
            return self._project_aead().decrypt(
                header[len(PROJECT_MAGIC) :], token[len(header) :], header + aad
            )
        except InvalidTag as exc:
            raise KeyError_("quarantined payload fails authentication (wrong key?)") from exc

    def close(self) -> None:
        if self._owns_datakeys and self._datakeys is not None:
            self._datakeys.close()
            self._datakeys = None


def _aad(stage: str, location: str) -> bytes:
    """Binds a sealed payload to its row: it cannot be moved to another item unnoticed."""
    return b"clinflow-quarantine\x00" + stage.encode() + b"\x00" + location.encode()


Resolver = Callable[[str, bytes], "str | None"]  # (stage, payload) -> patient pseudonym


class Quarantine(LockedWalStore):
    """SQLite-backed dead-letter store (WAL), one per data directory; payloads sealed."""

    def __init__(self, path: Path, seal: QuarantineSeal | None = None) -> None:
        self.path = path
        self.seal = seal if seal is not None else QuarantineSeal.beside(path)
        # secure_delete: a purged item's (sealed) bytes are overwritten, not left in free pages
        super().__init__(path, _SCHEMA, secure_delete=True)

    def close(self) -> None:
        super().close()
        self.seal.close()

    def put(self, rejection: Rejection) -> int:
        """Store one rejected input, its payload sealed; returns its quarantine id.

        ``location`` and ``reason`` are stored printable (an undecodable file name is shown
        with ``\\xNN`` escapes); they must not hold PHI, the payload may.
        """
        stage, payload = rejection.stage, rejection.payload
        location = printable_location(rejection.location)
        reason = printable_location(rejection.reason)
        patient = rejection.patient or None
        aad = _aad(stage, location)
        sealed = None if payload is None else self.seal.seal(patient, payload, aad)
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO quarantine(created, stage, location, reason, patient, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), stage, location, reason, patient, sealed),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def list(self, status: str | None = "open", stage: str | None = None) -> list[QuarantinedItem]:
        """Items without their payloads (metadata only: nothing is decrypted)."""
        sql = "SELECT id, created, stage, location, reason, patient, status FROM quarantine"
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if stage is not None:
            clauses.append("stage = ?")
            params.append(stage)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._lock, closing(self._conn.execute(sql + " ORDER BY id", params)) as cur:
            return [QuarantinedItem(*row) for row in cur.fetchall()]

    def _row(self, item_id: int) -> QuarantinedItem | None:
        with self._lock, closing(
            self._conn.execute(
                "SELECT id, created, stage, location, reason, patient, status, payload"
                " FROM quarantine WHERE id = ?",
                (item_id,),
            )
        ) as cur:
            row = cur.fetchone()
        return QuarantinedItem(*row) if row else None

    def get(self, item_id: int) -> QuarantinedItem | None:
        """One item with its payload decrypted (``KeyError_`` once its key is destroyed)."""
        item = self._row(item_id)
        if item is None or item.payload is None:
            return item
        plain = self.seal.open(bytes(item.payload), _aad(item.stage, item.location))
        return replace(item, payload=plain)

    def replay(self, item_id: int, handler: Callable[[QuarantinedItem], None]) -> None:
        """Run ``handler`` on a quarantined item; mark it replayed only if it succeeds."""
        item = self.get(item_id)
        if item is None:
            raise LookupError(f"quarantine item {item_id} not found")
        handler(item)
        with self._lock:
            self._conn.execute(
                "UPDATE quarantine SET status = 'replayed' WHERE id = ?", (item_id,)
            )

    def link(self, item_id: int, patient: str) -> bool:
        """Attach an item held without a patient to ``patient``: its payload is re-sealed
        under that patient's data key, so the patient's revocation purges and shreds it.
        False when the item is gone or already has a patient."""
        item = self.get(item_id)
        if item is None or item.patient is not None:
            return False
        aad = _aad(item.stage, item.location)
        sealed = None if item.payload is None else self.seal.seal(patient, item.payload, aad)
        with self._transaction():
            cur = self._conn.execute(
                "UPDATE quarantine SET patient = ?, payload = ? WHERE id = ? AND patient IS NULL",
                (patient, sealed, item_id),
            )
        return cur.rowcount == 1

    def link_unknown(self, resolve: Resolver) -> int:
        """Link every item without a patient whose payload ``resolve`` (stage, payload) can
        now attribute to a patient; the number linked. Items it cannot open are skipped."""
        with self._lock, closing(
            self._conn.execute(
                "SELECT id FROM quarantine WHERE patient IS NULL AND payload IS NOT NULL"
                " ORDER BY id"
            )
        ) as cur:
            candidates = [row[0] for row in cur.fetchall()]
        linked = 0
        for item_id in candidates:
            try:
                item = self.get(item_id)
            except KeyError_:
                continue
            if item is None or item.payload is None:
                continue
            patient = resolve(item.stage, item.payload)
            if patient and self.link(item_id, patient):
                linked += 1
        return linked

    def purge_patient(self, patient: str) -> int:
        """Delete every item held for a pseudonymous patient (consent revocation); the number
        of items deleted. The revocation then destroys the data key they were sealed under
        (scope ``quarantine``), audited and listed on its receipt, so copies in a backup or an
        old WAL frame stay unreadable."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM quarantine WHERE patient = ?", (patient,))
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no sealed copy left in WAL
        return cur.rowcount

    def purge_items(self, item_ids: Iterable[int]) -> int:
        """Delete the given items (retention elapsed: ``clinflow retention enforce``), as
        ``purge_patient`` does (rows gone, bytes overwritten, WAL truncated); the number
        deleted. Destroying the data key is the caller's decision: other items may share it."""
        ids = sorted(set(item_ids))
        if not ids:
            return 0
        with self._lock:
            with self._transaction():
                cur = self._conn.executemany(
                    "DELETE FROM quarantine WHERE id = ?", [(item_id,) for item_id in ids]
                )
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no sealed copy left in WAL
        return cur.rowcount

    def __iter__(self) -> Iterator[QuarantinedItem]:
        return iter(self.list(status=None))

    def count_for(self, patient: str) -> int:
        """How many items (any status) are held for ``patient`` (indexed)."""
        return self._count_where("SELECT count(*) FROM quarantine", "patient", patient)

    def count(self, status: str | None = "open") -> int:
        return len(self.list(status=status))
