"""``AuditLog``: the append API every pipeline stage writes to.

``append`` returns a leaf index once the entry is durable. Appends from any thread or asyncio
task go through one writer thread that groups them (group commit, ADR 0011 and 0015):
producers put their entries into the batch being gathered and wait; the writer takes the whole
batch, writes it in one transaction (fsync), extends the in-memory Merkle tree and only then
releases every caller of the batch at once with its leaf indices. The writer also signs a
checkpoint every ``checkpoint_every`` entries or ``checkpoint_seconds`` seconds, and
``close()`` signs one on clean shutdown. It never signs a checkpoint inconsistent with the
latest one stored.

Gathering: while the writer commits, the next batch fills. When it is free it waits (at most
``batch_wait`` seconds or as long as its last commit took, and never past ``max_batch``
entries) for the callers it just released to come back and join those already gathered — so
N producers appending one entry each share one fsync instead of splitting into groups that
alternate.
Backpressure: at most one gathering batch (``max_batch`` entries plus the call that filled it)
waits beside the one being committed; further producers block (threads) or await (tasks) until
the writer takes it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from _thread import LockType
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from clinflow.audit.canonical import canonical_json
from clinflow.audit.checkpoint import Checkpoint, NoteSigner, NoteVerifier
from clinflow.audit.merkle import MerkleTree, leaf_hash
from clinflow.audit.search_fields import search_row
from clinflow.audit.store import (
    AuditStore,
    NewEntry,
    SearchQuery,
    StoredCheckpoint,
    leaves_of,
    open_store,
)
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.errors import AuditIntegrityError, AuditUnavailable, ClinflowError

DEFAULT_ORIGIN = "clinflow.local/audit"
DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_SECONDS = 10.0
DEFAULT_BATCH_WAIT = 0.002
DEFAULT_MAX_BATCH = 5000
REFRESH_CHUNK = 65_536  # leaf hashes read per query when the tree catches up with the store
IDLE_INDEX_FLUSH_SECONDS = 0.5  # an idle writer hands the store's held index rows over (0110)


class _Batch:
    """The entries of one group commit and how to release its callers.

    Thread callers each block on their own thread's lock (``waiters``): the writer releases
    the first, each woken caller the next (no shared Condition that every woken thread must
    take again, and no loop of wake-ups in the writer while it holds the GIL);
    asyncio callers on a future each, settled per event loop by one ``call_soon_threadsafe``;
    ``submit_many`` callers get a ``concurrent.futures.Future`` each.
    """

    __slots__ = (
        "callers",
        "entries",
        "error",
        "first_at",
        "full",
        "futures",
        "loops",
        "start",
        "waiters",
    )

    def __init__(self) -> None:
        self.entries: list[NewEntry] = []
        self.callers = 0
        self.first_at = 0.0
        self.full = False  # a producer is waiting because its entries did not fit
        self.waiters: list[LockType] = []
        self.start = -1
        self.error: BaseException | None = None
        self.loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        self.futures: list[tuple[Future[list[int]], int, int]] = []

    def indices(self, offset: int, count: int) -> list[int]:
        """The leaf indices of a caller's ``count`` entries at ``offset`` (after success)."""
        if self.error is not None:
            raise AuditUnavailable(f"audit log: entries not stored ({self.error})") from self.error
        first = self.start + offset
        return list(range(first, first + count))


_THREAD = threading.local()


def _thread_waiter() -> LockType:
    """This thread's wait lock, held: ``acquire()`` blocks until the writer releases it, and
    leaves it held again for the next wait."""
    lock: LockType | None = getattr(_THREAD, "waiter", None)
    if lock is None:
        lock = _THREAD.waiter = threading.Lock()
        lock.acquire()
    return lock


def prepare(event: Mapping[str, Any]) -> NewEntry:
    """Canonicalise and hash one event, and read its search row (in the caller's thread)."""
    entry = canonical_json(event)
    return NewEntry(entry, leaf_hash(entry), search_row(event))


def _wake_next(waiters: list[LockType], position: int) -> None:
    """Release the thread caller after ``position`` in its batch (the batch is taken: the
    list no longer changes)."""
    if position + 1 < len(waiters):
        waiters[position + 1].release()


