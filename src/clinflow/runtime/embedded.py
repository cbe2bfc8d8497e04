"""The embedded runtime: one process, one asyncio task per hop, bounded queues between hops.

A source (an async iterator of ``TimedInput`` or of plain ``Envelope``) feeds the graph's
entry hop. Each hop task takes a batch from its queue, skips inputs the ledger says it already
completed (a replayed input is neither processed nor audited twice), runs the stage on each,
quarantines what a stage rejects (``InputRejected``: a validation-failure AuditEvent names the
stage and the reason, never a value; any other exception is caught the same way with its type
name, so one bad message never stops the pipeline), hands the outputs on (``await
queue.put``: a full downstream queue stops this hop, so memory stays flat and a slow stage
slows its producers — backpressure), then commits the batch's AuditEvents (group commit
across hops, the fsync off the event loop, one commit in flight per hop) and only once they
are durable marks the batch done in the ledger. In-memory queues do not survive a crash in
any case; what the ledger says is done has its audit trail on disk.

Shutdown (end of the source, ``duration`` reached, or ``stop()`` from a SIGINT/SIGTERM
handler): the feeder stops taking input, an end marker follows the last input through every
hop (a hop forwards it once all of its upstream hops have), so everything in flight drains;
then the graph's closers run (audit buffers flushed) and ``run`` returns the statistics.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter, deque
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from clinflow.audit.buffer import BufferedSink
from clinflow.envelope import Envelope, TimedInput
from clinflow.errors import InputRejected
from clinflow.interfaces import append_all
from clinflow.jsonable import fields_json
from clinflow.quarantine import Quarantine
from clinflow.runtime.graph import Graph, flush_stage
from clinflow.runtime.ledger import Ledger
from clinflow.runtime.live_status import publish
from clinflow.runtime.rejects import quarantine_reject

DEFAULT_QUEUE_SIZE = 1024
DEFAULT_BATCH = 256


class _End:
    """The end-of-stream marker that follows the last input through the graph."""


_END = _End()
QueueItem = Envelope | _End


@dataclass
class HopStats:
    received: int = 0
    emitted: int = 0
    rejected: int = 0
    duplicates: int = 0  # skipped: the ledger says this hop completed them already
    busy_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return fields_json(self, busy_s=round(self.busy_s, 3))


@dataclass
class RunStats:
    """What one run did, per hop, plus latencies from source arrival to each terminal hop."""

    hops: dict[str, HopStats] = field(default_factory=dict)
    inputs: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    stopped_by: str = "end of source"

    def percentile(self, hop: str, q: float) -> float | None:
        values = sorted(self.latencies_ms.get(hop, ()))
        if not values:
            return None
        rank = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
        return values[rank]

    def to_json(self) -> dict[str, Any]:
        latency = {
            hop: {
                "count": len(values),
                "p50_ms": self.percentile(hop, 0.50),
                "p99_ms": self.percentile(hop, 0.99),
                "max_ms": max(values) if values else None,
            }
            for hop, values in self.latencies_ms.items()
        }
        return {
            "inputs": self.inputs,
            "seconds": round(self.seconds, 3),
            "stopped_by": self.stopped_by,
            "hops": {name: stats.to_json() for name, stats in self.hops.items()},
            "latency": latency,
        }


MAX_LATENCY_SAMPLES = 200_000  # per terminal hop; later samples are not kept (memory flat)


# Batches after which the long-lived heap is frozen again (lazy loads happen early).
_REFREEZE_AT = frozenset({16, 256, 2048})


def freeze_long_lived(collect: bool = False) -> None:
    """Move what is alive now (stores, policies, the text de-identifier's name and place
    lists: millions of objects) out of the cyclic collector's sight (``gc.freeze``), so a
    full collection no longer walks them. Measured on 10 icu-ward patients (13,440 vital
    signs): without it 8 full collections took 1.5 s of 8 CPU-s, each pausing the event
    loop up to 234 ms (the p99 latency); with it GC took 0.2-0.4 s. Frozen objects are
    still freed by reference counting; only cyclic garbage among them waits for
    ``gc.unfreeze()`` at the end of the run. ``collect`` (before the run only: a full
    collection is such a pause) drops garbage first."""
    if collect:
        gc.collect()
    gc.freeze()


MAX_COMMITS_IN_FLIGHT = 8  # per hop: its batches whose AuditEvents are not yet durable
FLUSH_EVERY = 32  # messages between a batching stage's flushes inside one batch
YIELD_SLICE_S = 0.005  # a hop lets the other hops run after this much work in one batch
YOUNG_GC_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


@contextmanager
def run_gc() -> Iterator[None]:
    """The collector's settings while a run lasts: young-generation collections every
    ``YOUNG_GC_THRESHOLD`` allocations (a run allocates and frees envelopes and dicts by the
    million, almost none in cycles); on exit the thresholds come back and what
    ``freeze_long_lived`` froze is unfrozen."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], YOUNG_GC_THRESHOLD), threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class EmbeddedRuntime:
    """Runs a ``Graph`` on asyncio queues; see the module docstring for the guarantees."""

    def __init__(
        self,
        graph: Graph,
        *,
        quarantine: Quarantine,
        audit: BufferedSink,
        ledger: Ledger | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        batch: int = DEFAULT_BATCH,
        on_terminal: Callable[[str, Envelope], None] | None = None,
        status_path: Path | None = None,
    ) -> None:
        self.graph = graph
        self.status_path = status_path  # live counters for other processes (live_status)
        self.quarantine = quarantine
        self.audit = audit
        self.ledger = ledger
        self.queue_size = queue_size
        self.batch = batch
        self.on_terminal = on_terminal
        self.stats = RunStats(hops={name: HopStats() for name in graph.hops})
        self._reject = quarantine_reject(quarantine, audit)
        self._queues: dict[str, asyncio.Queue[QueueItem]] = {}
        self._upstream: Counter[str] = Counter(
            child for hop in graph.hops.values() for child in hop.downstream
        )
        self._upstream[graph.entry] += 1  # the feeder
        self._stop = asyncio.Event()
        self._batches = 0
        # here, not in run(): a full collection is a pause, and callers start their clocks
        # (replay schedules, benchmarks) between building the runtime and running it
        freeze_long_lived(collect=True)
        self._commit_lock = asyncio.Lock()
        self._committing: dict[str, deque[asyncio.Future[None]]] = {}
        # per hop: ids processed whose ledger mark is not written yet (a redelivery arriving
        # meanwhile is skipped like one the ledger knows; found by clinflow replay's
        # duplicate fault, ADR 0075)
        self._unmarked: dict[str, set[str]] = {name: set() for name in graph.hops}

    # ----- control ----------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Stop taking input; what is in flight drains. Safe from a signal handler."""
        if not self._stop.is_set():
            self.stats.stopped_by = reason
            self._stop.set()

    def queue_depths(self) -> dict[str, int]:
        return {name: queue.qsize() for name, queue in self._queues.items()}

    async def run(
        self,
        source: AsyncIterable[TimedInput] | AsyncIterable[Envelope],
        *,
        duration_s: float | None = None,
    ) -> RunStats:
        self._queues = {name: asyncio.Queue(self.queue_size) for name in self.graph.hops}
        self.stats.started = time.perf_counter()
        workers = [
            asyncio.create_task(self._hop(name), name=f"hop:{name}") for name in self.graph.hops
        ]
        feeder = asyncio.create_task(self._feed(source), name="feeder")
        stopper = asyncio.create_task(self._stop_feeder(feeder), name="stopper")
        status = (
            asyncio.create_task(publish(self, self.status_path), name="status")
            if self.status_path is not None
            else None
        )
        timer = (
            asyncio.get_running_loop().call_later(duration_s, self.stop, "duration reached")
            if duration_s is not None
            else None
        )
        try:
            with run_gc():
                await asyncio.gather(feeder, *workers)
        finally:
            if timer is not None:
                timer.cancel()
            for task in (stopper, feeder, *workers):
                task.cancel()
            if status is not None:
                status.cancel()
                await asyncio.gather(status, return_exceptions=True)
            self.audit.flush()
            self.graph.close()
        self.stats.seconds = time.perf_counter() - self.stats.started
        return self.stats

    # ----- tasks ------------------------------------------------------------------------------
    async def _feed(self, source: AsyncIterable[TimedInput] | AsyncIterable[Envelope]) -> None:
        """Hand source inputs to the entry hop until the source ends or ``stop()``; a stop
        while the source waits for its next scheduled input cancels that wait."""
        entry = self._queues[self.graph.entry]
        try:
            async for item in source:
                envelope = item.envelope if isinstance(item, TimedInput) else item
                if not isinstance(envelope, Envelope):
                    raise TypeError(f"source yielded {type(item).__name__}, not an Envelope")
                self.stats.inputs += 1
                await entry.put(envelope)
                if self._stop.is_set():
                    break
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
        finally:
            closer = getattr(source, "aclose", None)
            if closer is not None:
                await closer()
            await entry.put(_END)

    async def _stop_feeder(self, feeder: asyncio.Task[None]) -> None:
        await self._stop.wait()
        feeder.cancel()

    async def _commit(self) -> None:
        """Make every AuditEvent appended so far durable without blocking the event loop.

        One commit at a time, in order: a hop that finishes while another hop's commit is
        in flight waits for it, then commits whatever gathered meanwhile (group commit
        across hops). With the AuditLog the fsync runs on its writer thread and the loop
        keeps processing other hops; other sinks are called directly.
        """
        async with self._commit_lock:
            pending = self.audit.take()
            if not pending:
                return
            submit = getattr(self.audit.sink, "submit_many", None)
            if callable(submit):
                await asyncio.wrap_future(submit(pending))
            else:
                append_all(self.audit.sink, pending)

    async def _hop(self, name: str) -> None:
        hop = self.graph.hops[name]
        queue = self._queues[name]
        ends_needed = self._upstream[name]
        ends_seen = 0
        # A hop whose stage computes in worker processes (``stage.offload``) keeps two batches
        # going: the next batch's computation starts in the workers before this process
        # applies the previous one's outcomes (quarantine, AuditEvents, release), so neither
        # side waits for the other. Batches are still applied in order, one at a time.
        offloads = getattr(hop.stage, "offload", None) is not None
        ahead: tuple[list[Envelope], asyncio.Future[dict[str, Any] | None]] | None = None
        while True:
            if ahead is not None and queue.empty():
                await self._process_batch(name, *ahead)  # nothing new to start meanwhile
                ahead = None
            first = await queue.get()
            if hop.linger_s and first is not _END and queue.qsize() < self.batch - 1:
                await asyncio.sleep(hop.linger_s)
            items: list[QueueItem] = [first]
            while len(items) < self.batch and not queue.empty():
                items.append(queue.get_nowait())
            batch = [item for item in items if isinstance(item, Envelope)]
            ends_seen += len(items) - len(batch)
            if batch and offloads:
                started = (batch, self._start_offload(name, batch))
                if ahead is not None:
                    await self._process_batch(name, *ahead)
                ahead = started
            elif batch:
                await self._process_batch(name, batch)
            if ends_seen >= ends_needed:
                if ahead is not None:
                    await self._process_batch(name, *ahead)
                    ahead = None
                await self._settle(name)
                for child in hop.downstream:
                    await self._queues[child].put(_END)
                return

    def _start_offload(
        self, name: str, batch: list[Envelope]
    ) -> asyncio.Future[dict[str, Any] | None]:
        """Start the workers on ``batch`` (what the ledger and the hop's in-flight set do not
        already hold); ``_process_batch`` checks both again when it applies the outcomes."""
        done = self.ledger.seen(name, (e.message_id for e in batch)) if self.ledger else set()
        stage = self.graph.hops[name].stage
        return asyncio.ensure_future(self._offload(stage, batch, done, self._unmarked[name]))

    async def _process_batch(
        self,
        name: str,
        batch: list[Envelope],
        offloading: asyncio.Future[dict[str, Any] | None] | None = None,
    ) -> None:
        self._batches += 1
        if self._batches in _REFREEZE_AT:
            freeze_long_lived()  # what the first batches loaded lazily (name lists, models)
        hop = self.graph.hops[name]
        stats = self.stats.hops[name]
        stats.received += len(batch)
        done = self.ledger.seen(name, (e.message_id for e in batch)) if self.ledger else set()
        unmarked = self._unmarked[name]
        slice_started = time.perf_counter()
        busy = 0.0
        outputs: list[Envelope] = []
        completed: list[str] = []
        if offloading is None:
            offloaded = await self._offload(hop.stage, batch, done, unmarked)
        else:  # started earlier (``_start_offload``); a message computed for nothing is skipped
            offloaded = await offloading
        slice_started = time.perf_counter()  # the workers' time is not this hop's
        for position, envelope in enumerate(batch, start=1):
            if position % FLUSH_EVERY == 0:
                # a stage that defers its work to ``flush`` (research release: sealed files,
                # index and lineage rows) does it every FLUSH_EVERY messages, so its flush
                # holds the loop ~10 ms instead of 100-230 ms for a batch of 256
                outputs.extend(flush_stage(hop.stage))
            now = time.perf_counter()
            if now - slice_started > YIELD_SLICE_S:
                # a CPU-heavy hop (FHIR de-identification: ~1 ms per resource) hands the loop
                # to the other hops between messages, so one big batch of it does not hold
                # the scoring path's messages back for hundreds of milliseconds
                busy += now - slice_started
                await asyncio.sleep(0)
                slice_started = time.perf_counter()
            if envelope.message_id in done or envelope.message_id in unmarked:
                stats.duplicates += 1
                continue
            if self.ledger is not None:  # without a ledger every delivery is processed
                unmarked.add(envelope.message_id)
            try:
                if offloaded is None:
                    produced = hop.stage.process(envelope)
                else:  # computed by a worker process; the side effects happen here
                    outcome = offloaded.get(envelope.message_id)
                    produced = cast(Any, hop.stage).apply(envelope, outcome)
            except InputRejected as exc:
                self._reject(name, envelope, exc.reason, exc.location)
                stats.rejected += 1
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the run
                kind = getattr(exc, "kind", None) or type(exc).__name__  # a worker's error
                self._reject(name, envelope, f"stage error ({kind})", None)
                stats.rejected += 1
            else:
                outputs.extend(produced)
            completed.append(envelope.message_id)
        outputs.extend(flush_stage(hop.stage))
        stats.busy_s += busy + time.perf_counter() - slice_started
        stats.emitted += len(outputs)
        if hop.downstream:
            for output in outputs:
                for child in hop.downstream:
                    await self._queues[child].put(output)
        else:
            self._record_terminal(name, outputs)
        # The batch's AuditEvents become durable, then the ledger marks it done. This runs
        # beside the next batches: a hop's commits form a chain (each marks after the one
        # before it), so neither an fsync nor another hop's commit is on the hot path; a hop
        # waits only when MAX_COMMITS_IN_FLIGHT of its batches are still being committed.
        # (Waiting for the previous batch's commit made every hop of a message's path wait
        # behind the commit lock: ~7 fsyncs between ingest and score.)
        chain = self._committing.setdefault(name, deque())
        while len(chain) >= MAX_COMMITS_IN_FLIGHT or (chain and chain[0].done()):
            await chain.popleft()
        previous = chain[-1] if chain else None
        chain.append(asyncio.ensure_future(self._commit_and_mark(name, completed, previous)))

    async def _offload(
        self, stage: Any, batch: list[Envelope], done: set[str], unmarked: set[str]
    ) -> dict[str, Any] | None:
        """A stage with worker processes (``stage.offload``, ADR 0110) computes the batch's
        new messages there while this loop serves the other hops; outcomes by message id."""
        offload = getattr(stage, "offload", None)
        if offload is None:
            return None
        todo = [e for e in batch if e.message_id not in done and e.message_id not in unmarked]
        if not todo:
            return {}
        outcomes = await offload.run(todo, stage.runner.report)
        return {e.message_id: o for e, o in zip(todo, outcomes, strict=True)}

    async def _commit_and_mark(
        self, name: str, completed: list[str], previous: asyncio.Future[None] | None
    ) -> None:
        if previous is not None:
            await asyncio.shield(previous)
        await self._commit()
        if self.ledger is not None and completed:
            self.ledger.mark(name, completed)
        self._unmarked[name].difference_update(completed)

    async def _settle(self, name: str) -> None:
        """Wait for the hop's last commit (before it passes the end marker on)."""
        for pending in self._committing.pop(name, ()):
            await pending

    def _record_terminal(self, name: str, outputs: list[Envelope]) -> None:
        """Latency of each output from its source input's arrival (``ingest_time``, which
        every derived envelope carries along) to this terminal hop."""
        now = datetime.now(UTC)
        samples = self.stats.latencies_ms.setdefault(name, [])
        for output in outputs:
            if self.on_terminal is not None:
                self.on_terminal(name, output)
            if len(samples) < MAX_LATENCY_SAMPLES:
                samples.append((now - output.ingest_time).total_seconds() * 1000.0)
