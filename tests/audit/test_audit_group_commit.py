"""Group commit across concurrent producers (ADR 0015): threads and asyncio tasks appending
single entries share commits, get distinct gap-free indices whose inclusion proofs verify, a
failing commit releases every waiting caller with the error, and a full batch makes producers
wait instead of buffering without limit."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.audit import AuditLog, NoteSigner
from clinflow.audit.canonical import canonical_json
from clinflow.audit.store import NewEntry
from clinflow.audit.store_sqlite import SqliteStore
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.errors import AuditUnavailable, ClinflowError
from helpers import rfc9162_reference as ref

from .helpers import sample_event

WAIT = 20.0  # seconds: every wait in these tests is bounded; a hang fails, never blocks CI


class CountingStore(SqliteStore):
    """The SQLite store, counting commits; ``fail`` makes the next commits raise as a full
    disk would; ``gate`` (when set) holds every commit until it is opened."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits: list[int] = []
        self.fail = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def append_batch(self, entries: Sequence[NewEntry]) -> int:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT)
        if self.fail:
            self.fail -= 1
            raise ClinflowError("audit store: write failed (database or disk is full)")
        start = super().append_batch(entries)
        self.commits.append(len(entries))
        return start


def open_log(data_dir: Path, **options: float) -> tuple[AuditLog, CountingStore]:
    deployment = DataDir.open(data_dir)
    store = CountingStore(deployment.audit_db)
    signer = NoteSigner("test.local/audit", KeyRing(deployment.keys).audit_signing_key())
    return AuditLog(store, signer, **options), store  # type: ignore[arg-type]


def check_acknowledged(log: AuditLog, acknowledged: dict[int, bytes]) -> None:
    """Every acknowledged index holds the bytes its caller appended; indices are gap-free;
    the root equals the RFC 9162 reference root over the stored entries and every
    acknowledged entry's inclusion proof verifies against it (reference verifier)."""
    size = log.size
    assert sorted(acknowledged) == list(range(size))
    stored = [log.get_entry(i) for i in range(size)]
    assert all(entry is not None for entry in stored)
    entries = [entry for entry in stored if entry is not None]
    for index, expected in acknowledged.items():
        assert entries[index] == expected, f"entry {index} is not what its caller appended"
    root = log.root()
    assert root == ref.mth(entries)
    for index in acknowledged:
        leaf = ref.sha256(b"\x00" + entries[index])
        assert ref.verify_inclusion(index, size, leaf, log.inclusion_proof(index), root)


def test_threads_and_tasks_get_distinct_gap_free_indices_that_prove_inclusion(
    data_dir: Path,
) -> None:
    log, store = open_log(data_dir, batch_wait=0.002)
    acknowledged: dict[int, bytes] = {}
    lock = threading.Lock()

    def thread_producer(worker: int) -> None:
        for i in range(15):
            event = sample_event(worker * 1000 + i)
            if i % 5 == 4:  # now and then a small append_many: its indices are consecutive
                batch = [event, sample_event(worker * 1000 + i + 500)]
                indices = log.append_many(batch)
                assert indices == [indices[0], indices[0] + 1]
                with lock:
                    acknowledged.update(zip(indices, map(canonical_json, batch), strict=True))
            else:
                index = log.append(event)
                with lock:
                    acknowledged[index] = canonical_json(event)

    async def task_producers() -> None:
        async def one(worker: int) -> None:
            for i in range(10):
                event = sample_event(100_000 + worker * 1000 + i)
                index = await log.append_async(event)
                acknowledged[index] = canonical_json(event)

        await asyncio.gather(*(one(w) for w in range(16)))

    try:
        with ThreadPoolExecutor(17) as pool:
            futures = [pool.submit(thread_producer, w) for w in range(16)]
            futures.append(pool.submit(asyncio.run, task_producers()))
            for future in futures:
                future.result(timeout=WAIT)
        assert len(acknowledged) == 16 * (12 + 3 * 2) + 16 * 10
        check_acknowledged(log, acknowledged)
        # Grouped: the producers shared fsyncs (one commit per append would be 448 commits).
        assert sum(store.commits) == len(acknowledged)
        assert len(store.commits) < len(acknowledged) / 2, store.commits
    finally:
        log.close()


