"""``clinflow replay --runtime kafka``: the same open-loop schedule sent into the Kafka
runtime (ADR 0070/0071), with ``kill-worker@T`` (``kill -9`` of a worker, then a fresh one),
``broker-restart@T:for=S`` (the local broker stopped, started again on its port S later) and
``audit-outage@T:for=S`` (the workers' audit commits wait, ``replay_outage.SwitchedAudit``).

- The cluster: ``--brokers`` or a local Tansu broker (``runtime.broker``), and ``--workers``
  ``clinflow worker`` processes on the replay's data directory (the deployment's graph),
  stopped by pid at the end. The replay waits (bounded) until they hold every partition.
- The feed sends each input to the ingest topic at its scheduled time (not awaiting the
  broker's acknowledgement before the next: open loop), keyed by the source's patient route.
  A send the broker did not acknowledge (it was down too long) is sent again at the end
  (same message id: the ledger skips what was done).
- A broker restart needs a persistent ``--broker-storage`` (``replay_spec.FaultPlan.
  check_broker``): Tansu in memory would come back empty. The workers and the producer
  reconnect by themselves (aiokafka retries); the consumer group rejoins.
- Done when the ledger says ingest completed every distinct input and no hop's count moved
  for ``QUIET_S`` (bounded by ``DRAIN_TIMEOUT_S``), and not before ``KILL_SETTLE_S`` after
  the last worker kill or broker restart (partitions move only after a rebalance).
- Latency per output from the lineage index: ``released_at`` of each research-store and
  scoring-icu output minus the scheduled arrival of the source input it derives from (the
  sinks run in the workers; their release time is what the deployment records).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clinflow.errors import ConfigError
from clinflow.runtime.replay_load import Scheduled, arrival_envelope
from clinflow.runtime.replay_metrics import ReplayMetrics
from clinflow.runtime.replay_outage import SWITCH_OPTION, WORKER_GRAPH, OutageSwitch
from clinflow.runtime.replay_spec import FaultKind, FaultPlan

PIPELINE_HOPS = 11  # runtime.stages.build_pipeline: ingest ... research-release
JOIN_TIMEOUT_S = 180.0
DRAIN_TIMEOUT_S = 900.0
QUIET_S = 6.0
# After a kill the dead worker's partitions wait for the session timeout (10 s) and a
# rebalance with the fresh worker (its join took 6-26 s here): a quiet ledger before then
# is not the end (a first run ended early and reported the unfinished inputs unbalanced).
KILL_SETTLE_S = 30.0
ENTRY = "ingest"
BROKER_STOP_S = 2.0  # a broker with clients may not leave on SIGTERM: SIGKILL after this
RESEND_ROUNDS = 3  # sends the broker did not acknowledge are sent again up to this often
SINKS = {"research-store": "research-release", "scoring-icu": "score-sink"}


@dataclass
class KafkaRun:
    """The cluster of one Kafka replay and what happened to it."""

    data_dir: Path
    logs: Path
    partitions: int
    bootstrap: str = ""
    broker: object | None = None  # runtime.broker.LocalBroker when started here
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    joined_s: float | None = None
    kills: list[dict[str, float]] = field(default_factory=list)  # at_s, stalled_s
    restarts: list[dict[str, float]] = field(default_factory=list)  # at_s, down_s, back_s
    storage: str = "memory://tansu/"  # the local broker's --storage-engine
    outage: OutageSwitch | None = None  # audit-outage: the workers' switch file
    resent: int = 0  # inputs sent again after the broker did not acknowledge them
    drained_s: float = 0.0

    def start(self, brokers: str | None, workers: int) -> None:
        from clinflow.runtime.broker import BrokerUnavailable, start_local_broker

        self.logs.mkdir(parents=True, exist_ok=True)
        if brokers:
            self.bootstrap = brokers
        else:
            try:
                broker = start_local_broker(
                    log_path=self.logs / "broker.log", storage=self.storage
                )
            except BrokerUnavailable as exc:
                raise ConfigError(f"--runtime kafka: no --brokers and {exc}") from exc
            self.broker = broker
            self.bootstrap = broker.bootstrap
        for _ in range(workers):
            self.start_worker()
        started = time.monotonic()
        while (joined := self.settled()) is None:
            if time.monotonic() - started > JOIN_TIMEOUT_S:
                raise ConfigError(
                    f"--runtime kafka: the workers did not share the partitions "
                    f"within {JOIN_TIMEOUT_S:.0f} s (logs: {self.logs})"
                )
            for number, worker in enumerate(self.workers):
                if worker.poll() is not None:
                    raise ConfigError(
                        f"--runtime kafka: worker {number} exited with "
                        f"{worker.returncode} (log: {self._log(number)})"
                    )
            time.sleep(0.3)
        self.joined_s = joined

    def start_worker(self) -> subprocess.Popen[bytes]:
        number = len(self.workers)
        command = [
            sys.executable,
            "-m",
            "clinflow.runtime.kafka_commands",
            "--brokers",
            self.bootstrap,
            "--data-dir",
            str(self.data_dir),
            "--partitions",
            str(self.partitions),
        ]
        if self.outage is not None:
            command += ["--graph", WORKER_GRAPH,
                        "--graph-option", f"{SWITCH_OPTION}={self.outage.path}"]  # fmt: skip
        with self._log(number).open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.workers.append(process)
        return process

    def _log(self, number: int) -> Path:
        return self.logs / f"worker-{number}.log"

    def settled(self) -> float | None:
        """The slowest live worker's join (s) once the live workers hold every partition
        between them, each some; None while a rebalance is pending."""
        from clinflow.runtime.kafka_settings import settled_join

        alive = [n for n, w in enumerate(self.workers) if w.poll() is None]
        texts = [self._log(n).read_text(errors="replace") for n in alive]
        return settled_join(texts, self.partitions * PIPELINE_HOPS)

    def kill_one(self, at_s: float) -> None:
        """``kill -9`` of the oldest live worker, and a fresh worker in its place."""
        live = [w for w in self.workers if w.poll() is None]
        if not live:
            return
        os.kill(live[0].pid, signal.SIGKILL)
        live[0].wait(timeout=30)
        self.start_worker()
        self.kills.append({"at_s": at_s})

    def restart_broker(self, at_s: float, down_s: float, elapsed: Callable[[], float]) -> None:
        """Stop the local broker (SIGTERM; SIGKILL if it is still serving clients after
        ``BROKER_STOP_S``), keep it down ``down_s`` from the moment its process is gone, then
        start it again on the same port with the same storage (blocking: run it in a thread).
        """
        from clinflow.runtime.broker import LocalBroker, start_local_broker, stop_process

        broker = self.broker
        assert isinstance(broker, LocalBroker), "broker-restart needs the local broker"
        status = stop_process(broker.process, timeout=BROKER_STOP_S)
        gone_s = elapsed()
        time.sleep(down_s)
        self.broker = start_local_broker(
            host=broker.host, port=broker.port, log_path=self.logs / "broker.log",
            storage=self.storage,
        )  # fmt: skip
        self.restarts.append({
            "at_s": at_s, "gone_s": round(gone_s, 2), "back_s": round(elapsed(), 2),
            "killed": float(status == -signal.SIGKILL),
        })  # fmt: skip

    def settle_until(self) -> float:
        """Not drained before this (elapsed s): rebalances after kills and restarts."""
        kills = (k["at_s"] + KILL_SETTLE_S for k in self.kills)
        restarts = (r["back_s"] + KILL_SETTLE_S for r in self.restarts)
        return max((*kills, *restarts), default=0.0)

    def stop(self) -> None:
        from clinflow.runtime.broker import LocalBroker, stop_process

        try:
            for worker in self.workers:
                if worker.poll() is None:
                    stop_process(worker, timeout=30.0)
        finally:
            if isinstance(self.broker, LocalBroker):
                stop_process(self.broker.process)


async def feed(
    run: KafkaRun, items: Iterator[Scheduled], metrics: ReplayMetrics, plan: FaultPlan
) -> None:
    """Send every scheduled input at its time; at each fault's time, kill a worker,
    restart the broker or switch the workers' audit store off (the last two in the
    background: the feed goes on sending, the producer buffers and retries)."""
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
    from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

    from clinflow.runtime.ingest import route_key
    from clinflow.runtime.kafka import ensure_topics
    from clinflow.runtime.kafka_settings import KafkaSettings, topic_name

    settings = KafkaSettings(brokers=run.bootstrap, partitions=run.partitions)
    await ensure_topics(settings, [ENTRY])
    actions = _fault_actions(run, plan, metrics)
    background: list[asyncio.Future[None]] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        linger_ms=5,
        max_request_size=settings.max_message_bytes,
    )
    # the producer's reconnect warnings (a broker restart) go to the run's logs, not stderr
    client_log = logging.getLogger("aiokafka")
    handler = logging.FileHandler(run.logs / "producer.log", encoding="utf-8")
    client_log.addHandler(handler)
    client_log.propagate = False
    await producer.start()
    pending: list[tuple[asyncio.Future[object], bytes, bytes]] = []

    async def send(value: bytes, key: bytes) -> None:
        try:
            future = await producer.send(topic_name(ENTRY), value, key=key)
        except KafkaError as exc:  # no metadata / buffer full while the broker is away
            future = asyncio.get_running_loop().create_future()
            future.set_exception(exc)
        pending.append((future, value, key))

    try:
        for scheduled in items:
            while actions and actions[0][0] <= metrics.elapsed():
                background.append(asyncio.ensure_future(actions.pop(0)[1]()))
            delay = scheduled.at_s - metrics.elapsed()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            metrics.note_fed(scheduled, metrics.elapsed() - scheduled.at_s)
            envelope = arrival_envelope(scheduled, metrics.start_wall)
            value, key = envelope.to_bytes(), route_key(envelope).encode()
            await send(value, key)
        for at_s, action in actions:  # faults after the last input
            await asyncio.sleep(max(0.0, at_s - metrics.elapsed()))
            background.append(asyncio.ensure_future(action()))
        await asyncio.gather(*background)
        for _ in range(RESEND_ROUNDS):
            results = await asyncio.gather(*(f for f, _, _ in pending), return_exceptions=True)
            failed = [(v, k) for (_, v, k), r in zip(pending, results, strict=True)
                      if isinstance(r, Exception)]  # fmt: skip
            if not failed:
                break
            run.resent += len(failed)
            pending = []
            for value, key in failed:
                await send(value, key)
        else:
            await asyncio.gather(*(f for f, _, _ in pending))  # raises the broker's error
    finally:
        for task in background:
            task.cancel()
        await producer.stop()
        client_log.removeHandler(handler)
        client_log.propagate = True
        handler.close()


def _fault_actions(
    run: KafkaRun, plan: FaultPlan, metrics: ReplayMetrics
) -> list[tuple[float, Callable[[], Awaitable[None]]]]:
    """The timed faults as (at_s, coroutine function), in time order."""
    actions: list[tuple[float, Callable[[], Awaitable[None]]]] = []
    for fault in plan.of(FaultKind.KILL_WORKER):

        async def kill(at_s: float = fault.start_s) -> None:
            await asyncio.to_thread(run.kill_one, at_s)

        actions.append((fault.start_s, kill))
    for fault in plan.of(FaultKind.BROKER_RESTART):

        async def restart(at_s: float = fault.start_s, down_s: float = fault.for_s or 0.0) -> None:
            await asyncio.to_thread(run.restart_broker, at_s, down_s, metrics.elapsed)

        actions.append((fault.start_s, restart))
    for fault in plan.of(FaultKind.AUDIT_OUTAGE):
        switch = run.outage
        assert switch is not None, "audit-outage needs the workers' switch"

        async def outage(
            switch: OutageSwitch = switch, until_s: float = fault.start_s + (fault.for_s or 0.0)
        ) -> None:
            switch.on()
            try:
                await asyncio.sleep(max(0.0, until_s - metrics.elapsed()))
            finally:
                switch.off()

        actions.append((fault.start_s, outage))
    return sorted(actions, key=lambda action: action[0])


class LedgerWatch:
    """Polls the ledger (every ``every_s``, in a thread) and keeps when its counts changed:
    when the run has drained, and how long progress stopped after each worker kill."""

    def __init__(self, run: KafkaRun, metrics: ReplayMetrics, every_s: float = 0.5) -> None:
        import threading

        self.run = run
        self.metrics = metrics
        self.every_s = every_s
        self.changes: list[float] = []  # elapsed seconds at which the counts had moved
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="ledger-watch", daemon=True)

    def __enter__(self) -> LedgerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _poll(self) -> None:
        path = self.run.data_dir / "ledger.db"
        while not self._stop.wait(self.every_s):
            if not path.exists():
                continue
            counts = _ledger_counts(path)
            if counts != self.counts:
                self.counts = counts
                self.changes.append(self.metrics.elapsed())

    def wait_drained(self, distinct_inputs: int) -> dict[str, int]:
        """Until ingest completed every input and no count moved for ``QUIET_S``."""
        started = time.monotonic()
        while time.monotonic() - started < DRAIN_TIMEOUT_S:
            last_change = self.changes[-1] if self.changes else 0.0
            done = self.counts.get(ENTRY, 0) >= distinct_inputs
            settled = self.run.settle_until()
            now = self.metrics.elapsed()
            # (and the live workers hold every partition: a rebalance slower than the
            # settle time after a kill is not the end, its partitions' inputs still wait)
            if (
                done
                and now - last_change >= QUIET_S
                and now >= settled
                and self.run.settled() is not None
            ):
                self.run.drained_s = last_change
                return dict(self.counts)
            time.sleep(0.5)
        raise ConfigError(
            f"--runtime kafka: not drained after {DRAIN_TIMEOUT_S:.0f} s "
            f"({self.counts.get(ENTRY, 0)} of {distinct_inputs} inputs through ingest; "
            f"logs: {self.run.logs})"
        )

    def stalls(self) -> None:
        """Per kill and restart: the longest time without progress within a minute after."""
        for fault in (*self.run.kills, *self.run.restarts):
            at = fault["at_s"]
            marks = [at, *(t for t in self.changes if at < t <= at + 60.0)]
            gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
            fault["stalled_s"] = round(max(gaps, default=0.0), 2)


def _ledger_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute("SELECT hop, count(*) FROM processed GROUP BY hop").fetchall()
    return {str(hop): int(count) for hop, count in rows}


def latency_from_lineage(lineage_db: Path, metrics: ReplayMetrics) -> None:
    """Each released output's latency: ``released_at`` minus its source input's schedule."""
    with sqlite3.connect(f"file:{lineage_db}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute(
            "SELECT o.output_id, o.sink, o.released_at, i.input_id FROM outputs o"
            " JOIN output_inputs i ON i.output_id = o.output_id AND i.sink = o.sink"
        ).fetchall()
    due_of: dict[tuple[str, str], tuple[float, float]] = {}
    for output_id, sink, released_at, input_id in rows:
        due = metrics.due.get(input_id)
        if due is not None and sink in SINKS:
            due_of[(output_id, sink)] = (due, float(released_at))
    for (output_id, sink), (due, released_at) in sorted(due_of.items(), key=lambda kv: kv[1]):
        metrics.record_latency(SINKS[sink], output_id, metrics.start_epoch + due, released_at)
