"""SQLite layout of the audit store (ADR 0014): bucketed patient index, page size, migration.

Patient searches seek bucket by bucket; these tests cross bucket boundaries and compare every
page of results, in both orders and from any cursor, with a brute-force filter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.audit.log import prepare
from clinflow.audit.search_fields import index_fields
from clinflow.audit.store import NewEntry, SearchQuery
from clinflow.audit.store_sqlite import PAGE_SIZE, PATIENT_BUCKET_BITS, SqliteStore

from .helpers import build_log, verify

BUCKET = 1 << PATIENT_BUCKET_BITS
PATIENTS = [f"PT-{i:016x}" for i in range(1, 8)]


def _patient_at(index: int) -> str | None:
    """Sparse, uneven patients: some buckets hold none of a patient's entries."""
    if index % 11 == 0:
        return None
    return PATIENTS[(index * index) % 5 if index < BUCKET else index % len(PATIENTS)]


@pytest.fixture(scope="module")
def spread_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SqliteStore, list[str | None]]]:
    """A store spanning three patient buckets (entries share bytes; search reads the index)."""
    from clinflow.audit import events

    path = tmp_path_factory.mktemp("layout") / "audit.db"
    store = SqliteStore(path)
    templates = {
        patient: prepare(events.ingest(patient=patient, message_id="m", source_kind="fhir"))
        for patient in PATIENTS
    }
    anonymous = prepare(events.data_generation(patients=1, seed=1, output="o"))
    total = 2 * BUCKET + 300
    patients = [_patient_at(i) for i in range(total)]
    batch: list[NewEntry] = []
    for patient in patients:
        batch.append(templates[patient] if patient else anonymous)
        if len(batch) == 8192:
            store.append_batch(batch)
            batch = []
    store.append_batch(batch)
    yield store, patients
    store.close()


def _expected(patients: list[str | None], q: SearchQuery) -> list[int]:
    hits = [i for i, p in enumerate(patients) if p == q.patient]
    if q.descending:
        hits.reverse()
        if q.after is not None:
            hits = [i for i in hits if i < q.after]
    elif q.after is not None:
        hits = [i for i in hits if i > q.after]
    return hits[: q.limit]


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    patient=st.sampled_from([*PATIENTS, "PT-ffffffffffffffff"]),
    descending=st.booleans(),
    after=st.one_of(st.none(), st.integers(-1, 2 * BUCKET + 400)),
    limit=st.sampled_from([1, 7, 50, 500]),
)
def test_patient_search_matches_brute_force_across_buckets(
    spread_store: tuple[SqliteStore, list[str | None]],
    patient: str,
    descending: bool,
    after: int | None,
    limit: int,
) -> None:
    store, patients = spread_store
    query = SearchQuery(patient=patient, descending=descending, after=after, limit=limit)
    assert [idx for idx, _ in store.search(query)] == _expected(patients, query)


def test_cursor_pagination_walks_every_entry_of_a_patient_once(
    spread_store: tuple[SqliteStore, list[str | None]],
) -> None:
    store, patients = spread_store
    for descending in (False, True):
        seen: list[int] = []
        after: int | None = None
        while page := store.search(
            SearchQuery(patient=PATIENTS[1], descending=descending, after=after, limit=997)
        ):
            seen.extend(idx for idx, _ in page)
            after = page[-1][0]
        expected = [i for i, p in enumerate(patients) if p == PATIENTS[1]]
        assert seen == (expected[::-1] if descending else expected)
        assert expected[0] < BUCKET < 2 * BUCKET < expected[-1]


def test_patient_search_uses_the_bucketed_index(
    spread_store: tuple[SqliteStore, list[str | None]],
) -> None:
    store, _ = spread_store
    conn = sqlite3.connect(store.path)
    plan = " ".join(
        str(row[3])
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT i.idx FROM audit_index i WHERE i.patient = ? "
            f"AND (i.idx >> {PATIENT_BUCKET_BITS}) = ? ORDER BY i.idx LIMIT 5",
            ("PT-1", 0),
        )
    )
    conn.close()
    assert "audit_index_patient_bucket" in plan and "TEMP B-TREE" not in plan