def test_a_failing_commit_releases_every_waiting_caller_with_the_error(data_dir: Path) -> None:
    log, store = open_log(data_dir, batch_wait=0.05)
    outcomes: list[object] = []
    lock = threading.Lock()

    def thread_caller(i: int) -> None:
        try:
            result: object = log.append(sample_event(i))
        except AuditUnavailable as exc:
            result = exc
        with lock:
            outcomes.append(result)

    async def task_caller(i: int) -> object:
        try:
            return await log.append_async(sample_event(i))
        except AuditUnavailable as exc:
            return exc

    async def tasks_and_a_ticker() -> tuple[list[object], int]:
        ticks = 0

        async def ticker() -> None:  # the loop keeps running while its tasks wait
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        tick = asyncio.create_task(ticker())
        results = await asyncio.gather(*(task_caller(100 + i) for i in range(8)))
        tick.cancel()
        return list(results), ticks

    try:
        log.append(sample_event(0))  # the first batch commits normally
        store.gate = threading.Event()
        store.fail = 1
        threads = [threading.Thread(target=thread_caller, args=(i,)) for i in range(1, 9)]
        future = log.submit_many([sample_event(50), sample_event(51)])
        with ThreadPoolExecutor(1) as pool:
            async_results = pool.submit(asyncio.run, tasks_and_a_ticker())
            for thread in threads:
                thread.start()
            time.sleep(0.2)  # everyone is queued behind the held commit
            store.gate.set()  # the held batch fails; what queued behind it may commit
            for thread in threads:
                thread.join(WAIT)
                assert not thread.is_alive(), "a caller hangs after a failed commit"
            task_outcomes, ticks = async_results.result(timeout=WAIT)
        outcomes.extend(task_outcomes)
        try:
            outcomes.append(future.result(timeout=WAIT))
        except AuditUnavailable as exc:
            outcomes.append(exc)
        assert ticks >= 10  # the event loop was not blocked while its tasks waited
        failed = [o for o in outcomes if isinstance(o, AuditUnavailable)]
        stored = [o for o in outcomes if not isinstance(o, AuditUnavailable)]
        assert failed, "the failing commit reported nothing"
        assert all("database or disk is full" in str(exc) for exc in failed)
        assert len(failed) + len(stored) == 17
        # Nothing acknowledged that is not stored; the log goes on once the fault is gone.
        size_after_fault = log.size
        acknowledged = {0, *(i for o in stored for i in (o if isinstance(o, list) else [o]))}
        assert all(isinstance(i, int) and 0 <= i < size_after_fault for i in acknowledged)
        assert size_after_fault == len(acknowledged)
        assert log.append(sample_event(99)) == size_after_fault
        assert log.root() == ref.mth(
            [e for e in (log.get_entry(i) for i in range(log.size)) if e is not None]
        )
    finally:
        log.close()


def test_a_full_batch_makes_producers_wait_instead_of_buffering(data_dir: Path) -> None:
    log, store = open_log(data_dir, batch_wait=0, max_batch=4)
    store.gate = threading.Event()
    try:
        first = log.submit_many([sample_event(0)])  # taken by the writer, held in the store
        assert store.entered.wait(WAIT)
        pending = log.submit_many([sample_event(i) for i in range(1, 5)])  # fills the batch
        blocked = threading.Event()
        done = threading.Event()

        def producer() -> None:
            blocked.set()
            log.append(sample_event(9))
            done.set()

        thread = threading.Thread(target=producer)
        thread.start()
        assert blocked.wait(WAIT)
        assert not done.wait(0.3), "a producer buffered past max_batch while the writer lagged"
        store.gate.set()
        assert done.wait(WAIT)
        thread.join(WAIT)
        assert first.result(timeout=WAIT) == [0]
        assert pending.result(timeout=WAIT) == [1, 2, 3, 4]
        assert max(store.commits) <= 4
    finally:
        store.gate.set()
        log.close()


def test_closed_log_refuses_appends_and_flushes_what_was_queued(data_dir: Path) -> None:
    log, _ = open_log(data_dir, batch_wait=0.05)
    future = log.submit_many([sample_event(i) for i in range(3)])
    log.close()
    assert future.result(timeout=WAIT) == [0, 1, 2]
    with pytest.raises(ClinflowError, match="closed"):
        log.append(sample_event(4))
    with AuditLog.open(DataDir.open(data_dir)) as reopened:
        assert reopened.size == 3


class MemoryStore:
    """An in-memory AuditStore (entries only) recording each commit's size."""

    def __init__(self) -> None:
        self.entries: list[NewEntry] = []
        self.commits: list[int] = []

    def size(self) -> int:
        return len(self.entries)

    def append_batch(self, entries: Sequence[NewEntry]) -> int:
        start = len(self.entries)
        self.entries.extend(entries)
        self.commits.append(len(entries))
        return start

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return [entry.leaf for entry in self.entries[start:end]]

    def latest_checkpoint(self) -> None:
        return None

    def add_checkpoint(self, size: int, root: bytes, note: str, expected: int | None) -> bool:
        return True

    def close(self) -> None:
        pass


