"""Helpers of the runtime tests: a small pipeline graph for the Kafka runtime, importable by
worker subprocesses (``--graph runtime.helpers:build_kafka_graph`` with ``tests/`` on
PYTHONPATH; tests import it as ``from .helpers import ...``).

``clean`` (entry) drops payloads starting with ``drop`` and lower-cases the rest, then fans
out to ``split`` (one child per word) and ``measure`` (one child with the length); both feed
the terminal ``sink``, which writes one row per message id to ``<data-dir>/sink.db``
(idempotent: ``INSERT OR IGNORE``) and logs every call in ``deliveries``, so a test can tell
a redelivery that the ledger let through from a lost or duplicated row.

Options: ``delay`` seconds per envelope at ``split`` (to kill a worker mid-stream);
``fail_once=1``: ``measure`` raises on the first ``boom`` payload any worker sees.

The broker/worker harness of the Kafka tests (any graph, the deployment's by default):
``local_cluster`` starts an in-memory Tansu broker (a broker that cannot start fails the test
under ``CI=true`` and skips it elsewhere), ``Cluster.start_worker`` runs ``clinflow worker``
processes, ``wait_for_group`` waits (bounded) until they hold every partition, and every
process is stopped by its pid when the block ends.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clinflow.envelope import Envelope
from clinflow.runtime.broker import (
    BrokerUnavailable,
    LocalBroker,
    start_local_broker,
    stop_process,
)
from clinflow.runtime.graph import Graph, Hop, patient_key
from clinflow.runtime.kafka_settings import (
    KafkaSettings,
    assignments,
    settled_join,
)
from clinflow.sqlite_store import open_wal

KAFKA_GRAPH = "runtime.helpers:build_kafka_graph"
SINK_DB = "sink.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    message_id TEXT PRIMARY KEY,
    patient    TEXT NOT NULL,
    payload    BLOB NOT NULL,
    lineage    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL);
"""


class Clean:
    name = "clean"

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.payload.startswith(b"drop"):
            return []
        return [envelope.derive(envelope.payload.strip().lower())]


class Split:
    name = "split"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def process(self, envelope: Envelope) -> list[Envelope]:
        if self.delay:
            time.sleep(self.delay)
        words = envelope.payload.split()
        return [envelope.derive(b"word:%d:%s" % (index, word)) for index, word in enumerate(words)]


class Measure:
    """``fail_once``: raise on the first payload containing ``boom`` seen by any worker."""

    name = "measure"

    def __init__(self, fail_once: Path | None = None) -> None:
        self.fail_once = fail_once

    def process(self, envelope: Envelope) -> list[Envelope]:
        if self.fail_once is not None and b"boom" in envelope.payload:
            try:
                self.fail_once.touch(exist_ok=False)
            except FileExistsError:
                pass
            else:
                raise RuntimeError("measure: planted failure")
        return [envelope.derive(b"len:%d" % len(envelope.payload))]


class SqliteSink:
    """Terminal hop: one row per message id, every call counted."""

    name = "sink"

    def __init__(self, path: Path) -> None:
        # two workers opening a fresh file race to switch it to WAL: open as the product does
        self._conn = open_wal(path, _SCHEMA)
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._lock = threading.Lock()

    def process(self, envelope: Envelope) -> list[Envelope]:
        row = (envelope.message_id, envelope.patient, envelope.payload,
               json.dumps(list(envelope.lineage)))  # fmt: skip
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("INSERT OR IGNORE INTO rows VALUES (?, ?, ?, ?)", row)
            self._conn.execute(
                "INSERT INTO deliveries (message_id) VALUES (?)", (envelope.message_id,)
            )
            self._conn.execute("COMMIT")
        return [envelope]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def build_kafka_graph(data_dir: Path, options: Mapping[str, str]) -> Graph:
    sink = SqliteSink(Path(data_dir) / SINK_DB)
    fail_once = options.get("fail_once") == "1"
    graph = Graph.of(
        [
            Hop("clean", Clean(), ("split", "measure")),
            Hop("split", Split(float(options.get("delay", "0"))), ("sink",)),
            Hop(
                "measure", Measure(Path(data_dir) / "failed-once" if fail_once else None), ("sink",)
            ),
            Hop("sink", sink),
        ],
        entry="clean",
    )
    graph.closers.append(sink.close)
    return graph


