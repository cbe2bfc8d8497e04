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

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.audit.store import open_existing_store
from clinflow.config import DataDir
from clinflow.envelope import Envelope
from clinflow.runtime.accounting import account_research
from clinflow.runtime.broker import (
    BrokerUnavailable,
    LocalBroker,
    start_local_broker,
    stop_process,
)
from clinflow.runtime.deployment import Deployment
from clinflow.runtime.graph import Graph, Hop, patient_key
from clinflow.runtime.kafka_settings import (
    KafkaSettings,
    assignments,
    settled_join,
)
from clinflow.runtime.ledger import Ledger
from clinflow.sqlite_store import open_wal
from helpers.fakes import RecordingAuditSink

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


# ----- the stores of one data dir, comparable across runs (embedded, Kafka, workers) -----

KEYS = {  # one deployment's keys for both data dirs (hex, 32 bytes each)
    "CLINFLOW_PROJECT_KEY": "a1" * 32,
    "CLINFLOW_MASTER_KEY": "b2" * 32,
    "CLINFLOW_AUDIT_SIGNING_KEY": "c3" * 32,
}




QUARANTINE_ITEM = "urn:clinflow:quarantine-item"
MESSAGE = "urn:clinflow:message"


def event_content(entry: bytes, quarantined: dict[str, str]) -> bytes:
    """An AuditEvent without the time it was recorded (what a re-run repeats), a quarantine
    row id replaced by the item it names: ids count up in arrival order in each data dir's
    quarantine.db, and two rejected inputs on different partitions arrive in either order."""
    event = orjson.loads(entry)
    event.pop("recorded", None)
    for entity in event.get("entity") or ():
        identifier = entity.get("what", {}).get("identifier", {})
        if identifier.get("system") == QUARANTINE_ITEM:
            identifier["value"] = quarantined[identifier["value"]]
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def event_code(entry: bytes) -> str:
    return str(orjson.loads(entry)["code"]["coding"][0]["code"])


@dataclass
class Stores:
    research: list[tuple[Any, ...]]  # record fields + SHA-256 of the decrypted bytes
    research_payloads: int
    lineage: list[tuple[Any, ...]]  # (output, sink, patient, purpose, location, time, inputs)
    lineage_rows: int
    scoring: Counter[tuple[str, bytes]]  # (patient, Observation) with multiplicity
    quarantine: Counter[tuple[str, str, str, str | None]]  # (stage, location, reason, patient)
    consent: list[tuple[str, int, str, str, bytes]]  # (patient, version, kind, item, body)
    quarantined: dict[str, str]  # quarantine row id -> "stage location: reason"
    ledger: dict[str, int]  # completed inputs per hop
    audit: list[bytes]  # every entry, in log order

    def contents(self) -> list[bytes]:
        return [event_content(entry, self.quarantined) for entry in self.audit]

    @property
    def events(self) -> Counter[bytes]:
        return Counter(self.contents())

    @property
    def codes(self) -> Counter[str]:
        return Counter(event_code(entry) for entry in self.audit)

    def accounts(self) -> dict[str, dict[str, Any]]:
        return {kind: account.to_json() for kind, account in account_research(self.audit).items()}


def read_stores(data_dir: Path) -> Stores:
    """Everything the pipeline wrote to ``data_dir`` (opened without its audit log, so reading
    signs no checkpoint)."""
    root = DataDir.open(data_dir)
    with Deployment.open(root, audit=RecordingAuditSink()) as deployment:
        records = deployment.research.records()
        research = [
            (r.output_id, r.patient, r.purpose, r.category, r.event_time, r.location, r.lineage,
             hashlib.sha256(deployment.research.read(r.output_id)).hexdigest())
            for r in records
        ]  # fmt: skip
        registry = deployment.consent.registry
        patients = sorted({r.patient for r in records} | set(registry.patients())
                          | set(deployment.scoring_store.patients()))  # fmt: skip
        lineage = sorted(
            (r.output_id, r.sink, r.patient, r.purpose, r.location, r.event_time,
             tuple(sorted(r.inputs)))
            for patient in patients
            for r in deployment.lineage.find(patient, include_retracted=True)
        )  # fmt: skip
        scoring: Counter[tuple[str, bytes]] = Counter()
        for chunk in deployment.scoring_store.replay():
            for resource in chunk:
                subject = str(resource.get("subject", {}).get("reference", ""))
                scoring[(subject, orjson.dumps(resource, option=orjson.OPT_SORT_KEYS))] += 1
        items = deployment.quarantine.list(status=None)
        consent = sorted(
            (row.patient, row.version, row.kind, row.item_id,
             orjson.dumps(row.body, option=orjson.OPT_SORT_KEYS))
            for patient in registry.patients()
            for row in registry.history(patient)
        )  # fmt: skip
        stores = Stores(
            research=sorted(research),
            research_payloads=len(deployment.research.held()),
            lineage=lineage,
            lineage_rows=deployment.lineage.count(),
            scoring=scoring,
            quarantine=Counter((item.stage, item.location, item.reason, item.patient)
                               for item in items),  # fmt: skip
            consent=consent,
            quarantined={str(item.id): f"{item.stage} {item.location}: {item.reason}"
                         for item in items},  # fmt: skip
            ledger={},
            audit=[],
        )
    stores.ledger = ledger_counts(root.ledger_db)
    audit = open_existing_store(root)
    try:
        stores.audit = [entry for _, _, entry in audit.iter_entries()]
    finally:
        audit.close()
    return stores


def ledger_counts(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    ledger = Ledger(path)
    try:
        return {hop: count for hop in HOP_NAMES if (count := ledger.count(hop))}
    finally:
        ledger.close()


HOP_NAMES = ("ingest", "consent-events", "treatment-select", "treatment-gate",
             "minimum-necessary", "icu-score", "score-sink", "research-select", "deid-dicom",
             "deid-fhir", "research-release")  # fmt: skip


def audit_size(data_dir: Path) -> int:
    store = open_existing_store(DataDir.open(data_dir))
    try:
        return store.size()
    finally:
        store.close()
