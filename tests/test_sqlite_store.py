"""Opening a store must never drop the SQLite locks this process already holds on it.

Closing any descriptor of a file drops every POSIX lock the process holds on that file
(SQLite's too). ``open_wal`` on a database this process has open already (ledger.db holds the
ledger and the patient directory) once opened and closed a descriptor to set permissions:
the first connection's write lock vanished, another process could write at the same time,
and the Kafka workers stalled.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from clinflow.sqlite_store import open_wal

_SCHEMA = "CREATE TABLE IF NOT EXISTS t (x INTEGER);"

_OTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
count = conn.execute("SELECT count(*) FROM t").fetchone()[0]
conn.close()  # last connection? (when our locks are gone): checkpoints, drops the WAL
print(count)
"""


def _other_process_reads(path: Path) -> int:
    result = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(path)],
                            capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return int(result.stdout.strip())


def test_a_second_open_in_this_process_keeps_the_first_connection_s_locks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    first = open_wal(path, _SCHEMA)
    first.execute("INSERT INTO t VALUES (1)")
    second = open_wal(path, _SCHEMA)  # another store on the same file, same process

    assert _other_process_reads(path) == 1  # and it closes: must not delete our WAL
    first.execute("INSERT INTO t VALUES (2)")
    second.execute("INSERT INTO t VALUES (3)")

    assert _other_process_reads(path) == 3  # our later writes are visible to others
    first.close()
    second.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_a_new_store_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "store.db"
    conn = open_wal(path, _SCHEMA)
    conn.close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone() == (0,)
