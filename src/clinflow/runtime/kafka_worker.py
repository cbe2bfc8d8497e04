"""Starting one Kafka pipeline worker: a broker (given, or a local one), signals, the worker.

What ``clinflow worker`` and ``clinflow run --runtime kafka`` run. SIGINT/SIGTERM are caught
from the first line on, so a signal at any point after that ends in a clean exit 0; faust is
imported only once the broker answers (``clinflow.runtime.kafka`` is the faust part).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from clinflow.config import resolve_data_dir
from clinflow.errors import ConfigError
from clinflow.runtime.kafka_settings import (
    DEFAULT_GRAPH_FACTORY,
    KafkaSettings,
    StopSignals,
    parse_brokers,
)

BROKERS_ENV = "CLINFLOW_KAFKA_BROKERS"
CONNECT_TIMEOUT = 60.0  # seconds a worker waits for --brokers to accept connections


def run_kafka_worker(
    *,
    brokers: str | None,
    data_dir: str | os.PathLike[str] | None = None,
    graph: str = DEFAULT_GRAPH_FACTORY,
    options: Mapping[str, str] | None = None,
    local_broker: bool = False,
    group: str | None = None,
    partitions: int | None = None,
    batch_size: int | None = None,
    log_level: str = "WARNING",
) -> int:
    """Run one worker until SIGINT/SIGTERM and return its exit status (0 after a clean stop).

    Raises ``ConfigError`` (usage: no or both broker choices, bad addresses or graph) and
    ``BrokerUnavailable`` (the local broker cannot start); the commands print them.
    """
    signals = StopSignals().install()  # first: a signal from now on means a clean exit 0
    from clinflow.runtime.broker import local_broker as start_local
    from clinflow.runtime.broker import wait_for_brokers

    if local_broker and brokers:
        raise ConfigError("--local-broker and --brokers exclude each other")
    if not local_broker and not brokers:
        raise ConfigError(f"no Kafka broker: pass --brokers HOST:PORT (or set {BROKERS_ENV}) "
                          "or --local-broker")  # fmt: skip

    def run(bootstrap: str) -> int:
        tuning: dict[str, Any] = {"app_id": group, "partitions": partitions,
                                  "batch_size": batch_size}  # fmt: skip
        settings = replace(
            KafkaSettings(brokers=bootstrap),
            **{name: value for name, value in tuning.items() if value is not None},
        )
        wait_for_brokers(parse_brokers(bootstrap), CONNECT_TIMEOUT, signals)
        if signals.received is not None:
            return 0  # stopped before it started
        from clinflow.runtime.kafka import run_worker  # imports faust: only now

        return run_worker(bootstrap, data_dir, graph, options, settings=settings,
                          log_level=log_level, signals=signals)  # fmt: skip

    if brokers:
        return run(brokers)
    log_path = resolve_data_dir(data_dir) / "kafka" / "tansu.log"
    with start_local(log_path=log_path) as broker:
        print(f"clinflow worker: local broker at {broker.bootstrap} (pid {broker.pid})",
              file=sys.stderr, flush=True)  # fmt: skip
        return run(broker.bootstrap)
