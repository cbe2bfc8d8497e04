"""Chaos on the audit store (issue 13, slow): disk full, database locked for a while, and
kill -9 of a writer on PostgreSQL.

Each fault hits a child process appending AuditEvents and printing every index only after its
append returned (acknowledged). Afterwards: every acknowledged index is present, the stored
log has no gap and no repeated message id (nothing written twice), it verifies, and appending
works again once the fault is gone. The disk-full child must end with ``AuditUnavailable``
naming the store, not a bare ``sqlite3`` error or a traceback from the writer thread.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from clinflow.audit import AuditLog, events
from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.audit.store import AuditStore, open_store
from clinflow.audit.verify import trusted_verifiers, verify_log
from clinflow.config import DataDir
from helpers.chaos import runs
from helpers.fuzz import tally

pytestmark = pytest.mark.slow

# Appends until told to stop or until a ClinflowError, printing "index message_id" after each
# acknowledged append; argv: data dir, dsn ('' for SQLite), table prefix, file-size limit
# (0: none), seconds to run, a tag that makes this child's message ids unique.
CHILD = r"""
import resource, signal, sys, time
from clinflow.audit import AuditLog, events
from clinflow.config import DataDir
from clinflow.errors import ClinflowError

data_dir, dsn, prefix, limit, seconds, tag = sys.argv[1:7]
log = AuditLog.open(DataDir.open(data_dir), dsn=dsn or None, table_prefix=prefix,
                    checkpoint_every=100)
if int(limit):
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
end, i = time.monotonic() + float(seconds), 0
try:
    while time.monotonic() < end:
        batch = [(f"{tag}-{i}-{k}", events.ingest(patient=f"PT-{i % 50:016x}",
                                                  message_id=f"{tag}-{i}-{k}", source_kind="fhir"))
                 for k in range(1 if i % 4 else 10)]
        indices = log.append_many([event for _, event in batch])
        sys.stdout.write("".join(f"{n} {m}\n" for n, (m, _) in zip(indices, batch)))
        sys.stdout.flush()
        i += 1
except ClinflowError as exc:
    sys.stderr.write(f"STOPPED {type(exc).__name__}: {exc}\n")
    raise SystemExit(3)
