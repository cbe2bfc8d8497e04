"""Append-only storage of consent history and revocation receipts: SQLite or PostgreSQL.

Both backends keep one ``consent_history`` table: a global sequence number, the patient's
pseudonym, a per-patient version (1, 2, ...), the kind of event (``consent`` or
``revocation``) and its JSON body. Rows are never updated or deleted (triggers refuse it), so
the history of what the patient allowed, and when, can always be replayed. Receipts are kept
the same way. ``changed()`` is a cheap check that another writer appended something, which
lets every process's decision cache notice a revocation at once.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from clinflow.errors import ConfigError
from clinflow.sqlite_locked import LockedWalStore
from clinflow.sqlite_store import secure_file

PG_DSN_ENV = "CLINFLOW_PG_DSN"
DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class HistoryRow:
    seq: int
    patient: str
    version: int
    kind: str  # "consent" | "revocation"
    item_id: str
    recorded_at: float
    body: dict[str, Any]


class ConsentStore(Protocol):
    def append(self, patient: str, kind: str, item_id: str, body: dict[str, Any]) -> HistoryRow:
        ...

    def rows_for(self, patient: str) -> list[HistoryRow]: ...

    def rows_since(self, seq: int) -> list[HistoryRow]: ...

    def last_seq(self) -> int: ...

    def changed(self) -> bool: ...

    def patients(self) -> list[str]: ...

    def save_receipt(self, receipt_id: str, patient: str, body: dict[str, Any]) -> None: ...

    def receipts(self, patient: str | None = None) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    patient     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (patient, version)
);
CREATE TRIGGER IF NOT EXISTS consent_history_no_update BEFORE UPDATE ON consent_history
BEGIN SELECT RAISE(ABORT, 'consent_history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS consent_history_no_delete BEFORE DELETE ON consent_history
BEGIN SELECT RAISE(ABORT, 'consent_history is append-only'); END;
CREATE TABLE IF NOT EXISTS consent_receipts (
    receipt_id  TEXT PRIMARY KEY,
    patient     TEXT NOT NULL,
    created     REAL NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_receipts_patient ON consent_receipts(patient);
CREATE TRIGGER IF NOT EXISTS consent_receipts_no_update BEFORE UPDATE ON consent_receipts
BEGIN SELECT RAISE(ABORT, 'consent_receipts is append-only'); END;
CREATE TRIGGER IF NOT EXISTS consent_receipts_no_delete BEFORE DELETE ON consent_receipts
BEGIN SELECT RAISE(ABORT, 'consent_receipts is append-only'); END;
"""


def _body(raw: Any) -> dict[str, Any]:
    """A JSON body as stored: text (SQLite) or already decoded (PostgreSQL JSONB)."""
    return orjson.loads(raw) if isinstance(raw, str | bytes) else dict(raw)


def _row(raw: Sequence[Any]) -> HistoryRow:
    return HistoryRow(
        seq=int(raw[0]),
        patient=raw[1],
        version=int(raw[2]),
        kind=raw[3],
        item_id=raw[4],
        recorded_at=float(raw[5]),
        body=_body(raw[6]),
    )


_COLUMNS = "seq, patient, version, kind, item_id, recorded_at, body"


