"""Opening the embedded SQLite stores the same way everywhere.

Every embedded store (quarantine, lineage, research index, data keys, consent registry) is a
WAL-mode database shared by threads and, through WAL, by processes; ``busy_timeout`` makes a
concurrent writer wait rather than fail. The audit log has its own stricter settings
(``synchronous=FULL``, ADR 0011).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")


OPEN_ATTEMPTS = 60  # about 10 s of retries with backoff


def retry_while_locked(attempt: Callable[[], _T], what: str) -> _T:
    """Run ``attempt`` again while SQLite says the database is locked or busy.

    Two processes creating the same new database at once (two Kafka workers starting on one
    data directory) can get SQLITE_BUSY straight away — switching to WAL and ``CREATE ...
    IF NOT EXISTS`` in a deferred transaction do not wait on the busy handler when waiting
    could deadlock — so opening retries with a short, growing, jittered pause.
    """
    delay = 0.005
    for number in range(OPEN_ATTEMPTS):
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            message = str(exc).lower()
            if ("locked" not in message and "busy" not in message) or number + 1 == OPEN_ATTEMPTS:
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 1.5, 0.5)
    raise AssertionError(f"unreachable: {what}")


def open_wal(
    path: Path,
    schema: str,
    *,
    synchronous: str = "NORMAL",
    secure_delete: bool = False,
) -> sqlite3.Connection:
    """Open (creating parents and ``schema``) a WAL-mode SQLite database in autocommit mode."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def attempt() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            if secure_delete:
                conn.execute("PRAGMA secure_delete=ON")
            conn.executescript(schema)
        except BaseException:
            conn.close()
            raise
        return conn

    return retry_while_locked(attempt, str(path))


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
