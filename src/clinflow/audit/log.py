"""``AuditLog``: the append API every pipeline stage writes to.

``append`` returns a leaf index once the entry is durable. Appends from any thread go through
one writer thread that groups them (group commit): it takes what is queued, waits up to
``batch_wait`` seconds or until ``max_batch`` entries for more, writes them in one transaction
(fsync), updates the in-memory Merkle tree and only then acknowledges every caller. The writer
also signs a checkpoint every ``checkpoint_every`` entries or ``checkpoint_seconds`` seconds, and
``close()`` signs one on clean shutdown. It never signs a checkpoint inconsistent with the
latest one stored.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from clinflow.audit.canonical import canonical_json
from clinflow.audit.checkpoint import Checkpoint, NoteSigner, NoteVerifier
from clinflow.audit.merkle import MerkleTree, leaf_hash
from clinflow.audit.search_fields import index_fields
from clinflow.audit.store import (
    AuditStore,
    NewEntry,
    SearchQuery,
    StoredCheckpoint,
    open_store,
)
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.errors import AuditIntegrityError, ClinflowError

DEFAULT_ORIGIN = "clinflow.local/audit"
DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_SECONDS = 10.0
DEFAULT_BATCH_WAIT = 0.002
DEFAULT_MAX_BATCH = 5000


class _Pending:
    __slots__ = ("entries", "future")

    def __init__(self, entries: list[NewEntry]) -> None:
        self.entries = entries
        self.future: Future[list[int]] = Future()


def prepare(event: Mapping[str, Any]) -> NewEntry:
    """Canonicalise and hash one event (done in the caller's thread)."""
    entry = canonical_json(event)
    return NewEntry(entry, leaf_hash(entry), index_fields(event))


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
        self.store = store
        self.signer = signer
        self.origin = signer.name
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.batch_wait = batch_wait
        self.max_batch = max_batch
        self._tree_lock = threading.RLock()
        self._tree = MerkleTree()
        self._refresh_tree()
        latest = store.latest_checkpoint()
        self._checkpointed_size = latest.size if latest else -1
        self._last_checkpoint_time = time.monotonic()
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._closed = False
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

    def submit_many(self, events: Iterable[Mapping[str, Any]]) -> Future[list[int]]:
        """Queue events for the writer; the future resolves to their indices once durable."""
        if self._closed:
            raise ClinflowError("audit log is closed")
        pending = _Pending([prepare(event) for event in events])
        if not pending.entries:
            pending.future.set_result([])
            return pending.future
        self._queue.put(pending)
        return pending.future

    def append(self, event: Mapping[str, Any]) -> int:
        """Append one AuditEvent; returns its leaf index when it is durable (``AuditSink``)."""
        return self.submit_many([event]).result()[0]

    def append_many(self, events: Iterable[Mapping[str, Any]]) -> list[int]:
        """Append events in order; returns their indices once all are durable."""
        return self.submit_many(events).result()

    # --- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            timeout = max(
                0.01,
                self.checkpoint_seconds - (time.monotonic() - self._last_checkpoint_time),
            )
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._maybe_checkpoint(idle=True)
                continue
            if first is None:
                break
            batch = [first]
            count = len(first.entries)
            deadline = time.monotonic() + self.batch_wait
            while count < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                count += len(item.entries)
            self._commit(batch)
            self._maybe_checkpoint(idle=False)
        self._maybe_checkpoint(idle=False, force=True)

    def _commit(self, batch: list[_Pending]) -> None:
        entries = [entry for pending in batch for entry in pending.entries]
        try:
            with self._tree_lock:
                start = self.store.append_batch(entries)
                if start != self._tree.size:  # another process appended: catch up first
                    self._tree.extend(self.store.leaf_hashes(self._tree.size, start))
                self._tree.extend(entry.leaf for entry in entries)
        except BaseException as exc:  # noqa: BLE001 - every caller must hear about it
            for pending in batch:
                pending.future.set_exception(exc)
            return
        position = start
        for pending in batch:
            n = len(pending.entries)
            pending.future.set_result(list(range(position, position + n)))
            position += n

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
            except ClinflowError:
                # Refused (inconsistent) or storage failure: appends stay durable; verify
                # will report the log. Try again at the next trigger.
                pass
        self._last_checkpoint_time = time.monotonic()

    # --- tree, checkpoints, proofs ---------------------------------------------------------

    def _refresh_tree(self) -> None:
        with self._tree_lock:
            stored = self.store.size()
            if stored > self._tree.size:
                self._tree.extend(self.store.leaf_hashes(self._tree.size, stored))

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
        self._closed = True
        self._queue.put(None)
        self._writer.join()
        self.store.close()
