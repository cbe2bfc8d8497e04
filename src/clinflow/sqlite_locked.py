"""A WAL-mode SQLite store whose one connection is shared by threads behind one lock.

The runtime's ledger and the scoring store each open one connection (``open_wal``) that every
thread of the process uses; Python's ``sqlite3`` connection is not safe to use from two threads
at once, so each call holds the store's lock. Counting rows (all, or one patient's or hop's)
and closing are the same for such stores, so they live here once.
"""

from __future__ import annotations

import threading
from pathlib import Path

from clinflow.sqlite_store import open_wal, where_equal


class LockedWalStore:
    """One ``open_wal`` connection and the lock every use of it holds."""

    def __init__(self, path: Path, schema: str, *, secure_delete: bool = False) -> None:
        self._conn = open_wal(path, schema, secure_delete=secure_delete)
        self._lock = threading.Lock()

    def _count_where(self, sql: str, column: str, value: str | None) -> int:
        """The count ``sql`` selects, narrowed to rows whose ``column`` is ``value`` when one is
        given (``where_equal``; ``column`` comes from the store's own schema)."""
        query, params = where_equal(sql, column, value)
        with self._lock:
            return int(self._conn.execute(query, params).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
