"""SQLite (WAL, synchronous=FULL) audit store: the embedded default at ``<data-dir>/audit.db``.

Durability: every batch is one transaction committed with ``synchronous=FULL`` in WAL mode,
so the WAL is fsynced before ``append_batch`` returns; an acknowledged entry survives kill -9
and power loss (ADR 0011). WAL checkpoints run in a background thread, finished between two
commits on the writer's connection so that the WAL restarts; they never decide durability
(ADR 0014, ADR 0130). Side-index rows are written in batches, not in every commit: a search
covers the entries not yet indexed (ADR 0110, ``audit.index_tail``). Triggers ``RAISE(ABORT)``
on UPDATE and DELETE of every table.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import chain, count
from operator import add
from pathlib import Path
from typing import Any

from clinflow.audit._sql import (
    NewEntry,
    SearchQuery,
    StoredCheckpoint,
    blobs_of,
    build_where,
    contiguous_leaves,
    entry_bytes,
    entry_params,
    index_params,
    utc_timestamp,
)
from clinflow.audit.index_tail import PendingRows, derive_row, pairs_of, row_filter, runs_from
from clinflow.audit.search_fields import Row
from clinflow.errors import ClinflowError, ConfigError
from clinflow.sqlite_store import retry_while_locked, secure_store_file

TABLES = ("audit_entries", "audit_index", "audit_checkpoints")

# The patient index is keyed by (idx >> PATIENT_BUCKET_BITS, patient): appends touch only the
# newest bucket's pages instead of random leaves across the whole index, so a commit writes a
# bounded number of index pages however large the log grows (ADR 0014). Patient searches seek
# bucket by bucket (~31 seeks at 1M entries). Secondary indexes end in the implicit rowid (idx),
# which already orders each key's entries for ``ORDER BY idx``.
PATIENT_BUCKET_BITS = 15
# New databases only (an existing file keeps its page size): 1.3 KB entries waste a third of a
# 4 KiB page (two rows fit), about 8% of a 16 KiB page.
PAGE_SIZE = 16384
# WAL checkpoints (copying committed frames into the database file and fsyncing it) run in a
# background thread on its own connection, overlapping the writer's commits; the writer's own
# automatic checkpoint is only the fallback when the WAL grows past this many bytes.
WAL_AUTOCHECKPOINT_BYTES = 256 * 1024 * 1024
# The background checkpoint runs once this many entry bytes were committed since the last one
# (small commits, e.g. audited API queries, do not each add a database-file fsync). It races
# the writer and never copies the frames committed meanwhile, so the writer finishes it between
# two commits (``maintain``: a few frames and one fsync); the next commit then restarts the WAL
# at its beginning and overwrites pages the file already has. Left to the background pass
# alone the WAL never restarted and grew to the automatic checkpoint's 256 MiB, every commit's
# fsync extending the file — several times the cost of an overwrite here (ADR 0130).
BACKGROUND_CHECKPOINT_BYTES = 2 * 1024 * 1024
# The WAL file is cut back to this size when it restarts after a larger burst.
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
# Most rows per multi-row INSERT (9 columns x 2,048 = 18,432 bound parameters, under SQLite's
# limit of 32,766); a power of two (``_chunks``).
ROWS_PER_INSERT = 2048
_MAX_CHUNK_BITS = ROWS_PER_INSERT.bit_length() - 1
# Side-index rows are written once this many entries are unindexed, or once the oldest held
# row is this old (at the next commit, an idle tick or close), in the same transaction as a
# batch of entries (ADR 0110): one write of the index pages for many entries instead of ~30
# B-tree pages of WAL per small commit. A search matches the unindexed tail in Python, so this
# also bounds the work a search does on it.
INDEX_FLUSH_ROWS = 1024
INDEX_FLUSH_SECONDS = 0.25

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
    idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_index (
    idx INTEGER PRIMARY KEY, patient TEXT, agent TEXT, action TEXT, code TEXT,
    purpose TEXT, outcome TEXT, recorded TEXT, entity_types TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,
    signed_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_index_patient_bucket
    ON audit_index(idx >> {bucket_bits}, patient);
CREATE INDEX IF NOT EXISTS audit_index_agent ON audit_index(agent);
CREATE INDEX IF NOT EXISTS audit_index_code ON audit_index(code);
CREATE INDEX IF NOT EXISTS audit_index_purpose ON audit_index(purpose);
CREATE INDEX IF NOT EXISTS audit_index_recorded ON audit_index(recorded);
""".replace("{bucket_bits}", str(PATIENT_BUCKET_BITS))

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


