"""A WAL-mode SQLite store whose one connection is shared by threads behind one lock.

The embedded stores (runtime ledger, scoring store, quarantine, lineage index, research
index, data keys, API tokens) each open one connection (``open_wal``) that every thread of
the process uses; Python's ``sqlite3`` connection is not safe to use from two threads at
once, so each use holds the store's lock. The lock is re-entrant: a store method may call
another one (the lineage index lends it to its patient merges). Opening, a locked write
transaction, counting rows (all, or one patient's or hop's) and closing are the same for such
stores, so they live here once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clinflow.sqlite_store import open_wal, where_equal, write_transaction


class LockedWalStore:
    """One ``open_wal`` connection and the (re-entrant) lock every use of it holds."""

    def __init__(
        self,
        path: Path,
        schema: str,
        *,
        synchronous: str = "NORMAL",
        secure_delete: bool = False,
    ) -> None:
        self._conn = open_wal(path, schema, synchronous=synchronous, secure_delete=secure_delete)
        self._lock = threading.RLock()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The lock held and ``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any error)."""
        with self._lock, write_transaction(self._conn) as conn:
            yield conn

    def _count_where(self, sql: str, column: str, value: str | None) -> int:
        """The count ``sql`` selects, narrowed to rows whose ``column`` is ``value`` when one is
        given (``where_equal``; ``column`` comes from the store's own schema)."""
        query, params = where_equal(sql, column, value)
        with self._lock:
            return int(self._conn.execute(query, params).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
