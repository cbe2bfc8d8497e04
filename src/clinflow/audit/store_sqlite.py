"""SQLite (WAL, synchronous=FULL) audit store: the embedded default at ``<data-dir>/audit.db``.

Durability: every batch is one transaction committed with ``synchronous=FULL`` in WAL mode,
so the WAL is fsynced before ``append_batch`` returns; an acknowledged entry survives kill -9
and power loss (ADR 0011). Triggers ``RAISE(ABORT)`` on UPDATE and DELETE of every table.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clinflow.audit.store import NewEntry, SearchQuery, StoredCheckpoint, index_row
from clinflow.errors import AuditIntegrityError, ClinflowError, ConfigError

TABLES = ("audit_entries", "audit_index", "audit_checkpoints")

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
    idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_index (
    idx INTEGER PRIMARY KEY, patient TEXT, agent TEXT, action TEXT, code TEXT,
    purpose TEXT, outcome TEXT, recorded TEXT, entity_types TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,
    signed_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_index_patient ON audit_index(patient, idx);
CREATE INDEX IF NOT EXISTS audit_index_agent ON audit_index(agent, idx);
CREATE INDEX IF NOT EXISTS audit_index_code ON audit_index(code, idx);
CREATE INDEX IF NOT EXISTS audit_index_purpose ON audit_index(purpose, idx);
CREATE INDEX IF NOT EXISTS audit_index_recorded ON audit_index(recorded, idx);
"""

TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {table}_no_{op} BEFORE {verb} ON {table}
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {verb} refused on {table}'); END;
"""


def _blob(value: Any) -> bytes:
    """Column value as bytes (a tampered row may hold TEXT where a BLOB belongs)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return b""
    return bytes(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_where(query: SearchQuery, placeholder: str) -> tuple[str, list[Any]]:
    """WHERE clause over ``audit_index i`` shared by the SQLite and PostgreSQL stores."""
    clauses: list[str] = []
    params: list[Any] = []
    for name in ("patient", "agent", "action", "code", "purpose", "outcome"):
        value = getattr(query, name)
        if value is not None:
            clauses.append(f"i.{name} = {placeholder}")
            params.append(value)
    if query.since is not None:
        clauses.append(f"i.recorded >= {placeholder}")
        params.append(query.since)
    if query.until is not None:
        clauses.append(f"i.recorded <= {placeholder}")
        params.append(query.until)
    if query.entity_type is not None:  # entity_types is ",kind1,kind2," (no wildcards used)
        clauses.append(f"{{contains}}(i.entity_types, {placeholder}) > 0")
        params.append(f",{query.entity_type},")
    if query.after is not None:
        clauses.append(f"i.idx {'<' if query.descending else '>'} {placeholder}")
        params.append(query.after)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class SqliteStore:
    """Append-only audit tables in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._write_lock = threading.Lock()
        try:
            self._write = self._connect()
            # Fewer WAL checkpoints (each one fsyncs the database file); durability unchanged.
            self._write.execute("PRAGMA wal_autocheckpoint=10000")
            # Random-order inserts into the (patient, idx)... indexes need their upper pages
            # cached once the log is large: 64 MiB of page cache for the writer.
            self._write.execute("PRAGMA cache_size=-65536")
            with self._write_lock:
                self._write.executescript(SCHEMA)
                columns = {row[1] for row in self._write.execute("PRAGMA table_info(audit_index)")}
                if "entity_types" not in columns:
                    raise ConfigError(
                        f"audit store {self.path}: written by an older clinflow build "
                        "(no audit_index.entity_types); move it aside"
                    )
                for table in TABLES:
                    for op, verb in (("update", "UPDATE"), ("delete", "DELETE")):
                        self._write.execute(TRIGGER.format(table=table, op=op, verb=verb))
        except sqlite3.Error as exc:
            raise ClinflowError(f"audit store {self.path}: cannot open ({exc})") from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _read(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._write_lock:
                self._readers.append(conn)
        return conn

    def size(self) -> int:
        row = self._read().execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries").fetchone()
        return int(row[0])

    def append_batch(self, entries: Sequence[NewEntry]) -> int:
        with self._write_lock:
            conn = self._write
            try:
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries")
                start = int(row.fetchone()[0])
                conn.executemany(
                    "INSERT INTO audit_entries(idx, leaf, entry) VALUES (?, ?, ?)",
                    [(start + i, e.leaf, e.entry) for i, e in enumerate(entries)],
                )
                conn.executemany(
                    "INSERT INTO audit_index VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(start + i, *index_row(e.fields)) for i, e in enumerate(entries)],
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise ClinflowError(f"audit store {self.path}: write failed ({exc})") from exc
        return start

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self._read().execute(
            "SELECT idx, leaf FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end),
        )
        leaves = []
        for expected, (idx, leaf) in enumerate(rows, start):
            if idx != expected:
                raise AuditIntegrityError(f"audit store: entry {expected} missing")
            leaves.append(_blob(leaf))
        if len(leaves) != end - start:
            raise AuditIntegrityError(f"audit store: entry {start + len(leaves)} missing")
        return leaves

    def iter_entries(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        conn = self._connect()  # own connection: a long read must not share a cursor
        try:
            cursor = conn.execute(
                "SELECT idx, leaf, entry FROM audit_entries WHERE idx >= ? ORDER BY idx", (start,)
            )
            cursor.arraysize = 4096
            while rows := cursor.fetchmany():
                for idx, leaf, entry in rows:
                    yield int(idx), _blob(leaf), _blob(entry)
        finally:
            conn.close()

    def iter_index(self, start: int = 0) -> Iterator[tuple[int, tuple[str | None, ...]]]:
        conn = self._connect()
        try:
            cursor = conn.execute(
                "SELECT idx, patient, agent, action, code, purpose, outcome, recorded, "
                "entity_types FROM audit_index WHERE idx >= ? ORDER BY idx",
                (start,),
            )
            cursor.arraysize = 4096
            while rows := cursor.fetchmany():
                for row in rows:
                    yield int(row[0]), tuple(row[1:])
        finally:
            conn.close()

    def get_entry(self, index: int) -> bytes | None:
        row = (
            self._read()
            .execute("SELECT entry FROM audit_entries WHERE idx = ?", (index,))
            .fetchone()
        )
        return None if row is None else _blob(row[0])

    def _checkpoint_rows(self, sql: str) -> list[StoredCheckpoint]:
        return [
            StoredCheckpoint(int(seq), int(size), bytes(root), str(note), str(signed))
            for seq, size, root, note, signed in self._read().execute(sql)
        ]

    def checkpoints(self) -> list[StoredCheckpoint]:
        return self._checkpoint_rows(
            "SELECT seq, size, root, note, signed_at FROM audit_checkpoints ORDER BY seq"
        )

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self._checkpoint_rows(
            "SELECT seq, size, root, note, signed_at FROM audit_checkpoints "
            "ORDER BY seq DESC LIMIT 1"
        )
        return rows[0] if rows else None

    def add_checkpoint(
        self, size: int, root: bytes, note: str, expected_latest: int | None
    ) -> bool:
        with self._write_lock:
            conn = self._write
            try:
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute("SELECT MAX(seq) FROM audit_checkpoints").fetchone()
                if row[0] != expected_latest:
                    conn.execute("ROLLBACK")
                    return False
                conn.execute(
                    "INSERT INTO audit_checkpoints(size, root, note, signed_at) "
                    "VALUES (?, ?, ?, ?)",
                    (size, root, note, _now()),
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise ClinflowError(f"audit store {self.path}: write failed ({exc})") from exc
        return True

    def search(self, query: SearchQuery) -> list[tuple[int, bytes]]:
        where, params = build_where(query, "?")
        where = where.replace("{contains}", "instr")
        order = "DESC" if query.descending else "ASC"
        sql = (
            "SELECT i.idx, e.entry FROM audit_index i JOIN audit_entries e ON e.idx = i.idx"
            f"{where} ORDER BY i.idx {order} LIMIT ?"
        )
        rows = self._read().execute(sql, [*params, query.limit])
        return [(int(idx), _blob(entry)) for idx, entry in rows]

    def close(self) -> None:
        with self._write_lock:
            self._write.close()
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