class _SqlConsentStore:
    """What both backends share: the reads, receipts and change detection. ``_PARAM`` is the
    driver's placeholder, ``_SAVE_RECEIPT`` its insert-unless-present of a receipt."""

    _PARAM = "?"
    _SAVE_RECEIPT: str
    _conn: Any
    _lock: threading.RLock
    _seen: int  # the change counter at the last ``changed()``

    def _change_counter(self) -> int:
        """A number that every committed write makes larger."""
        raise NotImplementedError

    def changed(self) -> bool:
        """True when any writer committed since the last call."""
        current = self._change_counter()
        if current == self._seen:
            return False
        self._seen = current
        return True

    def save_receipt(self, receipt_id: str, patient: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                self._SAVE_RECEIPT,
                (receipt_id, patient, time.time(), orjson.dumps(body).decode()),
            )

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return list(self._conn.execute(sql.replace("?", self._PARAM), params).fetchall())

    def rows_for(self, patient: str) -> list[HistoryRow]:
        sql = f"SELECT {_COLUMNS} FROM consent_history WHERE patient = ? ORDER BY seq"
        return [_row(r) for r in self._query(sql, (patient,))]

    def rows_since(self, seq: int) -> list[HistoryRow]:
        sql = f"SELECT {_COLUMNS} FROM consent_history WHERE seq > ? ORDER BY seq"
        return [_row(r) for r in self._query(sql, (seq,))]

    def last_seq(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(seq), 0) FROM consent_history")[0][0])

    def patients(self) -> list[str]:
        sql = "SELECT DISTINCT patient FROM consent_history ORDER BY 1"
        return [r[0] for r in self._query(sql)]

    def receipts(self, patient: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT body FROM consent_receipts"
        params: tuple[str, ...] = ()
        if patient is not None:
            sql, params = sql + " WHERE patient = ?", (patient,)
        return [_body(r[0]) for r in self._query(sql + " ORDER BY created, receipt_id", params)]


class SqliteConsentStore(_SqlConsentStore, LockedWalStore):
    """Embedded backend: one SQLite file in WAL mode (``<data-dir>/consent.db``)."""

    _SAVE_RECEIPT = (
        "INSERT OR IGNORE INTO consent_receipts(receipt_id, patient, created, body)"
        " VALUES (?, ?, ?, ?)"
    )

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            LockedWalStore.__init__(self, path, _SQLITE_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"{path}: cannot open consent registry ({exc})") from exc
        self._signal_fd, self._signal = _open_signal(path.with_name(path.name + "-signal"))
        self._seen = self._read_signal()

    def _read_signal(self) -> int:
        return int(struct.unpack_from("<Q", self._signal)[0])

    def _change_counter(self) -> int:
        """An 8-byte counter in a shared memory-mapped file (``consent.db-signal``) that
        every writer bumps after committing: a fraction of a microsecond, so every decision
        can afford ``changed()``."""
        return self._read_signal()

    def _bump_signal(self) -> None:
        """After a commit: bump the shared change counter (under an exclusive file lock)."""
        fcntl.flock(self._signal_fd, fcntl.LOCK_EX)
        try:
            struct.pack_into("<Q", self._signal, 0, self._read_signal() + 1)
        finally:
            fcntl.flock(self._signal_fd, fcntl.LOCK_UN)

    def append(self, patient: str, kind: str, item_id: str, body: dict[str, Any]) -> HistoryRow:
        with self._lock:
            with self._transaction() as conn:
                (version,) = conn.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM consent_history WHERE patient = ?",
                    (patient,),
                ).fetchone()
                now = time.time()
                text = orjson.dumps(body).decode()
                cur = conn.execute(
                    "INSERT INTO consent_history(patient, version, kind, item_id, recorded_at,"
                    " body) VALUES (?, ?, ?, ?, ?, ?)",
                    (patient, version, kind, item_id, now, text),
                )
            self._bump_signal()
            assert cur.lastrowid is not None
            return HistoryRow(cur.lastrowid, patient, int(version), kind, item_id, now, body)

    def append_many(self, items: Sequence[tuple[str, str, str, dict[str, Any]]]) -> int:
        """Append (patient, kind, item_id, body) rows in one transaction (bulk loads)."""
        with self._lock:
            with self._transaction() as conn:
                versions: dict[str, int] = {}
                now = time.time()
                rows = []
                for patient, kind, item_id, body in items:
                    if patient not in versions:
                        (versions[patient],) = conn.execute(
                            "SELECT COALESCE(MAX(version), 0) FROM consent_history"
                            " WHERE patient = ?",
                            (patient,),
                        ).fetchone()
                    versions[patient] += 1
                    rows.append((patient, versions[patient], kind, item_id, now,
                                 orjson.dumps(body).decode()))
                conn.executemany(
                    "INSERT INTO consent_history(patient, version, kind, item_id, recorded_at,"
                    " body) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
            self._bump_signal()
            return len(rows)

    def close(self) -> None:
        with self._lock:
            LockedWalStore.close(self)
            self._signal.close()
            os.close(self._signal_fd)


def _open_signal(path: Path) -> tuple[int, mmap.mmap]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    secure_file(path)  # one left 0644 by an older build (ADR 0086)
    if os.fstat(fd).st_size < 8:
        os.ftruncate(fd, 8)
    return fd, mmap.mmap(fd, 8)


_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_history (
    seq         BIGSERIAL PRIMARY KEY,
    patient     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    recorded_at DOUBLE PRECISION NOT NULL,
    body        JSONB NOT NULL,
    UNIQUE (patient, version)
);
CREATE TABLE IF NOT EXISTS consent_receipts (
    receipt_id  TEXT PRIMARY KEY,
    patient     TEXT NOT NULL,
    created     DOUBLE PRECISION NOT NULL,
    body        JSONB NOT NULL
);
CREATE OR REPLACE FUNCTION clinflow_consent_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS consent_history_append_only ON consent_history;
CREATE TRIGGER consent_history_append_only BEFORE UPDATE OR DELETE ON consent_history
FOR EACH ROW EXECUTE FUNCTION clinflow_consent_append_only();
DROP TRIGGER IF EXISTS consent_receipts_append_only ON consent_receipts;
CREATE TRIGGER consent_receipts_append_only BEFORE UPDATE OR DELETE ON consent_receipts
FOR EACH ROW EXECUTE FUNCTION clinflow_consent_append_only();
"""


class PostgresConsentStore(_SqlConsentStore):
    """Distributed backend: the same tables in PostgreSQL (DSN from ``CLINFLOW_PG_DSN``).

    ``schema`` isolates deployments (and tests) sharing one database.
    """

    _PARAM = "%s"
    _SAVE_RECEIPT = (
        "INSERT INTO consent_receipts(receipt_id, patient, created, body)"
        " VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (receipt_id) DO NOTHING"
    )

    def __init__(self, dsn: str | None = None, schema: str = "clinflow_consent") -> None:
        import psycopg

        self._psycopg = psycopg
        dsn = dsn or os.environ.get(PG_DSN_ENV, DEFAULT_PG_DSN)
        if not schema.replace("_", "").isalnum():
            raise ConfigError(f"consent registry schema name {schema!r} is not an identifier")
        self.schema = schema
        self._lock = threading.RLock()
        try:
            self._conn = psycopg.connect(dsn, autocommit=True)
            self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            self._conn.execute(f"SET search_path TO {schema}")
            self._conn.execute(_PG_SCHEMA)
        except psycopg.Error as exc:
            raise ConfigError(
                f"PostgreSQL consent registry unavailable ({type(exc).__name__})"
            ) from exc
        self._seen = self.last_seq()

    def append(self, patient: str, kind: str, item_id: str, body: dict[str, Any]) -> HistoryRow:
        text = orjson.dumps(body).decode()
        with self._lock:
            for _attempt in range(20):
                try:
                    with self._conn.transaction():
                        row = self._conn.execute(
                            "INSERT INTO consent_history(patient, version, kind, item_id,"
                            " recorded_at, body) SELECT %s, COALESCE(MAX(version), 0) + 1, %s,"
                            " %s, %s, %s::jsonb FROM consent_history WHERE patient = %s"
                            " RETURNING seq, version, recorded_at",
                            (patient, kind, item_id, time.time(), text, patient),
                        ).fetchone()
                except self._psycopg.errors.UniqueViolation:
                    continue  # a concurrent writer took this version; retry
                assert row is not None
                return HistoryRow(int(row[0]), patient, int(row[1]), kind, item_id,
                                  float(row[2]), body)
        raise ConfigError("consent registry: could not append after repeated conflicts")

    def _change_counter(self) -> int:
        return self.last_seq()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
