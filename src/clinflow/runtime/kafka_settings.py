"""What a Kafka worker needs to know before faust is imported: brokers, topics, the graph.

Kept apart from :mod:`clinflow.runtime.kafka` (the only module importing faust) so the CLI
can validate options and name topics without the import cost.
"""

from __future__ import annotations

import importlib
import re
import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from clinflow.envelope import Envelope
from clinflow.errors import ConfigError
from clinflow.runtime.graph import Graph

TOPIC_PREFIX = "clinflow."
DEFAULT_APP_ID = "clinflow-pipeline"
# The deployment's pipeline graph, built by the composition root for every runtime.
DEFAULT_GRAPH_FACTORY = "clinflow.runtime.kafka_pipeline:deployment_graph"
# What faust 0.15 writes into its worker consumer's construction (ADR 0122).
FAUST_FETCH_MAX_WAIT_MS = 1500



@dataclass(frozen=True, slots=True)
class WorkerGraph:
    """A graph plus the hooks the Kafka runtime calls, as the embedded runtime does.

    ``reject(hop, envelope, reason, location)``: quarantine an input a stage refused
    (``InputRejected``) or failed on (any other exception, reason ``stage error (Type)``),
    and audit it; the input then counts as completed. Without it a stage exception ends the
    worker (status 1) and the batch is redelivered. ``commit()``: after each batch's stage
    calls and before its outputs are sent on (the audit buffer's group commit), so nothing
    is marked done in the ledger before its audit entries are durable.
    """

    graph: Graph
    reject: Callable[[str, Envelope, str, str | None], None] | None = None
    commit: Callable[[], None] | None = None


# A factory returns a bare Graph (no hooks) or a WorkerGraph.
GraphFactory = Callable[[Path, Mapping[str, str]], "Graph | WorkerGraph"]


def as_worker_graph(built: Graph | WorkerGraph, factory: str) -> WorkerGraph:
    if isinstance(built, WorkerGraph):
        return built
    if isinstance(built, Graph):
        return WorkerGraph(built)
    raise ConfigError(f"--graph {factory!r} returned {type(built).__name__}, not a Graph")


def topic_name(hop: str) -> str:
    """The topic a hop reads: ``clinflow.<hop>``."""
    return f"{TOPIC_PREFIX}{hop}"


def parse_brokers(brokers: str) -> list[tuple[str, int]]:
    """``HOST:PORT[,HOST:PORT...]`` as (host, port) pairs; ``ConfigError`` naming a bad one."""
    addresses = []
    for address in brokers.split(","):
        host, _, port = address.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"--brokers: {address.strip()!r} is not HOST:PORT")
        addresses.append((host, int(port)))
    return addresses


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """How a worker talks to Kafka; the defaults suit a small cluster and the tests."""

    brokers: str  # "host:port[,host:port...]"
    app_id: str = DEFAULT_APP_ID  # consumer group: workers with one id share partitions
    partitions: int = 8  # per topic, when the worker or the producer creates it
    replication: int = 1
    batch_size: int = 200  # envelopes per stream.take() batch
    batch_within: float = 0.05  # seconds a partial batch waits for more
    fetch_max_wait_ms: int = FAUST_FETCH_MAX_WAIT_MS  # lower cuts latency (ADR 0122)
    session_timeout: float = 10.0  # a dead worker's partitions move after this (Kafka min 6)
    heartbeat_interval: float = 1.0
    commit_interval: float = 1.0
    stop_timeout: float = 20.0  # clean stop bound before the process gives up with status 1
    # Largest envelope a topic carries (producer max_request_size, topic max.message.bytes):
    # a patient's Bundle is hundreds of KB to MB; Kafka's default (1 MB) is too small.
    max_message_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        parse_brokers(self.brokers)
        if self.partitions < 1 or self.batch_size < 1:
            raise ConfigError("kafka: partitions and batch size must be at least 1")
        if self.max_message_bytes < 1024:
            raise ConfigError("kafka: the message size limit must be at least 1024 bytes")

    @property
    def topic_config(self) -> dict[str, str]:
        """Per-topic configuration set when a worker or the producer creates a topic."""
        return {"max.message.bytes": str(self.max_message_bytes)}

    @property
    def bootstrap(self) -> list[str]:
        return [f"{host}:{port}" for host, port in parse_brokers(self.brokers)]

    @property
    def broker_urls(self) -> list[str]:
        """faust's spelling: ``kafka://HOST:PORT``."""
        return [f"kafka://{address}" for address in self.bootstrap]


def load_graph_factory(path: str) -> GraphFactory:
    """Resolve ``package.module:function`` to the graph factory it names."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--graph {path!r}: expected 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--graph {path!r}: cannot import {module_name}: {exc}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ConfigError(f"--graph {path!r}: {module_name} has no function {attribute!r}")
    return factory  # type: ignore[no-any-return]


def parse_graph_options(pairs: list[str] | None) -> dict[str, str]:
    """``--graph-option KEY=VALUE`` values as a mapping for the graph factory."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--graph-option {pair!r}: expected KEY=VALUE")
        options[key] = value
    return options


# A worker prints one line per rebalance (``run_worker``); supervisors and tests read it.
ASSIGNED_LINE = re.compile(r"partitions assigned \((\d+)\) after ([\d.]+) s")


def assignments(log: str) -> list[tuple[int, float]]:
    """(partitions, seconds after the worker started) of each rebalance in a worker's log."""
    return [(int(count), float(after)) for count, after in ASSIGNED_LINE.findall(log)]


def settled_join(logs: Iterable[str], total: int) -> float | None:
    """Once the workers with these logs hold ``total`` partitions between them, each some:
    the slowest worker's join in seconds; None before."""
    latest = [assignments(log)[-1:] for log in logs]
    if not all(latest) or sum(entry[0][0] for entry in latest) != total:
        return None
    if not all(entry[0][0] > 0 for entry in latest):
        return None
    return max(entry[0][1] for entry in latest)


class StopSignals:
    """SIGINT/SIGTERM caught from the moment a worker command starts, not only once faust runs.

    Before the event loop exists a signal is remembered (the worker then does not start and
    exits 0); once ``forward_to`` is called it is handed to the worker's stop callback.
    Without this, a signal during imports or the broker start killed the process (-15 or a
    KeyboardInterrupt traceback) instead of a clean exit.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._forward: Callable[[int], None] | None = None

    def install(self) -> StopSignals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if self._forward is not None:
            self._forward(signum)

    def forward_to(self, callback: Callable[[int], None]) -> None:
        self._forward = callback
        if self.received is not None:
            callback(self.received)
