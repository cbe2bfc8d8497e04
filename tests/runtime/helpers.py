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
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from clinflow.envelope import Envelope
from clinflow.runtime.graph import Graph, Hop

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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.executescript(_SCHEMA)
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
            Hop("measure", Measure(Path(data_dir) / "failed-once" if fail_once else None),
                ("sink",)),
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
