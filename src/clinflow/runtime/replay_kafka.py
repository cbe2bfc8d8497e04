"""``clinflow replay --runtime kafka``: the same open-loop schedule sent into the Kafka
runtime (ADR 0070/0071), with ``kill-worker@T`` (``kill -9`` of a worker, then a fresh one).

- The cluster: ``--brokers`` or a local Tansu broker (``runtime.broker``), and ``--workers``
  ``clinflow worker`` processes on the replay's data directory (the deployment's graph),
  stopped by pid at the end. The replay waits (bounded) until they hold every partition.
- The feed sends each input to the ingest topic at its scheduled time (not awaiting the
  broker's acknowledgement before the next: open loop), keyed by the source's patient route.
- Done when the ledger says ingest completed every distinct input and no hop's count moved
  for ``QUIET_S`` (bounded by ``DRAIN_TIMEOUT_S``), and not before ``KILL_SETTLE_S`` after
  the last worker kill (the dead worker's partitions move only after a rebalance).
- Latency per output from the lineage index: ``released_at`` of each research-store and
  scoring-icu output minus the scheduled arrival of the source input it derives from (the
  sinks run in the workers; their release time is what the deployment records).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clinflow.errors import ConfigError
from clinflow.runtime.replay_load import Scheduled, arrival_envelope
from clinflow.runtime.replay_metrics import ReplayMetrics
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
    kills: list[dict[str, float]] = field(default_factory=list)  # at_s, recovered_s
    drained_s: float = 0.0

    def start(self, brokers: str | None, workers: int) -> None:
        from clinflow.runtime.broker import BrokerUnavailable, start_local_broker

        self.logs.mkdir(parents=True, exist_ok=True)
        if brokers:
            self.bootstrap = brokers
        else:
            try:
                broker = start_local_broker(log_path=self.logs / "broker.log")
            except BrokerUnavailable as exc:
                raise ConfigError(f"--runtime kafka: no --brokers and {exc}") from exc
            self.broker = broker
            self.bootstrap = broker.bootstrap
        for _ in range(workers):
            self.start_worker()
        started = time.monotonic()
        while (joined := self._settled()) is None:
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
        with self._log(number).open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.workers.append(process)
        return process

    def _log(self, number: int) -> Path:
        return self.logs / f"worker-{number}.log"

    def _settled(self) -> float | None:
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
    """Send every scheduled input at its time; kill a worker at each ``kill-worker@T``."""
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

    from clinflow.runtime.ingest import route_key
    from clinflow.runtime.kafka import ensure_topics
    from clinflow.runtime.kafka_settings import KafkaSettings, topic_name

    settings = KafkaSettings(brokers=run.bootstrap, partitions=run.partitions)
    await ensure_topics(settings, [ENTRY])
    kills = sorted(f.start_s for f in plan.of(FaultKind.KILL_WORKER))
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        linger_ms=5,
        max_request_size=settings.max_message_bytes,
    )
    await producer.start()
    pending: list[asyncio.Future[object]] = []
    try:
        for scheduled in items:
            while kills and kills[0] <= metrics.elapsed():
                await asyncio.to_thread(run.kill_one, kills.pop(0))
            delay = scheduled.at_s - metrics.elapsed()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            metrics.note_fed(scheduled, metrics.elapsed() - scheduled.at_s)
            envelope = arrival_envelope(scheduled, metrics.start_wall)
            pending.append(
                await producer.send(
                    topic_name(ENTRY), envelope.to_bytes(), key=route_key(envelope).encode()
                )
            )
        for at_s in kills:  # kills after the last input
            await asyncio.sleep(max(0.0, at_s - metrics.elapsed()))
            await asyncio.to_thread(run.kill_one, at_s)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


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
            settled = max((k["at_s"] + KILL_SETTLE_S for k in self.run.kills), default=0.0)
            now = self.metrics.elapsed()
            if done and now - last_change >= QUIET_S and now >= settled:
                self.run.drained_s = last_change
                return dict(self.counts)
            time.sleep(0.5)
        raise ConfigError(
            f"--runtime kafka: not drained after {DRAIN_TIMEOUT_S:.0f} s "
            f"({self.counts.get(ENTRY, 0)} of {distinct_inputs} inputs through ingest; "
            f"logs: {self.run.logs})"
        )

    def stalls(self) -> None:
        """Per kill: the longest time without progress within a minute after it."""
        for kill in self.run.kills:
            at = kill["at_s"]
            marks = [at, *(t for t in self.changes if at < t <= at + 60.0)]
            gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
            kill["stalled_s"] = round(max(gaps, default=0.0), 2)


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