@lru_cache(maxsize=32)
def _insert_sql(target: str, width: int, rows: int) -> str:
    # Anonymous ``?`` only: binding a sequence to numbered ``?NNN`` parameters makes the
    # sqlite3 module look up every parameter's name, a linear scan each (quadratic per chunk).
    row = "(" + ", ".join("?" * width) + ")"
    return f"INSERT INTO {target} VALUES " + ", ".join([row] * rows)


def _chunks(total: int) -> Iterator[tuple[int, int]]:
    """(offset, rows) pieces of ``total`` rows, each a power of two up to ``ROWS_PER_INSERT``.

    A multi-row INSERT is compiled once per distinct row count (the sqlite3 module's statement
    cache holds 128): with batches of any size, a chunk per batch size meant compiling a new
    statement for most commits and every index flush — 5-12 ms for ~1,000 rows, with the GIL
    held. Power-of-two pieces keep it to 12 statements per table, each compiled once (ADR 0116).
    """
    offset = 0
    while offset < total:
        rows = 1 << min((total - offset).bit_length() - 1, _MAX_CHUNK_BITS)
        yield offset, rows
        offset += rows


def _insert_rows(
    conn: sqlite3.Connection,
    target: str,
    width: int,
    start: int,
    entries: Sequence[NewEntry],
    params: Callable[[Sequence[NewEntry], int], Iterable[Any]],
) -> None:
    """Insert one row per entry (index ``start + i``, then its columns: ``width`` in all)
    with multi-row INSERT statements of power-of-two row counts (``_chunks``).

    One statement execution per chunk instead of one per row (``executemany``): fewer trips
    through the sqlite3 module and the VDBE per row, and one GIL release for the chunk's
    rows instead of one per row; the batch's rows and order are unchanged. ``params``
    flattens a chunk's rows with C-level iterators (no Python frame per entry).
    """
    for offset, rows in _chunks(len(entries)):
        chunk = entries[offset : offset + rows]
        conn.execute(_insert_sql(target, width, rows), list(params(chunk, start + offset)))


def _insert_index_pairs(conn: sqlite3.Connection, pairs: Iterable[tuple[int, Row]]) -> None:
    """Insert side-index rows given as (index, columns) pairs (power-of-two chunks)."""
    pending = list(pairs)
    for offset, rows in _chunks(len(pending)):
        indices, columns = zip(*pending[offset : offset + rows], strict=True)  # C-level
        sql = _insert_sql("audit_index", 9, rows)
        conn.execute(sql, list(chain.from_iterable(map(add, zip(indices), columns))))


