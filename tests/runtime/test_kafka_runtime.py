"""The Kafka runtime: the test graph's stages as faust agents in two worker processes on a
local Tansu broker. Every input reaches the sink exactly once, also when one worker is
``kill -9``-ed mid-stream, and the sink holds what ``Graph.run_through`` gives in-process.

Each test starts its own in-memory broker (milliseconds) and stops every process it started
by pid in a ``finally``. Waits are bounded; the first consumer-group join dominates the time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinflow.envelope import Envelope, SourceKind, content_message_id
from clinflow.runtime.broker import stop_process
from clinflow.runtime.kafka_settings import ASSIGNED_LINE
from clinflow.runtime.ledger import Ledger

from .helpers import (
    JOIN_TIMEOUT,
    KAFKA_GRAPH,
    SINK_DB,
    TESTS_DIR,
    Cluster,
    build_kafka_graph,
    local_cluster,
    sink_deliveries,
    sink_rows,
    stop_cleanly,
)

pytestmark = [pytest.mark.broker, pytest.mark.timeout(150)]

INPUTS = 300
DRAIN_TIMEOUT = 60.0


def inputs(count: int = INPUTS, boom_at: int | None = None) -> list[Envelope]:
    """Notes for 23 patients; every tenth is dropped by ``clean``; one may say ``boom``."""
    envelopes = []
    for index in range(count):
        text = f"drop {index}" if index % 10 == 3 else f"Note {index} for Ward {index % 7} OK"
        if index == boom_at:
            text = f"Note {index} boom"
        payload = text.encode()
        envelopes.append(
            Envelope(content_message_id(payload), SourceKind.NOTE, f"pat-{index % 23:02d}",
                     payload, datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip
        )
    return envelopes


def reference_rows(tmp: Path, envelopes: list[Envelope]) -> dict[str, tuple[str, bytes, str]]:
    """The sink after ``Graph.run_through`` of every input in this process."""
    graph = build_kafka_graph(tmp, {})
    try:
        for envelope in envelopes:
            graph.run_through(envelope)
    finally:
        graph.close()
    return sink_rows(tmp)


def sink_of(cluster: Cluster) -> dict[str, tuple[str, bytes, str]]:
    if not (cluster.data_dir / SINK_DB).exists():
        return {}
    return sink_rows(cluster.data_dir)


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with local_cluster(tmp_path) as state:
        yield state


def produce(cluster: Cluster, envelopes: list[Envelope]) -> None:
    assert cluster.produce(envelopes, entry="clean") == len(envelopes)


def test_every_input_reaches_the_sink_once_and_matches_run_through(
    cluster: Cluster, tmp_path: Path
) -> None:
    envelopes = inputs()
    expected = reference_rows(tmp_path / "reference", envelopes)
    assert len(expected) > INPUTS  # fan-out at split and measure

    workers = [cluster.start_worker(), cluster.start_worker()]
    started = time.monotonic()
    join = cluster.wait_for_group(workers)
    joined = time.monotonic() - started
    produce(cluster, envelopes)
    drain = cluster.wait_until(lambda: len(sink_of(cluster)) >= len(expected), "sink complete",
                               DRAIN_TIMEOUT)  # fmt: skip
    time.sleep(1.0)  # anything extra would show up now

    rows = sink_of(cluster)
    assert set(rows) == set(expected), "lost or unexpected message ids at the sink"
    assert rows == expected  # same patients, payloads and lineage as run_through
    # Without failures the ledger let nothing through twice.
    assert sink_deliveries(cluster.data_dir) == len(expected)
    ledger = Ledger(cluster.data_dir / "ledger.db")
    try:
        assert ledger.count("clean") == INPUTS
    finally:
        ledger.close()
    for worker in workers:
        assert stop_cleanly(worker) == 0, cluster.describe("worker did not stop with status 0")
    print(f"\nkafka runtime: group settled after {joined:.1f} s (worker-reported {join:.1f} s); "
          f"{len(expected)} sink rows from {INPUTS} inputs in {drain:.2f} s "
          f"= {len(expected) / drain:.0f} rows/s, {INPUTS / drain:.0f} inputs/s")  # fmt: skip


def test_kill_9_of_one_worker_loses_and_duplicates_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    envelopes = inputs()
    expected = reference_rows(tmp_path / "reference", envelopes)

    # ``split`` sleeps 10 ms per envelope so the kill lands mid-stream.
    workers = [cluster.start_worker("--graph-option", "delay=0.01") for _ in range(2)]
    cluster.wait_for_group(workers)
    produce(cluster, envelopes)
    cluster.wait_until(lambda: len(sink_of(cluster)) >= len(expected) // 5, "first rows", 30.0)
    victim = workers[0]
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    at_kill = len(sink_of(cluster))
    assert at_kill < len(expected), "the stream finished before the kill; slow it down"

    recovery = cluster.wait_until(lambda: len(sink_of(cluster)) >= len(expected),
                                  "sink complete after kill -9", DRAIN_TIMEOUT)  # fmt: skip
    time.sleep(1.0)
    rows = sink_of(cluster)
    assert set(rows) == set(expected), "lost or unexpected message ids after kill -9"
    assert rows == expected
    redelivered = sink_deliveries(cluster.data_dir) - len(expected)
    assert redelivered >= 0
    assert stop_cleanly(workers[1]) == 0, cluster.describe("survivor did not stop with status 0")
    print(f"\nkafka runtime kill -9: {at_kill}/{len(expected)} rows at the kill, complete "
          f"{recovery:.1f} s later; {redelivered} sink calls redelivered (absorbed by the "
          "idempotent sink)")


def test_a_failing_stage_ends_its_worker_with_1_and_the_batch_is_redelivered(
    cluster: Cluster, tmp_path: Path
) -> None:
    envelopes = inputs(boom_at=INPUTS // 2)
    expected = reference_rows(tmp_path / "reference", envelopes)

    workers = [cluster.start_worker("--graph-option", "fail_once=1") for _ in range(2)]
    cluster.wait_for_group(workers)
    produce(cluster, envelopes)
    cluster.wait_until(lambda: any(w.process.poll() is not None for w in workers),
                       "a worker to fail", 30.0)  # fmt: skip
    failed = next(worker for worker in workers if worker.process.poll() is not None)
    assert failed.process.returncode == 1
    assert "planted failure" in failed.log.read_text(errors="replace")
    cluster.wait_until(lambda: len(sink_of(cluster)) >= len(expected),
                       "sink complete after the failure", DRAIN_TIMEOUT)  # fmt: skip
    time.sleep(1.0)
    assert sink_of(cluster) == expected  # the failed batch was not acked: nothing lost
    survivor = next(worker for worker in workers if worker is not failed)
    assert stop_cleanly(survivor) == 0, cluster.describe("survivor did not stop with status 0")


def test_worker_command_usage_errors_exit_2(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "clinflow.runtime.kafka_commands", "--data-dir", str(tmp_path)]
    for extra, message in [
        ([], "no Kafka broker"),
        (["--brokers", "localhost"], "is not HOST:PORT"),
        (["--brokers", "127.0.0.1:9", "--local-broker"], "exclude each other"),
        (["--local-broker", "--graph-option", "novalue"], "expected KEY=VALUE"),
    ]:
        env = {key: value for key, value in os.environ.items() if key != "CLINFLOW_KAFKA_BROKERS"}
        done = subprocess.run([*base, *extra], capture_output=True, text=True, timeout=60,
                              env=env)  # fmt: skip
        assert done.returncode == 2, (extra, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_local_broker_worker_stops_with_0_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    command = [sys.executable, "-m", "clinflow.runtime.kafka_commands", "--local-broker",
               "--data-dir", str(tmp_path / "data"), "--graph", KAFKA_GRAPH]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + JOIN_TIMEOUT
        while not ASSIGNED_LINE.search(log.read_text(errors="replace")):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        broker_pid = int(re.findall(r"local broker at \S+ \(pid (\d+)\)", log.read_text())[0])
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text(errors="replace")
        with pytest.raises(ProcessLookupError):  # the worker stopped its broker
            os.kill(broker_pid, 0)
    finally:
        stop_process(process, timeout=5.0)
