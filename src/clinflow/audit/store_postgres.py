"""PostgreSQL audit store for the distributed runtime (same tables as SQLite, prefixed).

Every table gets a trigger that raises on UPDATE, DELETE and TRUNCATE. ``append_batch`` takes
an exclusive lock on the entries table, so concurrent writers (workers) get consecutive
indices; the transaction commits with ``synchronous_commit`` on (server default), so an
acknowledged batch is on the server's disk.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from clinflow.audit._sql import (
    INDEX_COLUMNS,
    NewEntry,
    SearchQuery,
    StoredCheckpoint,
    build_where,
    contiguous_leaves,
    utc_timestamp,
)
from clinflow.errors import ClinflowError, ConfigError

_PREFIX_RE = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


class PostgresStore:
    """Append-only audit tables ``<prefix>_entries`` etc. in one PostgreSQL database."""

    def __init__(self, dsn: str, prefix: str = "audit") -> None:
        if not _PREFIX_RE.match(prefix):
            raise ConfigError(f"audit table prefix {prefix!r} must match {_PREFIX_RE.pattern}")
        self.dsn = dsn
        self.p = prefix
        self._lock = threading.Lock()
        try:
            self._write = psycopg.connect(dsn)
            self._readconn = psycopg.connect(dsn, autocommit=True)
            self._create_schema()
        except psycopg.Error as exc:
            reason = type(exc).__name__
            raise ClinflowError(f"audit store (postgres): cannot open ({reason})") from exc

    def _create_schema(self) -> None:
        p = self.p
        with self._write.transaction():
            self._write.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (p,))
            self._write.execute(
                f"""
                CREATE TABLE IF NOT EXISTS {p}_entries (
                    idx BIGINT PRIMARY KEY, leaf BYTEA NOT NULL, entry BYTEA NOT NULL);
                CREATE TABLE IF NOT EXISTS {p}_index (
                    idx BIGINT PRIMARY KEY, patient TEXT, agent TEXT, action TEXT, code TEXT,
                    purpose TEXT, outcome TEXT, recorded TEXT, entity_types TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS {p}_checkpoints (
                    seq BIGSERIAL PRIMARY KEY, size BIGINT NOT NULL, root BYTEA NOT NULL,
                    note TEXT NOT NULL, signed_at TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS {p}_index_patient ON {p}_index(patient, idx);
                CREATE INDEX IF NOT EXISTS {p}_index_agent ON {p}_index(agent, idx);
                CREATE INDEX IF NOT EXISTS {p}_index_code ON {p}_index(code, idx);
                CREATE INDEX IF NOT EXISTS {p}_index_purpose ON {p}_index(purpose, idx);
                CREATE INDEX IF NOT EXISTS {p}_index_recorded ON {p}_index(recorded, idx);
                CREATE OR REPLACE FUNCTION {p}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'audit log is append-only: % refused on %',
                        TG_OP, TG_TABLE_NAME;
                END $$;
                """  # noqa: S608 - prefix validated above
            )
            for table in ("entries", "index", "checkpoints"):
                self._write.execute(
                    f"CREATE OR REPLACE TRIGGER {p}_{table}_append_only "
                    f"BEFORE UPDATE OR DELETE ON {p}_{table} "
                    f"FOR EACH ROW EXECUTE FUNCTION {p}_refuse()"
                )
                self._write.execute(
                    f"CREATE OR REPLACE TRIGGER {p}_{table}_no_truncate "
                    f"BEFORE TRUNCATE ON {p}_{table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {p}_refuse()"
                )

    def _fail(self, exc: psycopg.Error) -> ClinflowError:
        return ClinflowError(f"audit store (postgres): write failed ({type(exc).__name__}: {exc})")

    def size(self) -> int:
        with self._lock:
            row = (
                self._reader()
                .execute(f"SELECT COALESCE(MAX(idx) + 1, 0) FROM {self.p}_entries")
                .fetchone()
            )
        return int(row[0]) if row else 0

    def _reader(self) -> psycopg.Connection[Any]:
        """The read connection (lock held), reopened when the last one was lost."""
        if self._readconn.closed or self._readconn.broken:
            self._readconn.close()
            self._readconn = psycopg.connect(self.dsn, autocommit=True)
        return self._readconn

    def _writer(self) -> psycopg.Connection[Any]:
        """The write connection, reopened when the last one was lost (server restart, network):
        the failed batch was rolled back and reported; the next one goes to a new connection."""
        if self._write.closed or self._write.broken:
            self._write.close()
            self._write = psycopg.connect(self.dsn)
        return self._write

    def append_batch(self, entries: Sequence[NewEntry]) -> int:
        """One transaction per batch: two multi-row ``INSERT ... SELECT FROM unnest(...)``
        statements whose parameters are one array per column (built by ``zip`` in C, no
        per-row Python work); indices are ``start + ordinality - 1``, computed by the server."""
        p = self.p
        blobs, leaves, rows = zip(*entries, strict=True) if entries else ((), (), ())
        columns = list(zip(*rows, strict=True)) or [()] * len(INDEX_COLUMNS)
        with self._lock:
            try:
                conn = self._writer()
                with conn.transaction():
                    conn.execute(f"LOCK TABLE {p}_entries IN EXCLUSIVE MODE")
                    row = conn.execute(
                        f"SELECT COALESCE(MAX(idx) + 1, 0) FROM {p}_entries"
                    ).fetchone()
                    start = int(row[0]) if row else 0
                    conn.execute(
                        f"INSERT INTO {p}_entries (idx, leaf, entry) "
                        "SELECT %s + n - 1, leaf, entry FROM unnest(%s::bytea[], %s::bytea[]) "
                        "WITH ORDINALITY AS t(leaf, entry, n)",
                        (start, list(leaves), list(blobs)),
                    )
                    conn.execute(
                        f"INSERT INTO {p}_index (idx, patient, agent, action, code, purpose, "
                        "outcome, recorded, entity_types) "
                        "SELECT %s + n - 1, a, b, c, d, e, f, g, h FROM unnest("
                        "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
                        "%s::text[], %s::text[]) WITH ORDINALITY AS t(a, b, c, d, e, f, g, h, n)",
                        (start, *(list(column) for column in columns)),
                    )
            except psycopg.Error as exc:
                raise self._fail(exc) from exc
        return start

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        with self._lock:
            rows = (
                self._reader()
                .execute(
                    f"SELECT idx, leaf FROM {self.p}_entries "
                    "WHERE idx >= %s AND idx < %s ORDER BY idx",
                    (start, end),
                )
                .fetchall()
            )
        return contiguous_leaves(rows, start, end, bytes)

    def iter_entries(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        with psycopg.connect(self.dsn) as conn, conn.cursor(name="audit_verify") as cur:
            cur.itersize = 5000
            cur.execute(
                f"SELECT idx, leaf, entry FROM {self.p}_entries WHERE idx >= %s ORDER BY idx",
                (start,),
            )
            for idx, leaf, entry in cur:
                yield int(idx), bytes(leaf), bytes(entry)

    def iter_index(self, start: int = 0) -> Iterator[tuple[int, tuple[str | None, ...]]]:
        with psycopg.connect(self.dsn) as conn, conn.cursor(name="audit_verify_index") as cur:
            cur.itersize = 5000
            cur.execute(
                f"SELECT idx, patient, agent, action, code, purpose, outcome, recorded, "
                f"entity_types FROM {self.p}_index WHERE idx >= %s ORDER BY idx",
                (start,),
            )
            for row in cur:
                yield int(row[0]), tuple(row[1:])

    def get_entry(self, index: int) -> bytes | None:
        with self._lock:
            row = (
                self._reader()
                .execute(f"SELECT entry FROM {self.p}_entries WHERE idx = %s", (index,))
                .fetchone()
            )
        return None if row is None else bytes(row[0])

    def _checkpoint_rows(self, suffix: str) -> list[StoredCheckpoint]:
        with self._lock:
            rows = (
                self._reader()
                .execute(
                    f"SELECT seq, size, root, note, signed_at FROM {self.p}_checkpoints {suffix}"
                )
                .fetchall()
            )
        return [
            StoredCheckpoint(int(seq), int(size), bytes(root), str(note), str(signed))
            for seq, size, root, note, signed in rows
        ]

    def checkpoints(self) -> list[StoredCheckpoint]:
        return self._checkpoint_rows("ORDER BY seq")

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self._checkpoint_rows("ORDER BY seq DESC LIMIT 1")
        return rows[0] if rows else None

    def add_checkpoint(
        self, size: int, root: bytes, note: str, expected_latest: int | None
    ) -> bool:
        p = self.p
        with self._lock:
            try:
                with self._write.transaction():
                    self._write.execute(f"LOCK TABLE {p}_checkpoints IN EXCLUSIVE MODE")
                    row = self._write.execute(f"SELECT MAX(seq) FROM {p}_checkpoints").fetchone()
                    if (row[0] if row else None) != expected_latest:
                        return False
                    self._write.execute(
                        f"INSERT INTO {p}_checkpoints (size, root, note, signed_at) "
                        "VALUES (%s, %s, %s, %s)",
                        (size, root, note, utc_timestamp()),
                    )
            except psycopg.Error as exc:
                raise self._fail(exc) from exc
        return True

    def search(self, query: SearchQuery) -> list[tuple[int, bytes]]:
        where, params = build_where(query, "%s")
        where = where.replace("{contains}", "strpos")
        order = "DESC" if query.descending else "ASC"
        sql = (
            f"SELECT i.idx, e.entry FROM {self.p}_index i JOIN {self.p}_entries e "
            f"ON e.idx = i.idx{where} ORDER BY i.idx {order} LIMIT %s"
        )
        params_all: list[Any] = [*params, query.limit]
        with self._lock:
            rows = self._reader().execute(sql, params_all).fetchall()
        return [(int(idx), bytes(entry)) for idx, entry in rows]

    def drop_all(self) -> None:
        """Drop this prefix's tables (tests and teardown only: DROP bypasses row triggers)."""
        p = self.p
        with self._lock, self._write.transaction():
            for table in ("entries", "index", "checkpoints"):
                self._write.execute(f"DROP TABLE IF EXISTS {p}_{table} CASCADE")
            self._write.execute(f"DROP FUNCTION IF EXISTS {p}_refuse() CASCADE")

    def close(self) -> None:
        with self._lock:
            self._write.close()
            self._readconn.close()