def sink_rows(data_dir: Path) -> dict[str, tuple[str, bytes, str]]:
    """message id -> (patient, payload, lineage JSON) of everything the sink holds."""
    with sqlite3.connect(Path(data_dir) / SINK_DB) as conn:
        rows = conn.execute("SELECT message_id, patient, payload, lineage FROM rows").fetchall()
    return {message_id: (patient, payload, lineage) for message_id, patient, payload, lineage
            in rows}  # fmt: skip


def sink_deliveries(data_dir: Path) -> int:
    with sqlite3.connect(Path(data_dir) / SINK_DB) as conn:
        return int(conn.execute("SELECT count(*) FROM deliveries").fetchone()[0])


# ----- the broker/worker harness -----------------------------------------------------------

TESTS_DIR = Path(__file__).resolve().parents[1]
JOIN_TIMEOUT = 60.0  # first consumer-group join on Tansu: seconds to tens of seconds


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def assignments(self) -> list[tuple[int, float]]:
        """(partitions, seconds after start) of every rebalance the worker reported."""
        return assignments(self.text())


@dataclass
class Cluster:
    """A broker, a data directory and the ``clinflow worker`` processes started on them.

    ``graph`` None: the workers run the default ``--graph`` (the deployment's pipeline);
    ``hops``: how many topics the graph has (a settled group holds ``hops * partitions``).
    """

    broker: LocalBroker
    data_dir: Path
    logs: Path
    graph: str | None = KAFKA_GRAPH
    hops: int = 4  # the test graph: clean, split, measure, sink
    partitions: int = 4
    batch_size: int = 50
    workers: list[Worker] = field(default_factory=list)

    @property
    def settings(self) -> KafkaSettings:
        return KafkaSettings(brokers=self.broker.bootstrap, partitions=self.partitions)

    def start_worker(self, *options: str) -> Worker:
        log = self.logs / f"worker-{len(self.workers)}.log"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
        }
        graph = ["--graph", self.graph] if self.graph is not None else []
        command = [
            sys.executable, "-m", "clinflow.runtime.kafka_commands",
            "--brokers", self.broker.bootstrap, "--data-dir", str(self.data_dir), *graph,
            "--partitions", str(self.partitions), "--batch-size", str(self.batch_size),
            *options,
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        worker = Worker(process, log)
        self.workers.append(worker)
        return worker

    def wait_for_group(self, workers: list[Worker], timeout: float = JOIN_TIMEOUT) -> float:
        """Until ``workers`` hold every partition between them; the slowest join in seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            joined = settled_join([w.text() for w in workers], self.partitions * self.hops)
            if joined is not None:
                return joined
            for worker in workers:
                assert worker.process.poll() is None, self.describe("a worker exited early")
            time.sleep(0.2)
        raise AssertionError(self.describe(f"the group did not settle in {timeout:.0f} s"))

    def wait_until(self, done: Callable[[], bool], what: str, timeout: float) -> float:
        start = time.monotonic()
        while not done():
            if time.monotonic() - start > timeout:
                raise AssertionError(self.describe(f"{what}: not after {timeout:.0f} s"))
            time.sleep(0.1)
        return time.monotonic() - start

    def produce(
        self, envelopes: Iterable[Envelope], *, entry: str,
        key: Callable[[Envelope], str] = patient_key,
    ) -> int:  # fmt: skip
        """Send source inputs to the ``entry`` hop's topic; returns once the broker has them."""
        from clinflow.runtime.kafka import produce_sync

        return produce_sync(self.settings, envelopes, entry=entry, key=key)

    def describe(self, problem: str) -> str:
        tails = [f"--- {worker.log.name} (rc={worker.process.poll()}):\n"
                 + worker.log.read_text(errors="replace")[-3000:]
                 for worker in self.workers]  # fmt: skip
        return "\n".join([problem, *tails])


@contextmanager
def local_cluster(tmp_path: Path, **options: object) -> Iterator[Cluster]:
    """A ``Cluster`` on a fresh in-memory broker, data dir ``tmp_path/data``; every process it
    started is stopped by pid at the end. No broker: fail under ``CI=true``, skip elsewhere."""
    try:
        broker = start_local_broker(log_path=tmp_path / "tansu.log")
    except BrokerUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc} (CI=true: broker tests must run, not skip)", pytrace=False)
        pytest.skip(f"the local Tansu broker cannot start: {exc}")
    cluster = Cluster(broker, tmp_path / "data", tmp_path, **options)  # type: ignore[arg-type]
    try:
        yield cluster
    finally:
        try:
            for worker in cluster.workers:
                stop_process(worker.process, timeout=5.0)
        finally:
            stop_process(broker.process)