def test_new_files_use_large_pages(data_dir: Path) -> None:
    built = build_log(data_dir, n=5, every=5)
    conn = sqlite3.connect(built.audit_db)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    conn.close()


def test_old_file_migrates_patient_index_and_still_verifies(data_dir: Path) -> None:
    """A file written before ADR 0014 (4 KiB pages, ``audit_index_patient(patient, idx)``)
    opens: the old index is replaced, search and verify agree, nothing else changes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "audit.db"
    pre = sqlite3.connect(db, isolation_level=None)
    pre.execute("PRAGMA page_size=4096")
    pre.execute("PRAGMA journal_mode=WAL")
    pre.execute("CREATE TABLE placeholder(x)")  # fixes the page size, as old builds did
    pre.execute("DROP TABLE placeholder")
    pre.close()
    built = build_log(data_dir, n=30, every=10)
    assert built.audit_db == db
    old = sqlite3.connect(db, isolation_level=None)
    old.execute("DROP INDEX audit_index_patient_bucket")
    old.execute("CREATE INDEX audit_index_patient ON audit_index(patient, idx)")
    before = old.execute("SELECT idx, leaf, entry FROM audit_entries ORDER BY idx").fetchall()
    old.close()

    store = SqliteStore(db)
    names = {
        row[0]
        for row in sqlite3.connect(db).execute("SELECT name FROM sqlite_schema WHERE type='index'")
    }
    assert "audit_index_patient" not in names and "audit_index_patient_bucket" in names
    hits = store.search(SearchQuery(patient="PT-0000000000000002", limit=100))
    assert hits and all(b"PT-0000000000000002" in entry for _, entry in hits)
    expected = [
        i
        for i, (_, _, entry) in enumerate(before)
        if index_fields(_load(entry)).patient == "PT-0000000000000002"
    ]
    assert [i for i, _ in hits] == expected
    store.close()
    after = sqlite3.connect(db).execute("SELECT idx, leaf, entry FROM audit_entries ORDER BY idx")
    assert after.fetchall() == before
    assert verify(built).ok
    page_size = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    assert page_size == 4096  # an existing file keeps its page size


def _load(entry: bytes) -> dict[str, object]:
    import orjson

    parsed = orjson.loads(entry)
    assert isinstance(parsed, dict)
    return parsed


def test_wal_restarts_between_commits_and_the_checkpoint_thread_stops_on_close(
    tmp_path: Path,
) -> None:
    """The background checkpoint pass is finished on the writer's connection between two
    commits, so the WAL restarts at its beginning and stays small (later commits overwrite it
    in place) instead of growing with everything written; every entry is there after a
    reopen, and the checkpoint thread ends with the store (ADR 0130)."""
    import os
    import threading

    from clinflow.audit import events
    from clinflow.audit.store_sqlite import BACKGROUND_CHECKPOINT_BYTES

    path = tmp_path / "audit.db"
    wal = Path(f"{path}-wal")
    store = SqliteStore(path)
    entry = prepare(events.ingest(patient=PATIENTS[0], message_id="m", source_kind="fhir"))
    per_batch = 200
    batches = 8 * BACKGROUND_CHECKPOINT_BYTES // (per_batch * len(entry.entry)) + 1
    before = set(threading.enumerate())
    largest = 0
    for number in range(batches):
        store.append_batch([entry] * per_batch)  # back to back, as a busy writer commits
        if number % 2:
            store.maintain()  # what the AuditLog writer does between commits
        largest = max(largest, os.path.getsize(wal))
    started = [t for t in threading.enumerate() if t not in before]
    written = batches * per_batch * len(entry.entry)
    assert written >= 8 * BACKGROUND_CHECKPOINT_BYTES
    # a WAL that never restarts holds all of it (and more: pages are rewritten); measured
    # here: ~4 MiB for ~17 MB written, against ~29 MiB before the writer finished the passes
    assert largest < written / 2
    assert [t.name for t in started] == ["audit-wal-checkpoint"]
    store.close()
    assert not started[0].is_alive()
    reopened = SqliteStore(path)
    assert reopened.size() == batches * per_batch
    assert reopened.leaf_hashes(0, reopened.size()) == [entry.leaf] * (batches * per_batch)
    reopened.close()
