"""The Kafka runtime's pieces that need no broker: one hop's batch, the reject hook,
settings, the graph factory, process stops. (The broker tests: test_kafka_runtime.py.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clinflow.envelope import Envelope, SourceKind, content_message_id
from clinflow.errors import ConfigError, InputRejected
from clinflow.quarantine import Quarantine
from clinflow.runtime.broker import free_port, stop_process
from clinflow.runtime.graph import Graph, Hop
from clinflow.runtime.kafka import process_batch
from clinflow.runtime.kafka_settings import (
    KafkaSettings,
    WorkerGraph,
    as_worker_graph,
    assignments,
    load_graph_factory,
    parse_graph_options,
    settled_join,
    topic_name,
)
from clinflow.runtime.ledger import Ledger
from clinflow.runtime.rejects import quarantine_reject

from .helpers import KAFKA_GRAPH, build_kafka_graph


def note(text: str, patient: str = "pat-1") -> Envelope:
    payload = text.encode()
    return Envelope(content_message_id(payload), SourceKind.NOTE, patient, payload,
                    datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip


class Upper:
    name = "upper"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def process(self, envelope: Envelope) -> list[Envelope]:
        self.calls.append(envelope.message_id)
        if envelope.payload.startswith(b"bad"):
            raise InputRejected("payload marked bad", "payload")
        if envelope.payload.startswith(b"bug"):
            raise ZeroDivisionError("division by zero")
        return [envelope.derive(envelope.payload.upper())]


class Keep:
    name = "keep"

    def process(self, envelope: Envelope) -> list[Envelope]:
        return [envelope]


def graph(stage: Upper) -> Graph:
    return Graph.of(
        [
            Hop("upper", stage, ("by-patient", "by-id")),
            Hop("by-patient", Keep()),
            Hop("by-id", Keep(), key=lambda envelope: "id-" + envelope.message_id),
        ],
        entry="upper",
    )


@pytest.fixture()
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Ledger(tmp_path / "ledger.db")
    yield store
    store.close()


def test_batch_skips_completed_and_repeated_inputs_and_keys_by_the_receiving_hop(
    ledger: Ledger,
) -> None:
    stage = Upper()
    worker_graph = WorkerGraph(graph(stage))
    first, second, third = note("a"), note("b", "pat-2"), note("c")
    ledger.mark("upper", [third.message_id])
    values = [first.to_bytes(), second.to_bytes(), first.to_bytes(), third.to_bytes()]

    result = process_batch(worker_graph, worker_graph.graph.hops["upper"], ledger, values)

    assert stage.calls == [first.message_id, second.message_id]
    assert result.completed == [first.message_id, second.message_id]
    assert ledger.seen("upper", result.completed) == set()  # marking is the agent's job
    sent = [(hop, key, Envelope.from_bytes(value)) for hop, key, value in result.sends]
    assert [(hop, key) for hop, key, _ in sent] == [
        ("by-patient", b"pat-1"),
        ("by-id", b"id-" + first.derive(b"A").message_id.encode()),
        ("by-patient", b"pat-2"),
        ("by-id", b"id-" + second.derive(b"B").message_id.encode()),
    ]
    assert sent[0][2] == first.derive(b"A")


def test_batch_rejects_through_the_hook_and_commits_once(ledger: Ledger) -> None:
    rejected: list[tuple[str, str, str, str | None]] = []
    commits: list[int] = []
    worker_graph = WorkerGraph(
        graph(Upper()),
        reject=lambda hop, envelope, reason, where: rejected.append(
            (hop, envelope.message_id, reason, where)
        ),
        commit=lambda: commits.append(len(rejected)),
    )
    good, bad, bug = note("ok"), note("bad input"), note("bug here")
    values = [good.to_bytes(), bad.to_bytes(), bug.to_bytes()]

    result = process_batch(worker_graph, worker_graph.graph.hops["upper"], ledger, values)

    assert rejected == [
        ("upper", bad.message_id, "payload marked bad", "payload"),
        ("upper", bug.message_id, "stage error (ZeroDivisionError)", None),
    ]
    assert commits == [2]  # once, after every stage call of the batch
    assert result.completed == [good.message_id, bad.message_id, bug.message_id]
    assert len(result.sends) == 2  # only the good input's output, to both children


def test_without_a_reject_hook_a_stage_error_propagates(ledger: Ledger) -> None:
    worker_graph = WorkerGraph(graph(Upper()))
    with pytest.raises(InputRejected):
        process_batch(worker_graph, worker_graph.graph.hops["upper"], ledger,
                      [note("bad").to_bytes()])  # fmt: skip


def test_an_output_over_the_message_limit_is_rejected_not_sent(ledger: Ledger) -> None:
    """The broker would refuse it and the redelivered batch would stop every worker in turn:
    the input is quarantined through the hook instead, the rest of the batch goes on."""
    rejected: list[tuple[str, str]] = []
    worker_graph = WorkerGraph(
        graph(Upper()),
        reject=lambda hop, envelope, reason, where: rejected.append((envelope.message_id, reason)),
    )
    small, large = note("small"), note("x" * 5000)
    limit = len(small.derive(b"SMALL").to_bytes())

    result = process_batch(worker_graph, worker_graph.graph.hops["upper"], ledger,
                           [small.to_bytes(), large.to_bytes()], limit)  # fmt: skip

    size = len(large.derive(b"X" * 5000).to_bytes())
    assert rejected == [
        (large.message_id, f"an output of {size} bytes exceeds the Kafka message limit "
                           f"({limit} bytes)"),
    ]  # fmt: skip
    assert result.completed == [small.message_id, large.message_id]
    assert [Envelope.from_bytes(value).payload for _, _, value in result.sends] == [b"SMALL"] * 2
    assert KafkaSettings(brokers="k:1").topic_config == {"max.message.bytes": str(16 << 20)}
    with pytest.raises(ConfigError, match="at least 1024 bytes"):
        KafkaSettings(brokers="k:1", max_message_bytes=10)


def test_settings_and_options_fail_with_a_clear_message() -> None:
    settings = KafkaSettings(brokers="kafka:9092, 10.0.0.2:9093")
    assert settings.bootstrap == ["kafka:9092", "10.0.0.2:9093"]
    assert settings.broker_urls == ["kafka://kafka:9092", "kafka://10.0.0.2:9093"]
    assert topic_name("deid-dicom") == "clinflow.deid-dicom"
    for bad in ["", "kafka", "kafka:port"]:
        with pytest.raises(ConfigError, match="HOST:PORT"):
            KafkaSettings(brokers=bad)
    with pytest.raises(ConfigError, match="at least 1"):
        KafkaSettings(brokers="kafka:9092", partitions=0)
    assert parse_graph_options(["delay=0.5", "mode=a=b"]) == {"delay": "0.5", "mode": "a=b"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_graph_options(["novalue"])


def test_a_group_has_settled_when_its_workers_hold_every_partition_each_some() -> None:
    first = "clinflow worker 1: partitions assigned (8) after 6.0 s\n"
    second = "clinflow worker 2: partitions assigned (4) after 6.1 s\n"
    rebalanced = first + "clinflow worker 1: partitions assigned (4) after 9.5 s\n"
    assert assignments(rebalanced) == [(8, 6.0), (4, 9.5)]
    assert settled_join([first], 8) == 6.0
    assert settled_join([first, ""], 8) is None  # the second worker has not joined yet
    assert settled_join([first, second], 8) is None  # 12 held: the first one's is stale
    assert settled_join([rebalanced, second], 8) == 9.5
    assert settled_join([first, "partitions assigned (0) after 7.0 s"], 8) is None


def test_graph_factory_is_resolved_or_named_in_the_error() -> None:
    factory = load_graph_factory(KAFKA_GRAPH)
    assert factory is build_kafka_graph
    for path, message in [
        ("no_colon", "expected 'package.module:function'"),
        ("clinflow.nope:build", "cannot import"),
        ("runtime.helpers:nope", "has no function 'nope'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_graph_factory(path)
    with pytest.raises(ConfigError, match="not a Graph"):
        as_worker_graph(42, "x:y")  # type: ignore[arg-type]


def test_stop_process_terminates_then_kills(tmp_path: Path) -> None:
    assert 1024 <= free_port() <= 65535
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_process(polite, timeout=10) == -15
    stubborn_code = ("import signal, sys, time\n"
                     "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                     "print('ready', flush=True)\ntime.sleep(60)\n")  # fmt: skip
    stubborn = subprocess.Popen([sys.executable, "-c", stubborn_code], stdout=subprocess.PIPE)
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
        assert stop_process(stubborn, timeout=0.5) == -9
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
        stubborn.wait()
        if stubborn.stdout is not None:
            stubborn.stdout.close()


class ListSink:
    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []

    def append(self, event: Mapping[str, Any]) -> int:
        self.events.append(event)
        return len(self.events) - 1


def test_quarantine_reject_keeps_the_input_and_audits_without_the_payload(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "quarantine.db")
    audit = ListSink()
    try:
        reject = quarantine_reject(quarantine, audit)
        patient = "PT-" + "ab" * 16
        envelope = replace(note("secret text", patient), attributes={"path": "notes/1.txt"})
        reject("ingest", envelope, "not a note", None)

        [item] = quarantine.list()
        assert (item.stage, item.location, item.reason) == ("ingest", "notes/1.txt", "not a note")
        stored = quarantine.get(item.id)
        assert stored is not None and stored.payload == b"secret text"  # kept for replay
        [event] = audit.events
        assert envelope.message_id in str(event)
        assert "secret text" not in str(event)
    finally:
        quarantine.close()
