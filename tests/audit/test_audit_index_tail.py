"""Side-index rows written in batches (ADR 0110): a search finds every stored entry whether or
not its index row is written yet (same process, another process, after kill -9), the tail is
written by the next flush, and ``verify`` accepts a tail but still names a gap or an altered
row."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.audit import AuditLog, SearchQuery, store_sqlite
from clinflow.audit import log as audit_log
from clinflow.audit.index_tail import derive_row
from clinflow.audit.store_sqlite import INDEX_FLUSH_ROWS, SqliteStore
from clinflow.config import DataDir

from .helpers import PATIENTS, failures, raw, sample_event, verify

KINDS = ["message", "consent", "nonexistent"]
TIMES = ["2000-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2999-01-01T00:00:00Z"]


@pytest.fixture(autouse=True)
def _flush_by_count_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No flush by age or idleness here: what these tests hold must still be held when they
    look, however slow the machine."""
    monkeypatch.setattr(store_sqlite, "INDEX_FLUSH_SECONDS", 3600.0)
    monkeypatch.setattr(audit_log, "IDLE_INDEX_FLUSH_SECONDS", 3600.0)


def _indexed(data_dir: DataDir) -> int:
    conn = raw(data_dir)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM audit_index").fetchone()[0])
    finally:
        conn.close()


queries = st.builds(
    SearchQuery,
    patient=st.none() | st.sampled_from(PATIENTS),
    agent=st.none() | st.sampled_from(["triage", "clinflow-ingest", "nobody"]),
    action=st.none() | st.sampled_from(["C", "R"]),
    entity_type=st.none() | st.sampled_from(KINDS),
    since=st.none() | st.sampled_from(TIMES),
    until=st.none() | st.sampled_from(TIMES),
    after=st.none() | st.integers(min_value=-1, max_value=70),
    limit=st.integers(min_value=0, max_value=30),
    descending=st.booleans(),
    merged=st.sampled_from([(), (PATIENTS[1],)]),
)


