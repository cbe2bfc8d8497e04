"""The embedded runtime: same results as the graph's reference run, quarantine, idempotent
replays, bounded queues, draining stop."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.audit.buffer import BufferedSink
from clinflow.envelope import Envelope, SourceKind, TimedInput, content_message_id
from clinflow.errors import ConfigError, InputRejected
from clinflow.quarantine import Quarantine
from clinflow.runtime.embedded import EmbeddedRuntime
from clinflow.runtime.graph import Graph, Hop
from clinflow.runtime.ledger import Ledger
from helpers.fakes import RecordingAuditSink


class Upper:
    """Rejects payloads starting with 'bad', upper-cases the rest, audits each."""

    def __init__(self, audit: BufferedSink) -> None:
        self.audit = audit

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.payload.startswith(b"bad"):
            raise InputRejected("payload marked bad", "payload")
        self.audit.append({"resourceType": "AuditEvent", "id": envelope.message_id})
        return [envelope.derive(envelope.payload.upper())]


class Split:
    def process(self, envelope: Envelope) -> list[Envelope]:
        return [envelope.derive(part) for part in envelope.payload.split(b" ") if part]


class Collect:
    def __init__(self) -> None:
        self.held: dict[str, bytes] = {}

    def process(self, envelope: Envelope) -> list[Envelope]:
        self.held[envelope.message_id] = envelope.payload
        return [envelope]


def _input(payload: bytes) -> Envelope:
    return Envelope(
        message_id=content_message_id(payload),
        source=SourceKind.FHIR,
        patient="",
        payload=payload,
        event_time=datetime(2024, 1, 1, tzinfo=UTC),
    )


def _graph(audit: BufferedSink) -> tuple[Graph, Collect, Collect]:
    words, whole = Collect(), Collect()
    graph = Graph.of(
        [
            Hop("upper", Upper(audit), ("split", "whole")),
            Hop("split", Split(), ("words",)),
            Hop("words", words),
            Hop("whole", whole),
        ],
        entry="upper",
    )
    return graph, words, whole


async def _source(items: list[Envelope]) -> AsyncIterator[TimedInput]:
    for index, item in enumerate(items):
        yield TimedInput(at_s=index * 0.0, envelope=item)


def _run(tmp: Path, items: list[Envelope], **kwargs: Any) -> tuple[Any, ...]:
    sink = RecordingAuditSink()
    audit = BufferedSink(sink)
    graph, words, whole = _graph(audit)
    quarantine = Quarantine(tmp / "q.db")
    ledger = kwargs.pop("ledger", None)
    runtime = EmbeddedRuntime(graph, quarantine=quarantine, audit=audit, ledger=ledger, **kwargs)
    stats = asyncio.run(runtime.run(_source(items)))
    return stats, words, whole, quarantine, sink


payloads = st.lists(
    st.sampled_from([b"a b", b"c", b"bad x", b"d e f", b" ", b"bad"]), max_size=30
)


@given(items=payloads, queue_size=st.integers(1, 8), batch=st.integers(1, 5))
@settings(max_examples=40, deadline=None)
def test_same_results_as_the_reference_run(
    tmp_path_factory: pytest.TempPathFactory, items: list[bytes], queue_size: int, batch: int
) -> None:
    tmp = tmp_path_factory.mktemp("run")
    envelopes = [_input(p) for p in items]
    stats, words, whole, quarantine, sink = _run(
        tmp, envelopes, queue_size=queue_size, batch=batch
    )
    ref_audit = BufferedSink(RecordingAuditSink())
    ref_graph, ref_words, ref_whole = _graph(ref_audit)
    expected_rejects = 0
    for envelope in envelopes:
        try:
            ref_graph.run_through(envelope)
        except InputRejected:
            expected_rejects += 1
    assert words.held == ref_words.held and whole.held == ref_whole.held
    assert stats.hops["upper"].rejected == expected_rejects == quarantine.count()
    # ingested = processed + rejected, and every rejection is audited
    assert stats.inputs == len(envelopes) == stats.hops["upper"].received
    failures = [e for e in sink.events if e.get("resourceType") == "AuditEvent" and "id" not in e]
    assert len(failures) == expected_rejects


def test_rejected_input_is_quarantined_with_reason_and_audited(tmp_path: Path) -> None:
    stats, words, whole, quarantine, sink = _run(tmp_path, [_input(b"bad thing"), _input(b"ok")])
    [item] = quarantine.list()
    assert item.stage == "upper" and item.reason == "payload marked bad"
    assert len(whole.held) == 1 and list(words.held.values()) == [b"OK"]
    assert stats.hops["whole"].received == 1


def test_replayed_inputs_are_not_processed_or_audited_twice(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    items = [_input(b"a b"), _input(b"c")]
    first = _run(tmp_path, items, ledger=ledger)
    second = _run(tmp_path, items, ledger=ledger)
    assert first[0].hops["upper"].duplicates == 0
    assert second[0].hops["upper"].duplicates == 2
    assert len(second[4].events) == 0  # nothing audited the second time
    assert second[2].held == {}  # nothing reached the sinks again


def test_stop_drains_what_is_in_flight(tmp_path: Path) -> None:
    sink = RecordingAuditSink()
    audit = BufferedSink(sink)
    graph, words, whole = _graph(audit)
    runtime = EmbeddedRuntime(graph, quarantine=Quarantine(tmp_path / "q.db"), audit=audit,
                              queue_size=2, batch=1)  # fmt: skip

    async def endless() -> AsyncIterator[Envelope]:
        count = 0
        while True:
            count += 1
            yield _input(f"m{count}".encode())
            if count == 50:
                runtime.stop("test")
            await asyncio.sleep(0)

    stats = asyncio.run(runtime.run(endless()))
    assert stats.stopped_by == "test"
    assert stats.inputs >= 50
    assert len(whole.held) == stats.inputs  # every accepted input reached the end
    assert Counter(h.received for h in stats.hops.values())


def test_graph_is_validated() -> None:
    collect = Collect()
    with pytest.raises(ConfigError, match="unknown"):
        Graph.of([Hop("a", collect, ("nope",))], entry="a")
    with pytest.raises(ConfigError, match="cycle"):
        Graph.of([Hop("a", collect, ("b",)), Hop("b", collect, ("a",))], entry="a")