def _size(conn: sqlite3.Connection) -> int:
    """One past the last stored entry."""
    return int(conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries").fetchone()[0])


def _indexed_end(conn: sqlite3.Connection) -> int:
    """One past the last side-index row: the index covers entries ``[0, this)``."""
    return int(conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_index").fetchone()[0])


class SqliteStore:
    """Append-only audit tables in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._write_lock = threading.Lock()
        self._checkpointer: threading.Thread | None = None
        self._wal_frames = threading.Event()  # set every BACKGROUND_CHECKPOINT_BYTES committed
        self._finish_checkpoint = False  # a background pass ended: the writer finishes it
        self._stopping = False
        self._bytes_since_checkpoint = 0
        self._pending = PendingRows()  # index rows of committed entries, not yet written
        self._indexed_to = 0  # the index holds rows for [0, this) (last seen; may be behind)
        self._derived: dict[int, Row] = {}  # tail rows derived from stored entries (searches)
        self._derived_lock = threading.Lock()
        try:
            secure_store_file(self.path)  # 0600 file and -wal/-shm, 0700 folder (ADR 0086)
            self._write = retry_while_locked(self._open_writer, str(self.path))
        except sqlite3.Error as exc:
            raise ClinflowError(f"audit store {self.path}: cannot open ({exc})") from exc

    def _open_writer(self) -> sqlite3.Connection:
        """The writer connection with the schema in place (retried while another process
        creates the same file: see ``sqlite_store.retry_while_locked``)."""
        self._write = self._connect(page_size=PAGE_SIZE)
        try:
            # Fewer WAL checkpoints (each one fsyncs the database file); durability unchanged.
            page_size = int(self._write.execute("PRAGMA page_size").fetchone()[0])
            pages = WAL_AUTOCHECKPOINT_BYTES // page_size
            self._write.execute(f"PRAGMA wal_autocheckpoint={pages}")
            self._write.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
            # Index inserts need their upper pages cached once the log is large: 64 MiB of
            # page cache for the writer.
            self._write.execute("PRAGMA cache_size=-65536")
            with self._write_lock:
                self._write.executescript(SCHEMA)
                self._migrate_patient_index()
                columns = {row[1] for row in self._write.execute("PRAGMA table_info(audit_index)")}
                if "entity_types" not in columns:
                    raise ConfigError(
                        f"audit store {self.path}: written by an older clinflow build "
                        "(no audit_index.entity_types); move it aside"
                    )
                for table in TABLES:
                    for op, verb in (("update", "UPDATE"), ("delete", "DELETE")):
                        self._write.execute(TRIGGER.format(table=table, op=op, verb=verb))
        except BaseException:
            self._write.close()
            raise
        return self._write

    def _connect(self, page_size: int | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        if page_size is not None:  # takes effect only while the file is still empty
            conn.execute(f"PRAGMA page_size={int(page_size)}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _migrate_patient_index(self) -> None:
        """Files written before ADR 0014 carry ``audit_index_patient(patient, idx)``; the
        bucketed index built by SCHEMA replaces it (an index is derived data: dropping it
        removes no row, and the append-only triggers stay)."""
        old = self._write.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = 'audit_index_patient'"
        ).fetchone()
        if old is not None:
            self._write.execute("DROP INDEX IF EXISTS audit_index_patient")

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
        """Store entries in one durable transaction; their side-index rows go in with a later
        batch (or this one) once enough are unindexed (ADR 0110)."""
        with self._write_lock:
            conn = self._write
            if self._finish_checkpoint:  # nobody called maintain() since the pass ended
                self._checkpoint_rest(conn)
            try:
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries")
                start = int(row.fetchone()[0])
                entries_table = "audit_entries(idx, leaf, entry)"
                _insert_rows(conn, entries_table, 3, start, entries, entry_params)
                indexed = self._index_due(conn, start, len(entries))
                if indexed:
                    self._write_index(conn, start + len(entries), (start, entries))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise ClinflowError(f"audit store {self.path}: write failed ({exc})") from exc
            if indexed:
                self._pending.clear()
            else:
                self._pending.add(start, entries)
            self._bytes_since_checkpoint += entry_bytes(entries)
            if self._bytes_since_checkpoint >= BACKGROUND_CHECKPOINT_BYTES:
                self._bytes_since_checkpoint = 0
                if self._checkpointer is None:
                    self._checkpointer = threading.Thread(
                        target=self._checkpoint_loop, name="audit-wal-checkpoint", daemon=True
                    )
                    self._checkpointer.start()
                self._wal_frames.set()
        return start

    def maintain(self) -> None:
        """Between two commits (the AuditLog writer calls it once a batch's callers are
        released): finish an ended background checkpoint pass, so the next commit restarts
        the WAL. ``append_batch`` does it before its next commit when nobody called this."""
        if self._finish_checkpoint:
            with self._write_lock:
                if self._finish_checkpoint:
                    self._checkpoint_rest(self._write)

    def _checkpoint_rest(self, conn: sqlite3.Connection) -> None:
        """Copy the frames committed since the background pass (PASSIVE: never waits for a
        reader); a busy or failed one waits for the next pass."""
        self._finish_checkpoint = False
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass

    def _index_due(self, conn: sqlite3.Connection, start: int, adding: int) -> bool:
        """Whether this commit writes the side index: enough entries unindexed (this
        process's, another's or a crashed writer's), or this process's oldest row too old."""
        if self._pending.age() >= INDEX_FLUSH_SECONDS:
            return True
        unindexed = self._pending.rows + adding
        if unindexed < INDEX_FLUSH_ROWS and self._indexed_to + self._pending.rows >= start:
            return False  # every unindexed entry is ours, and too few (no query needed)
        self._indexed_to = _indexed_end(conn)
        return start + adding - self._indexed_to >= INDEX_FLUSH_ROWS

    def _write_index(
        self, conn: sqlite3.Connection, end: int, current: tuple[int, Sequence[NewEntry]]
    ) -> None:
        """Write the side-index rows of entries ``[w, end)`` (inside the caller's transaction):
        the held rows of this process's entries, rows derived from the stored entries for the
        others, so the index stays gap-free from 0."""
        first = _indexed_end(conn)
        runs = list(runs_from([*self._pending.batches(), current], first, end))
        if sum(len(run) for _, run in runs) == end - first:  # all ours: one contiguous run
            held = list(chain.from_iterable(run for _, run in runs))
            _insert_rows(conn, "audit_index", 9, first, held, index_params)
            self._indexed_to = end
            return
        pairs: dict[int, Row] = {}
        for start, run in runs:
            pairs.update(pairs_of(start, run))
        if len(pairs) < end - first:  # entries of other (or crashed) writers: derive them
            for idx, entry in conn.execute(
                "SELECT idx, entry FROM audit_entries WHERE idx >= ? AND idx < ?", (first, end)
            ):
                if idx not in pairs:
                    pairs[int(idx)] = derive_row(_blob(entry))
        _insert_index_pairs(conn, sorted(pairs.items()))
        self._indexed_to = end

    def flush_index(self) -> None:
        """Write the rows this process holds (idle tick, close); a failure leaves them for the
        next commit or the next writer (the entries are durable; search covers the tail)."""
        if not self._pending.rows:
            return
        with self._write_lock:
            conn = self._write
            try:
                conn.execute("BEGIN IMMEDIATE")
                end = _size(conn)
                self._write_index(conn, end, (end, ()))
                conn.execute("COMMIT")
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                return
            self._pending.clear()

    def _checkpoint_loop(self) -> None:
        """Copy committed WAL frames into the database file while the writer goes on.

        Durability does not depend on it: a commit is durable once its WAL frames are fsynced
        (``synchronous=FULL``). A busy or failed checkpoint is retried at the next signal; the
        writer's automatic checkpoint remains the fallback.
        """
        try:
            conn = self._connect()
        except sqlite3.Error:
            return
        try:
            while True:
                self._wal_frames.wait()
                self._wal_frames.clear()
                if self._stopping:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue
                self._finish_checkpoint = True
        finally:
            conn.close()

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self._read().execute(
            "SELECT idx, leaf FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end),
        )
        return contiguous_leaves(rows, start, end, _blob)

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
                    (size, root, note, utc_timestamp()),
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise ClinflowError(f"audit store {self.path}: write failed ({exc})") from exc
        return True

    def search(self, query: SearchQuery) -> list[tuple[int, bytes]]:
        """Entries matching ``query`` in index order: the side index below its end, then the
        tail not yet indexed (matched in Python, ADR 0110), read in one snapshot."""
        if query.limit <= 0:
            return []
        conn = self._read()
        conn.execute("BEGIN")  # one read snapshot: index end, indexed rows and tail agree
        try:
            indexed_end = _indexed_end(conn)
            size = _size(conn)
            tail = self._search_tail(conn, query, indexed_end, size) if size > indexed_end else []
            if query.descending:
                found = tail[: query.limit]
                found += self._search_index(conn, query, indexed_end, query.limit - len(found))
            else:
                found = self._search_index(conn, query, indexed_end, query.limit)
                found += tail[: query.limit - len(found)]
        finally:
            conn.execute("COMMIT")
        return found

    def _search_index(
        self, conn: sqlite3.Connection, query: SearchQuery, indexed_end: int, limit: int
    ) -> list[tuple[int, bytes]]:
        if limit <= 0 or indexed_end == 0:
            return []
        where, params = build_where(query, "?")
        where = where.replace("{contains}", "instr")
        order = "DESC" if query.descending else "ASC"
        select = "SELECT i.idx, e.entry FROM audit_index i JOIN audit_entries e ON e.idx = i.idx"
        if query.patient is None:
            sql = f"{select}{where} ORDER BY i.idx {order} LIMIT ?"
            return [(int(i), _blob(e)) for i, e in conn.execute(sql, [*params, limit])]
        # Patient searches go bucket by bucket in index order, each an index seek on
        # (bucket, patient) that yields rows already ordered by idx.
        sql = (
            f"{select}{where} AND (i.idx >> {PATIENT_BUCKET_BITS}) = ? "
            f"ORDER BY i.idx {order} LIMIT ?"
        )
        last_bucket = (indexed_end - 1) >> PATIENT_BUCKET_BITS
        if query.descending:
            top = last_bucket if query.after is None else (query.after >> PATIENT_BUCKET_BITS)
            buckets: Iterable[int] = range(min(top, last_bucket), -1, -1)
        else:
            first = 0 if query.after is None else max(0, query.after >> PATIENT_BUCKET_BITS)
            buckets = range(first, last_bucket + 1)
        found: list[tuple[int, bytes]] = []
        for bucket in buckets:
            wanted = limit - len(found)
            found.extend(
                (int(i), _blob(e)) for i, e in conn.execute(sql, [*params, bucket, wanted])
            )
            if len(found) >= limit:
                break
        return found

    def _search_tail(
        self, conn: sqlite3.Connection, query: SearchQuery, first: int, end: int
    ) -> list[tuple[int, bytes]]:
        """Matches among entries ``[first, end)`` (no index rows yet), in query order, at most
        ``query.limit``: rows this process holds, else derived from the stored entries (cached:
        entries never change)."""
        entries: dict[int, bytes] = {}
        rows: dict[int, Row] = {}
        for start, run in runs_from(self._pending.batches(), first, end):
            rows.update(pairs_of(start, run))
            entries.update(zip(count(start), blobs_of(run)))
        with self._derived_lock:
            for idx in [i for i in self._derived if i < first]:
                del self._derived[idx]  # indexed since: no longer tail
            missing = [i for i in range(first, end) if i not in rows and i not in self._derived]
            if missing:
                for idx, entry in conn.execute(
                    "SELECT idx, entry FROM audit_entries WHERE idx >= ? AND idx < ?",
                    (missing[0], missing[-1] + 1),
                ):
                    if idx not in rows:
                        self._derived[int(idx)] = derive_row(_blob(entry))
            for idx in range(first, end):
                if idx not in rows and idx in self._derived:
                    rows[idx] = self._derived[idx]
        matches = row_filter(query)
        order = range(end - 1, first - 1, -1) if query.descending else range(first, end)
        after = query.after
        hits: list[int] = []
        for idx in order:
            if after is not None and (idx >= after if query.descending else idx <= after):
                continue
            row = rows.get(idx)
            if row is not None and matches(row):
                hits.append(idx)
                if len(hits) >= query.limit:
                    break
        unknown = [i for i in hits if i not in entries]
        if unknown:
            marks = ", ".join("?" * len(unknown))
            sql = f"SELECT idx, entry FROM audit_entries WHERE idx IN ({marks})"
            entries.update((int(i), _blob(e)) for i, e in conn.execute(sql, unknown))
        return [(idx, entries[idx]) for idx in hits if idx in entries]

    def close(self) -> None:
        self.flush_index()
        self._stopping = True
        self._wal_frames.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        with self._write_lock:
            self._write.close()
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