@settings(max_examples=25, deadline=None)
@given(
    calls=st.lists(st.lists(st.integers(1, 9), min_size=1, max_size=6), min_size=1, max_size=8),
    max_batch=st.integers(1, 8),
)
def test_any_mix_of_calls_gets_consecutive_disjoint_gap_free_indices(
    calls: list[list[int]], max_batch: int
) -> None:
    """Each producer thread makes calls of the given sizes; every call's indices are
    consecutive and hold its own entries in order, the calls partition 0..n-1, and no commit
    holds more than ``max_batch`` plus one call."""
    store = MemoryStore()
    signer = NoteSigner("test.local/audit", Ed25519PrivateKey.generate())
    log = AuditLog(store, signer, batch_wait=0.001, max_batch=max_batch, checkpoint_every=10**6)  # type: ignore[arg-type]
    got: list[tuple[list[int], list[bytes]]] = []
    lock = threading.Lock()

    def producer(worker: int, sizes: list[int]) -> None:
        for n, size in enumerate(sizes):
            batch = [sample_event(worker * 1000 + n * 10 + i) for i in range(size)]
            indices = log.append_many(batch)
            with lock:
                got.append((indices, [canonical_json(e) for e in batch]))

    try:
        with ThreadPoolExecutor(len(calls)) as pool:
            for future in [pool.submit(producer, w, sizes) for w, sizes in enumerate(calls)]:
                future.result(timeout=WAIT)
    finally:
        log.close()
    total = sum(map(sum, calls))
    assert sorted(i for indices, _ in got for i in indices) == list(range(total))
    for indices, entries in got:
        assert indices == list(range(indices[0], indices[0] + len(indices)))
        assert [store.entries[i].entry for i in indices] == entries
    assert max(store.commits) < max_batch + max(max(sizes) for sizes in calls)


def test_a_cancelled_waiter_neither_withdraws_its_entries_nor_stops_the_writer(
    data_dir: Path,
) -> None:
    """A task awaiting ``submit_many`` through ``asyncio.wrap_future`` is cancelled (as a
    runtime shutting down cancels its tasks): the queued entries are still stored and later
    appends still complete (a cancelled future used to kill the writer thread)."""
    log, store = open_log(data_dir, batch_wait=0)
    store.gate = threading.Event()
    events = [sample_event(i) for i in (1, 2, 3)]

    async def cancel_while_waiting() -> None:
        future = log.submit_many(events[:2])
        task = asyncio.ensure_future(asyncio.wrap_future(future))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not future.cancel()  # the entries cannot be withdrawn

    try:
        asyncio.run(cancel_while_waiting())
        store.gate.set()
        assert log.append(events[2]) == 2
        assert [log.get_entry(i) for i in range(3)] == [canonical_json(e) for e in events]
    finally:
        store.gate.set()
        log.close()


class Interrupted(Exception):
    pass


def test_a_thread_caller_interrupted_while_waiting_does_not_strand_the_callers_after_it(
    data_dir: Path,
) -> None:
    """Thread callers of a batch are released one by another (ADR 0110): when the first is
    interrupted (a signal in the main thread) the release still reaches those after it."""
    log, store = open_log(data_dir)
    store.gate = threading.Event()
    results: dict[str, int] = {}

    def append(name: str, delay: float) -> None:
        time.sleep(delay)
        results[name] = log.append(sample_event(len(results)))

    holder = threading.Thread(target=append, args=("holder", 0.0))
    holder.start()  # its batch holds the writer at the gate: the next batch gathers
    assert store.entered.wait(WAIT)
    later = [threading.Thread(target=append, args=(f"t{i}", 0.2)) for i in range(3)]
    for thread in later:
        thread.start()

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        with pytest.raises(Interrupted):
            log.append(sample_event(99))  # first in the gathering batch, then interrupted
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    store.gate.set()
    for thread in [holder, *later]:
        thread.join(WAIT)
        assert not thread.is_alive(), "a caller after the interrupted one was never released"
    assert sorted(results.values()) == [0, 2, 3, 4]  # 1: the interrupted caller's entry
    assert log.append(sample_event(5)) == 5  # this thread waits on a fresh lock
    log.close()
