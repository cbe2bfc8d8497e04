"""Opening the embedded SQLite stores the same way everywhere.

Every embedded store (quarantine, lineage, research index, data keys, consent registry) is a
WAL-mode database shared by threads and, through WAL, by processes; ``busy_timeout`` makes a
concurrent writer wait rather than fail. The audit log has its own stricter settings
(``synchronous=FULL``, ADR 0011).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def open_wal(
    path: Path,
    schema: str,
    *,
    synchronous: str = "NORMAL",
    secure_delete: bool = False,
) -> sqlite3.Connection:
    """Open (creating parents and ``schema``) a WAL-mode SQLite database in autocommit mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    if secure_delete:
        conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(schema)
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` on an autocommit connection; ``ROLLBACK`` on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