def _pass_on(waiter: LockType, waiters: list[LockType], position: int) -> None:
    """For a caller interrupted while waiting: wait for its release, pass it on."""
    waiter.acquire()
    _wake_next(waiters, position)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _settle_all(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # a cancelled caller's future is done already
            future.set_result(None)


class AuditLog:
    """Append-only, Merkle-hashed, checkpoint-signed audit log over an ``AuditStore``."""

    def __init__(
        self,
        store: AuditStore,
        signer: NoteSigner,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS,
        batch_wait: float = DEFAULT_BATCH_WAIT,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if checkpoint_every < 1 or checkpoint_seconds <= 0:
            raise ClinflowError("checkpoint_every must be >= 1 and checkpoint_seconds > 0")
        if max_batch < 1 or batch_wait < 0:
            raise ClinflowError("max_batch must be >= 1 and batch_wait >= 0")
        self.store = store
        self.signer = signer
        self.origin = signer.name
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.batch_wait = batch_wait
        self.max_batch = max_batch
        self._tree_lock = threading.RLock()
        # Bounded: levels below 256-leaf subtrees only at the right edge, older ones read back
        # from the store for proofs (ADR 0103: memory no longer grows 64 bytes per entry)
        self._tree = MerkleTree(leaf_source=store.leaf_hashes)
        self._refresh_tree()
        latest = store.latest_checkpoint()
        self._checkpointed_size = latest.size if latest else -1
        self._last_checkpoint_time = time.monotonic()
        # One lock guards the gathering batch; producers signal ``_arrived`` (the writer waits
        # on it), the writer signals ``_space`` when it takes the batch (full-batch waiters).
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._space = threading.Condition(self._lock)
        self._space_loops: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._gathering = _Batch()
        self._expected_callers = 1  # the writer waits for this many callers (see _take)
        self._released = 0  # callers released by the last commit
        self._free_at = 0.0  # when the last commit ended
        self._commit_seconds = batch_wait  # how long it took
        self.commits = 0  # group commits so far, and the seconds they took (benchmarks)
        self.commit_seconds_total = 0.0
        self._closed = False
        # SQLite writes side-index rows in batches (ADR 0110); an idle writer flushes them
        self._flush_index: Callable[[], None] | None = getattr(store, "flush_index", None)
        self._maintain: Callable[[], None] | None = getattr(store, "maintain", None)
        self._writer = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._writer.start()

    # --- construction -------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        data_dir: DataDir | None = None,
        *,
        dsn: str | None = None,
        origin: str = DEFAULT_ORIGIN,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS,
        batch_wait: float = DEFAULT_BATCH_WAIT,
        max_batch: int = DEFAULT_MAX_BATCH,
        table_prefix: str = "audit",
    ) -> AuditLog:
        """Open the deployment's log: SQLite at ``data_dir.audit_db``, or PostgreSQL at ``dsn``.

        The checkpoint key is ``KeyRing(data_dir.keys).audit_signing_key()``; its name is
        ``origin``.
        """
        data_dir = data_dir or DataDir.open()
        store = open_store(data_dir, dsn, table_prefix)
        signer = NoteSigner(origin, KeyRing(data_dir.keys).audit_signing_key())
        return cls(
            store,
            signer,
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            batch_wait=batch_wait,
            max_batch=max_batch,
        )

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- appending ----------------------------------------------------------------------

    def _place(self, entries: list[NewEntry]) -> tuple[_Batch, int] | None:
        """Add ``entries`` to the gathering batch (lock held); None when it is full.

        A call joins while the batch holds fewer than ``max_batch`` entries, so a batch holds
        at most ``max_batch`` plus one call's entries (a call is committed whole, in order).
        """
        if self._closed:
            raise ClinflowError("audit log is closed")
        batch = self._gathering
        offset = len(batch.entries)
        if offset >= self.max_batch:
            if not batch.full:
                batch.full = True
                self._arrived.notify()  # nothing more fits: the writer need not wait
            return None
        if not offset:
            batch.first_at = time.monotonic()
        batch.entries += entries
        batch.callers += 1
        if (
            offset == 0
            or batch.callers >= self._expected_callers
            or len(batch.entries) >= self.max_batch
        ):
            self._arrived.notify()
        return batch, offset

    def _wait_durable(self, entries: list[NewEntry]) -> tuple[_Batch, int]:
        """Place entries (blocking while the gathering batch is full: backpressure) and wait
        until their batch is released, then release the next thread caller of the batch."""
        waiter = _thread_waiter()
        with self._lock:
            while (placed := self._place(entries)) is None:
                self._space.wait()
            waiters = placed[0].waiters
            position = len(waiters)
            waiters.append(waiter)
        woken = False
        try:
            waiter.acquire()
            woken = True
        finally:
            if woken:
                _wake_next(waiters, position)
            else:  # interrupted: the writer or the caller before releases this lock later
                _THREAD.waiter = None  # never reuse it, and pass the release on when it comes
                threading.Thread(
                    target=_pass_on, args=(waiter, waiters, position), daemon=True
                ).start()
        return placed

    def submit_many(self, events: Iterable[Mapping[str, Any]]) -> Future[list[int]]:
        """Queue events for the writer; the future resolves to their indices once durable
        (or raises ``AuditUnavailable``). Blocks only while the writer is a full batch behind."""
        entries = [prepare(event) for event in events]
        future: Future[list[int]] = Future()
        # Running from the start: the entries cannot be withdrawn once queued, so cancel()
        # (e.g. by asyncio.wrap_future when the awaiting task is cancelled) returns False.
        future.set_running_or_notify_cancel()
        if not entries:
            future.set_result([])
            return future
        with self._lock:
            while (placed := self._place(entries)) is None:
                self._space.wait()
            batch, offset = placed
            batch.futures.append((future, offset, len(entries)))
        return future

    def append(self, event: Mapping[str, Any]) -> int:
        """Append one AuditEvent; returns its leaf index when it is durable (``AuditSink``)."""
        batch, offset = self._wait_durable([prepare(event)])
        return batch.indices(offset, 1)[0]

    def append_many(self, events: Iterable[Mapping[str, Any]]) -> list[int]:
        """Append events in order; returns their indices once all are durable."""
        entries = [prepare(event) for event in events]
        if not entries:
            return []
        batch, offset = self._wait_durable(entries)
        return batch.indices(offset, len(entries))

    async def append_async(self, event: Mapping[str, Any]) -> int:
        """``append`` for asyncio code: the event loop keeps running while the batch commits."""
        return (await self.append_many_async([event]))[0]

    async def append_many_async(self, events: Iterable[Mapping[str, Any]]) -> list[int]:
        """``append_many`` for asyncio code; returns the indices once all are durable.

        The events are canonicalised and placed in the gathering batch before the first
        ``await``, so calls made in one order on a loop are stored in that order. Cancelling
        the awaiting task does not withdraw its entries (they may still be stored).
        """
        entries = [prepare(event) for event in events]
        if not entries:
            return []
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                placed = self._place(entries)
                if placed is not None:
                    batch, offset = placed
                    waiter = loop.create_future()
                    waiters = batch.loops.get(loop)
                    if waiters is None:
                        batch.loops[loop] = [waiter]
                    else:
                        waiters.append(waiter)
                    break
                space = loop.create_future()
                self._space_loops.append((loop, space))
            await space
        # One future per caller (settled for the whole loop in one callback): a cancelled
        # caller cancels only its own.
        await waiter
        return batch.indices(offset, len(entries))

    # --- the writer thread ----------------------------------------------------------------

    def _take(self) -> _Batch | None:
        """Wait for a batch worth committing and take it; None on an idle timeout (the
        checkpoint timer) or when closed with nothing left."""
        with self._lock:
            batch = self._gathering
            # Worth waiting for: the callers already gathered (they queued during the last
            # commit) plus those the last commit released, who usually come straight back.
            self._expected_callers = batch.callers + self._released
            if not batch.entries:
                if self._closed:
                    return None
                timeout = max(
                    0.01,
                    self.checkpoint_seconds - (time.monotonic() - self._last_checkpoint_time),
                )
                if self._flush_index is not None:
                    timeout = min(timeout, IDLE_INDEX_FLUSH_SECONDS)
                self._arrived.wait(timeout)
                if not batch.entries:
                    return None
            # The wait counts from when the writer could commit (the batch's first entry, or
            # the end of the last commit if the batch gathered during it) and is at most what
            # the last commit took: waiting longer than a commit costs more than it saves.
            wait = min(self.batch_wait, self._commit_seconds)
            deadline = max(batch.first_at, self._free_at) + wait
            while (
                not self._closed
                and batch.callers < self._expected_callers
                and len(batch.entries) < self.max_batch
                and not batch.full
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.wait(remaining)
            self._gathering = _Batch()
            self._space.notify_all()
            space_loops, self._space_loops = self._space_loops, []
        for loop, future in space_loops:
            self._call_soon(loop, future)
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                if self._closed:
                    break
                if self._flush_index is not None:
                    try:
                        self._flush_index()
                    except Exception:  # noqa: BLE001 - the writer must outlive it (entries
                        pass  # are durable; the next commit or writer writes the rows)
                self._maybe_checkpoint(idle=True)
                continue
            began = time.monotonic()
            self._commit(batch)
            self._released = batch.callers
            self._free_at = time.monotonic()
            self._commit_seconds = self._free_at - began
            self.commits += 1
            self.commit_seconds_total += self._commit_seconds
            if self._maintain is not None:  # the store's housekeeping (SQLite: end a checkpoint)
                try:  # after the callers were released, while the next batch gathers
                    self._maintain()
                except Exception:  # noqa: BLE001 - the writer must outlive it
                    pass
            self._maybe_checkpoint(idle=False)
        self._maybe_checkpoint(idle=False, force=True)

    def _commit(self, batch: _Batch) -> None:
        entries = batch.entries
        try:
            with self._tree_lock:
                start = self.store.append_batch(entries)
                if start != self._tree.size:  # another process appended: catch up first
                    self._tree.extend(self.store.leaf_hashes(self._tree.size, start))
                self._tree.extend(leaves_of(entries))
            batch.start = start
        except BaseException as exc:  # noqa: BLE001 - every caller must hear about it
            batch.error = exc
        if batch.waiters:  # each released thread releases the next (_wake_next): the writer
            batch.waiters[0].release()  # wakes one, not the whole batch while holding the GIL
        for future, offset, count in batch.futures:
            try:
                result = batch.indices(offset, count)
            except AuditUnavailable as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
        for loop, waiters in batch.loops.items():
            try:
                loop.call_soon_threadsafe(_settle_all, waiters)
            except RuntimeError:  # the loop was closed meanwhile: nobody is waiting any more
                pass

    @staticmethod
    def _call_soon(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        try:
            loop.call_soon_threadsafe(_settle, future)
        except RuntimeError:  # the loop was closed meanwhile: nobody is waiting any more
            pass

    def _maybe_checkpoint(self, *, idle: bool, force: bool = False) -> None:
        size = self.size
        due = (
            force
            or size - max(self._checkpointed_size, 0) >= self.checkpoint_every
            or (idle and time.monotonic() - self._last_checkpoint_time >= self.checkpoint_seconds)
        )
        if due and size != self._checkpointed_size:
            try:
                self.sign_checkpoint()
            except Exception:  # noqa: BLE001 - the writer thread must outlive a failure
                # Refused (inconsistent), storage failure or a lost database connection:
                # appends stay durable; verify will report the log. Try again at the next
                # trigger (a dead writer would leave every later caller waiting forever).
                pass
        self._last_checkpoint_time = time.monotonic()

    # --- tree, checkpoints, proofs ---------------------------------------------------------

    def _refresh_tree(self) -> None:
        with self._tree_lock:
            stored = self.store.size()
            while stored > self._tree.size:  # in chunks: a long log is not read at once
                end = min(stored, self._tree.size + REFRESH_CHUNK)
                self._tree.extend(self.store.leaf_hashes(self._tree.size, end))

    @property
    def size(self) -> int:
        with self._tree_lock:
            return self._tree.size

    def refresh(self) -> int:
        """Pick up entries other processes appended; return the size."""
        self._refresh_tree()
        return self.size

    def root(self, size: int | None = None) -> bytes:
        with self._tree_lock:
            return self._tree.root(size)

    def leaf_hash(self, index: int) -> bytes:
        with self._tree_lock:
            return self._tree.leaf(index)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        with self._tree_lock:
            return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        with self._tree_lock:
            return self._tree.consistency_proof(old_size, new_size)

    def vkey(self) -> str:
        """C2SP verifier key of the checkpoint signer."""
        return self.signer.vkey()

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.vkey())

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self.store.latest_checkpoint()

    def sign_checkpoint(self) -> str:
        """Sign and store a checkpoint of the current tree; refuse if inconsistent with the
        latest stored one. Returns the signed note."""
        for _ in range(5):
            with self._tree_lock:
                self._refresh_tree()
                latest = self.store.latest_checkpoint()
                size = self._tree.size
                if latest is not None:
                    self._check_consistent_with(latest)
                    if latest.size == size:
                        self._checkpointed_size = size
                        return latest.note
                root = self._tree.root(size)
                note = self.signer.sign(Checkpoint(self.origin, size, root))
                if self.store.add_checkpoint(size, root, note, latest.seq if latest else None):
                    self._checkpointed_size = size
                    return note
        raise ClinflowError("audit log: could not store a checkpoint (concurrent signers)")

    def _check_consistent_with(self, latest: StoredCheckpoint) -> None:
        try:
            signed = self.verifier().verify(latest.note)
        except AuditIntegrityError:
            signed = None  # signed by a rotated-out key: fall back to the stored size/root
        size, root = (signed.size, signed.root) if signed else (latest.size, latest.root)
        if size > self._tree.size or self._tree.root(size) != root:
            raise AuditIntegrityError(
                f"refusing to sign: checkpoint {latest.seq} (size {size}) is not consistent "
                "with the stored entries"
            )

    # --- reading ------------------------------------------------------------------------

    def get_entry(self, index: int) -> bytes | None:
        return self.store.get_entry(index)

    def search(self, query: SearchQuery) -> list[tuple[int, bytes]]:
        return self.store.search(query)

    def close(self) -> None:
        """Flush queued appends, sign a final checkpoint and close the store."""
        if self._closed:
            return
        with self._lock:
            self._closed = True
            self._arrived.notify()
            self._space.notify_all()
        self._writer.join()
        self.store.close()
