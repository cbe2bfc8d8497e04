"""Opening the embedded SQLite stores the same way everywhere, owner-only on disk.

Every embedded store (quarantine, lineage, research index, data keys, consent registry) is a
WAL-mode database shared by threads and, through WAL, by processes; ``busy_timeout`` makes a
concurrent writer wait rather than fail. The audit log has its own stricter settings
(``synchronous=FULL``, ADR 0011) but takes its file permissions from here too.

Permissions (ADR 0086): every store file and its ``-wal``/``-shm`` is 0600 in a 0700 folder.
``secure_store_file`` creates the database file 0600 before SQLite opens it (SQLite gives the
``-wal`` and ``-shm`` files it creates the mode of the database file) and tightens files that
already exist, so a data directory written by an older build is fixed on the next open.
"""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")


OPEN_ATTEMPTS = 60  # about 10 s of retries with backoff
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def secure_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) 0700; tighten an existing folder we own.

    Group and other bits are removed only from a folder this user owns and that is not a
    shared sticky folder (``/tmp``): a data directory pointed at by mistake is not changed.
    """
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    info = path.stat()
    if (
        info.st_uid == os.getuid()
        and not info.st_mode & stat.S_ISVTX
        and stat.S_IMODE(info.st_mode) & 0o077
    ):
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
    return path


def secure_file(path: Path) -> None:
    """Make an existing file owner-only (0600); a missing file is left alone."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """``open(..., opener=private_opener)``: a file it creates is owner-only (0600)."""
    return os.open(path, flags, PRIVATE_FILE)


def secure_store_file(path: Path) -> Path:
    """Prepare a SQLite store file to be opened: 0700 folder, file (created if missing) and
    its ``-wal``/``-shm``/``-journal`` 0600. Call it before ``sqlite3.connect(path)``."""
    secure_dir(path.parent)
    # Never open and close a descriptor on a database file that may already be open: closing
    # any descriptor of a file drops every POSIX lock this process holds on it, SQLite's
    # included (https://sqlite.org/howtocorrupt.html, 2.2) -- a second store on the same file
    # in one process (ledger.db: the ledger and the patient directory) then loses its locks.
    # Only a file that does not exist yet is created here (O_EXCL: nobody has it open).
    if not path.exists():
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        except FileExistsError:
            pass  # created meanwhile by another opener: tightened below by path
    for candidate in (path, *(path.with_name(path.name + s) for s in SQLITE_SIDE_FILES)):
        secure_file(candidate)
    return path


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
    """Open (creating parents and ``schema``) a WAL-mode SQLite database in autocommit mode,
    owner-only on disk (``secure_store_file``)."""
    secure_store_file(path)

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


def where_equal(sql: str, column: str, value: str | None) -> tuple[str, tuple[str, ...]]:
    """``sql`` and its parameters, narrowed to rows whose ``column`` equals ``value`` when one
    is given (a store's optional filter: one patient's rows, or all). ``column`` is a name from
    the calling store's own schema, never user input."""
    if value is None:
        return sql, ()
    return f"{sql} WHERE {column} = ?", (value,)
