"""Group commit on PostgreSQL (ADR 0015): concurrent producers share multi-row commits and get
gap-free indices whose inclusion proofs verify; a lost database connection fails the waiting
callers with ``AuditUnavailable`` and the next batch goes to a new connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from clinflow.audit import AuditLog, NoteSigner
from clinflow.audit.canonical import canonical_json
from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.audit.store import NewEntry
from clinflow.audit.verify import trusted_verifiers, verify_log
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.errors import AuditUnavailable
from helpers import rfc9162_reference as ref

from .helpers import sample_event

pytestmark = pytest.mark.postgres


@pytest.fixture()
def log(data_dir: Path, postgres_dsn: str) -> Iterator[AuditLog]:
    from clinflow.audit.store_postgres import PostgresStore

    class CountingStore(PostgresStore):
        commits: list[int]

        def append_batch(self, entries: Sequence[NewEntry]) -> int:
            start = super().append_batch(entries)
            self.commits.append(len(entries))
            return start

    prefix = "audit_g" + uuid.uuid4().hex[:10]
    store = CountingStore(postgres_dsn, prefix=prefix)
    store.commits = []
    deployment = DataDir.open(data_dir)
    signer = NoteSigner(DEFAULT_ORIGIN, KeyRing(deployment.keys).audit_signing_key())
    audit_log = AuditLog(store, signer, checkpoint_every=50)
    yield audit_log
    audit_log.close()
    cleanup = PostgresStore(postgres_dsn, prefix=prefix)
    cleanup.drop_all()
    cleanup.close()


def test_postgres_producers_share_commits_and_get_gap_free_indices(
    log: AuditLog, data_dir: Path
) -> None:
    acknowledged: dict[int, bytes] = {}

    def thread_producer(worker: int) -> None:
        for i in range(10):
            event = sample_event(worker * 100 + i)
            acknowledged[log.append(event)] = canonical_json(event)

    async def tasks() -> None:
        async def one(worker: int) -> None:
            for i in range(10):
                event = sample_event(10_000 + worker * 100 + i)
                acknowledged[await log.append_async(event)] = canonical_json(event)

        await asyncio.gather(*(one(w) for w in range(16)))

    with ThreadPoolExecutor(17) as pool:
        futures = [pool.submit(thread_producer, w) for w in range(16)]
        futures.append(pool.submit(asyncio.run, tasks()))
        for future in futures:
            future.result(timeout=60)
    size = log.size
    assert sorted(acknowledged) == list(range(size)) and size == 320
    entries = [log.get_entry(i) or b"" for i in range(size)]
    assert all(entries[i] == data for i, data in acknowledged.items())
    root = log.root()
    assert root == ref.mth(entries)
    for index in acknowledged:
        leaf = ref.sha256(b"\x00" + entries[index])
        assert ref.verify_inclusion(index, size, leaf, log.inclusion_proof(index), root)
    commits: list[int] = log.store.commits  # type: ignore[attr-defined]
    assert len(commits) < size / 2, commits
    report = verify_log(log.store, trusted_verifiers(DataDir.open(data_dir), DEFAULT_ORIGIN, []))
    assert report.ok, [str(f) for f in report.failures]


def test_lost_connection_fails_the_batch_and_the_next_one_reconnects(
    log: AuditLog, postgres_dsn: str
) -> None:
    import psycopg

    assert log.append(sample_event(0)) == 0
    store: Any = log.store
    pids = (store._write.info.backend_pid, store._readconn.info.backend_pid)
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(AuditUnavailable, match="postgres"):
        log.append(sample_event(1))
    assert log.append(sample_event(2)) == 1  # nothing of the failed batch was stored
    assert log.size == 2
    # Reads and checkpoints recover too (the read connection is reopened after its failure).
    for _attempt in range(2):
        try:
            note = log.sign_checkpoint()
            break
        except psycopg.Error:
            continue
    assert "\n2\n" in note
    assert store.size() == 2