@pytest.fixture()
def tail_and_reference(data_dir: Path) -> Iterator[tuple[AuditLog, SqliteStore, SqliteStore]]:
    """60 entries, the last 35 of them with index rows held by the writer; another connection
    to the same file; and a copy of the file with all 60 rows written (the reference)."""
    deployment = DataDir.open(data_dir)
    log = AuditLog.open(deployment, batch_wait=0)
    log.append_many([sample_event(i) for i in range(25)])
    log.store.flush_index()  # type: ignore[attr-defined]
    log.append_many([sample_event(i) for i in range(25, 60)])
    assert _indexed(deployment) == 25
    copy = data_dir.parent / "reference.db"
    source = sqlite3.connect(deployment.audit_db)
    with sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    reference = SqliteStore(copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    tail = conn.execute("SELECT idx, entry FROM audit_entries WHERE idx >= 25").fetchall()
    for idx, entry in tail:
        row = (idx, *derive_row(entry))
        conn.execute("INSERT INTO audit_index VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    conn.close()
    other = SqliteStore(deployment.audit_db)
    yield log, other, reference
    other.close()
    reference.close()
    log.close()
    assert _indexed(deployment) == 60  # close wrote the held rows


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=queries)
def test_unindexed_tail_answers_searches_like_the_index(
    tail_and_reference: tuple[AuditLog, SqliteStore, SqliteStore], query: SearchQuery
) -> None:
    """Held rows (the writer's process) and rows derived from the entries (another
    connection) answer every search with the same entries, in the same order, as the index."""
    log, other, reference = tail_and_reference
    expected = reference.search(query)
    assert log.search(query) == expected
    assert other.search(query) == expected


def test_index_rows_are_written_in_batches_not_per_commit(data_dir: Path) -> None:
    deployment = DataDir.open(data_dir)
    with AuditLog.open(deployment, batch_wait=0) as log:
        for i in range(30):
            log.append(sample_event(i))  # 30 commits
        assert _indexed(deployment) == 0
        assert log.search(SearchQuery(patient=PATIENTS[0], limit=100)) == [
            (i, log.get_entry(i)) for i in range(0, 30, len(PATIENTS))
        ]
        log.append_many([sample_event(i) for i in range(30, 30 + INDEX_FLUSH_ROWS)])
        assert _indexed(deployment) == 30 + INDEX_FLUSH_ROWS  # one flush, with that batch
    report = verify(deployment)
    assert report.ok and report.unindexed == 0, failures(report)


CHILD = r"""
import sys
from clinflow.audit import AuditLog
from clinflow.config import DataDir
sys.path.insert(0, sys.argv[2])
from audit.helpers import sample_event

import clinflow.audit.store_sqlite as store_sqlite
store_sqlite.INDEX_FLUSH_SECONDS = 3600.0  # no flush by age: the rows must still be held
log = AuditLog.open(DataDir.open(sys.argv[1]), batch_wait=0)
log._flush_index = None  # nor by an idle writer
for i in range(int(sys.argv[3])):
    log.append(sample_event(i))
print("appended", flush=True)
sys.stdin.readline()  # killed here, index rows held in memory
"""


def test_after_kill_9_the_tail_is_searchable_verifies_and_is_indexed_by_the_next_writer(
    data_dir: Path,
) -> None:
    count = 50
    tests = Path(__file__).resolve().parents[1]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), str(tests), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"appended"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
    deployment = DataDir.open(data_dir)
    assert _indexed(deployment) == 0
    report = verify(deployment)
    assert report.ok and report.entries == count and report.unindexed == count, failures(report)
    store = SqliteStore(deployment.audit_db)
    try:
        found = store.search(SearchQuery(patient=PATIENTS[2], limit=100, descending=True))
        assert [i for i, _ in found] == list(range(count - 3, -1, -len(PATIENTS)))
    finally:
        store.close()
    with AuditLog.open(deployment, batch_wait=0) as log:
        log.append(sample_event(count))
    assert _indexed(deployment) == count + 1  # the crashed tail derived from its entries
    report = verify(deployment)
    assert report.ok and report.unindexed == 0, failures(report)


def test_a_gap_inside_the_index_is_still_named(data_dir: Path) -> None:
    deployment = DataDir.open(data_dir)
    with AuditLog.open(deployment, batch_wait=0) as log:
        log.append_many([sample_event(i) for i in range(20)])
    conn = raw(deployment)
    conn.execute("DELETE FROM audit_index WHERE idx = 7")
    conn.execute("DELETE FROM audit_index WHERE idx = 19")  # the last row: now tail
    conn.close()
    report = verify(deployment)
    assert failures(report) == ["index row 7: missing from the search index"]
    assert report.unindexed == 1


def test_two_writers_on_one_file_index_each_others_entries_without_a_gap(data_dir: Path) -> None:
    """Two logs on one SQLite file (as two processes would be) interleave commits; each
    search sees all entries, each flush derives the other's rows, the index ends gap-free."""
    deployment = DataDir.open(data_dir)
    first = AuditLog.open(deployment, batch_wait=0)
    second = AuditLog.open(deployment, batch_wait=0)
    try:
        for i in range(40):
            (first if i % 3 else second).append(sample_event(i))
        for log in (first, second):
            found = log.search(SearchQuery(patient=PATIENTS[1], limit=100))
            assert [i for i, _ in found] == list(range(1, 40, len(PATIENTS)))
        first.store.flush_index()  # type: ignore[attr-defined]
        assert _indexed(deployment) == 40  # the second log's rows derived from its entries
        second.append_many([sample_event(i) for i in range(40, 45)])
    finally:
        first.close()
        second.close()
    report = verify(deployment)
    assert report.ok and report.entries == 45 and report.unindexed == 0, failures(report)
