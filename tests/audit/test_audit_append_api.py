"""The append API other stages code against: AuditSink, builders, durability on reopen."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from clinflow.audit import AuditLog, NoteVerifier, events
from clinflow.config import DataDir
from clinflow.interfaces import AuditSink

from .helpers import PATIENT, all_builders


def test_log_is_an_audit_sink_and_indices_are_sequential(data_dir: Path) -> None:
    with AuditLog.open(DataDir.open(data_dir)) as log:
        assert isinstance(log, AuditSink)
        indices = [log.append(event) for event in all_builders()]
        assert indices == list(range(len(indices)))
        assert log.append_many(all_builders()) == list(range(13, 26))


def test_entries_survive_reopen_and_close_signs_checkpoint(data_dir: Path) -> None:
    with AuditLog.open(DataDir.open(data_dir)) as log:
        log.append_many(all_builders())
        root = log.root()
        vkey = log.vkey()
    with AuditLog.open(DataDir.open(data_dir)) as log:
        assert log.size == 13 and log.root() == root
        latest = log.latest_checkpoint()
        assert latest is not None
        checkpoint = NoteVerifier(vkey).verify(latest.note)
        assert checkpoint.size == 13 and checkpoint.root == root
        first = log.get_entry(0)
        assert first is not None and orjson.loads(first)["resourceType"] == "AuditEvent"


def test_builders_refuse_raw_identifiers_and_unknown_purposes() -> None:
    with pytest.raises(ValueError, match="pseudonym"):
        events.ingest(patient="John Smith", message_id="m", source_kind="fhir")
    with pytest.raises(ValueError, match="ActReason"):
        events.disclosure(patient=PATIENT, recipient="x", purpose="MARKETING", message_ids=[])


def test_builders_produce_r5_shape() -> None:
    for event in all_builders():
        assert event["resourceType"] == "AuditEvent"
        assert event["code"]["coding"][0]["code"]
        assert event["action"] in "CRUDE"
        assert event["outcome"]["code"]["code"] in {"0", "4", "8", "12"}
        assert event["recorded"].endswith("Z")
        assert any(agent["requestor"] for agent in event["agent"])


def test_search_fields_fast_path_agrees_with_tolerant_reader() -> None:
    from clinflow.audit.search_fields import (
        _fast_row,
        _tolerant_index_fields,
        index_fields,
        index_row,
        search_row,
    )

    for event in all_builders():
        assert _fast_row(event) == index_row(_tolerant_index_fields(event))
        assert index_fields(event) == _tolerant_index_fields(event)
    odd: list[dict[str, object]] = [
        {"resourceType": "AuditEvent"},
        {"patient": {"reference": 5}, "agent": [{"who": {"reference": "Device/x"}}]},
        {"agent": [{"requestor": False, "who": {"identifier": {"value": "a"}}}], "action": 3},
        {"entity": [{"what": {"identifier": {"system": "urn:other:x"}}}], "recorded": None},
    ]
    odd += [  # kinds the row's separator would make ambiguous, repeated and empty kinds
        {**all_builders()[0], "entity": [{"what": {"identifier": {"system": f"urn:clinflow:{k}"}}}
                                         for k in ("a,b", "b", "", "b", "")]},
        {**all_builders()[0], "entity": [{"what": {"identifier": {"system": f"urn:clinflow:{k}"}}}
                                         for k in ("", "a", "a", "")]},
    ]
    for event in odd:
        assert index_fields(event) == _tolerant_index_fields(event)
        assert search_row(event) == index_row(_tolerant_index_fields(event))