log.close()
"""


def _child(data_dir: Path, dsn: str = "", prefix: str = "audit", limit: int = 0,
           seconds: float = 60) -> subprocess.Popen[str]:  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), dsn, prefix, str(limit), str(seconds),
         uuid.uuid4().hex[:8]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def _acknowledged(out: str) -> dict[int, str]:
    acked = {}
    for line in out.splitlines():
        index, message_id = line.split()
        acked[int(index)] = message_id
    return acked


def _check(store: AuditStore, root: DataDir, acked: dict[int, str]) -> tuple[int, int]:
    """(acknowledged entries lost, message ids stored twice); the log must verify."""
    stored = {}
    for index, _, entry in store.iter_entries():
        stored[index] = orjson.loads(entry)["entity"][0]["what"]["identifier"]["value"]
    lost = sum(1 for index, message_id in acked.items() if stored.get(index) != message_id)
    values = list(stored.values())
    duplicates = len(values) - len(set(values))
    assert sorted(stored) == list(range(len(stored))), "the stored log has a gap"
    report = verify_log(store, trusted_verifiers(root, DEFAULT_ORIGIN, []), origin=DEFAULT_ORIGIN)
    assert report.ok, [str(f) for f in report.failures]
    return lost, duplicates


def _message_id_path_ok(root: DataDir) -> None:
    """The entry layout _check reads (entity[0].what.identifier.value = the message id)."""
    log = AuditLog.open(root)
    try:
        index = log.append(events.ingest(patient="PT-00000000000000aa", message_id="probe",
                                         source_kind="fhir"))  # fmt: skip
        entry = orjson.loads(log.get_entry(index) or b"{}")
        assert entry["entity"][0]["what"]["identifier"]["value"] == "probe"
    finally:
        log.close()


def test_disk_full_stops_appends_clearly_and_loses_nothing(data_dir: Path) -> None:
    root = DataDir.open(data_dir)
    _message_id_path_ok(root)
    lost = duplicates = 0
    for run in range(runs()):
        limit = 600_000 + run * 700_000  # bytes any one file may grow to: WAL hits it first
        child = _child(data_dir, limit=limit)
        out, err = child.communicate(timeout=300)
        assert child.returncode == 3, err[-2000:]
        [stopped] = [line for line in err.splitlines() if line.startswith("STOPPED")]
        assert stopped.startswith("STOPPED AuditUnavailable: audit log: entries not stored")
        assert str(root.audit_db) in stopped and "write failed" in stopped
        assert "Traceback" not in err
        acked = _acknowledged(out)
        store = open_store(root)
        try:
            run_lost, run_duplicates = _check(store, root, acked)
        finally:
            store.close()
        lost += run_lost
        duplicates += run_duplicates
        tally("chaos:audit-disk-full")
        # the fault gone (no limit), the same log takes appends again and still verifies
        recovered = _child(data_dir, seconds=1)
        out, err = recovered.communicate(timeout=120)
        assert recovered.returncode == 0, err[-2000:]
        assert _acknowledged(out), "no append after the disk had room again"
    assert lost == 0 and duplicates == 0
    tally("chaos:acknowledged-lost", lost)
    tally("chaos:duplicates", duplicates)


def test_database_locked_for_a_while_loses_nothing(data_dir: Path) -> None:
    root = DataDir.open(data_dir)
    _message_id_path_ok(root)
    child = _child(data_dir, seconds=6 + 4 * runs())
    assert child.stdout is not None
    windows = []
    try:
        for _ in range(runs()):
            time.sleep(1.5)
            holder = sqlite3.connect(root.audit_db, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            holder.execute("CREATE TABLE IF NOT EXISTS chaos_lock (x)")  # holds the write lock
            locked_at = time.time()
            time.sleep(2.5)
            holder.execute("ROLLBACK")
            holder.close()
            windows.append((locked_at, time.time()))
            tally("chaos:audit-db-locked")
        out, err = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err[-2000:]
    acked = _acknowledged(out)
    store = open_store(root)
    try:
        lost, duplicates = _check(store, root, acked)
    finally:
        store.close()
    assert len(acked) > 100, "too few appends to be a test"
    assert lost == 0 and duplicates == 0
    tally("chaos:acknowledged-lost", lost)
    tally("chaos:duplicates", duplicates)


@pytest.fixture()
def pg_prefix(postgres_dsn: str) -> Iterator[str]:
    from clinflow.audit.store_postgres import PostgresStore

    prefix = "audit_chaos" + uuid.uuid4().hex[:10]
    yield prefix
    cleanup = PostgresStore(postgres_dsn, prefix=prefix)
    cleanup.drop_all()
    cleanup.close()


@pytest.mark.postgres
def test_kill_9_of_a_postgres_writer_loses_nothing(
    data_dir: Path, postgres_dsn: str, pg_prefix: str
) -> None:
    root = DataDir.open(data_dir)
    acked: dict[int, str] = {}
    for run in range(runs()):
        child = _child(data_dir, dsn=postgres_dsn, prefix=pg_prefix)
        assert child.stdout is not None
        target = 300 + 200 * run
        count = 0
        deadline = time.monotonic() + 60
        while count < target and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            index, message_id = line.split()
            acked[int(index)] = message_id
            count += 1
        os.kill(child.pid, signal.SIGKILL)
        rest, err = child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL, err[-2000:]
        acked.update(_acknowledged(rest))
        tally("chaos:audit-postgres-kill9")
        assert count >= 100, "the child acknowledged too few entries to be a test"
    store = open_store(root, postgres_dsn, pg_prefix)
    try:
        lost, duplicates = _check(store, root, acked)
    finally:
        store.close()
    assert lost == 0 and duplicates == 0
    tally("chaos:acknowledged-lost", lost)
    tally("chaos:duplicates", duplicates)