def stop_cleanly(worker: Worker, timeout: float = 30.0) -> int | None:
    """SIGTERM, then the exit status (None if it did not stop in ``timeout``)."""
    os.kill(worker.process.pid, signal.SIGTERM)
    try:
        return worker.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


# ----- replay reports (``clinflow replay compare``) ----------------------------------------


def sample_replay_report(p99_ms: float = 40.0, per_s: float = 500.0, lost: int = 0) -> Any:
    """A small valid ``ReplayReport`` with the given headline figures."""
    from clinflow.runtime.replay_report import (
        Account,
        Correctness,
        InputsSummary,
        LatencySummary,
        ReplayReport,
        RunSummary,
        Timeline,
        failed_checks,
    )

    latency = LatencySummary(count=100, p50_ms=p99_ms / 4, p90_ms=p99_ms / 2, p99_ms=p99_ms,
                             p999_ms=p99_ms, max_ms=p99_ms * 1.5, mean_ms=p99_ms / 3)  # fmt: skip
    correctness = Correctness(
        lost=lost, duplicated_at_sinks=0, duplicate_disclosures=0, quarantined=1,
        quarantined_by_reason={"invalid JSON": 1}, residual_phi=0, residual_by_kind={},
        leak_files_scanned=3, consent_violations=0, revoked_patients=0,
        revoked_data_remaining=0, audit_entries=10, audit_verified=True, audit_failures=[],
        accounting={"fhir": Account(ingested=5, released=4, denied=0, quarantined=1,
                                    balanced=True, unaccounted=[])},
        counts_match_audit=True,
    )  # fmt: skip
    failed = failed_checks(correctness)
    return ReplayReport(
        clinflow_version="0", started_at="2026-01-01T00:00:00+00:00", source="icu-ward",
        source_kind="scenario", runtime="embedded", rate="500/s", duration_s=10.0,
        patients=3, seed=1, faults="", ok=not failed, failed_checks=failed, machine={},
        inputs=InputsSummary(source_inputs=100, injected={}, fed=100, source_exhausted=False),
        run=RunSummary(seconds=10.0, stopped_by="end of source", offered_per_s=per_s,
                       achieved_per_s=per_s, outputs={"score-sink": 100},
                       outputs_per_s={"score-sink": 10.0}, generator_lag_ms=latency),
        latency={"score-sink": latency}, hops={}, consent={},
        correctness=correctness,
        timeline=Timeline(bucket_s=1.0, offered=[1], fed=[1], completed={}, p50_ms={},
                          p99_ms={}, queue_depth=[0], faults=[]),
    )  # fmt: skip
