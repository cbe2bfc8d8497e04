"""The append API other stages code against: AuditSink, builders, durability on reopen."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from clinflow.audit import AuditLog, NoteVerifier, events
from clinflow.config import DataDir
from clinflow.interfaces import AuditSink

PATIENT = "PT-0123456789abcdef"


def all_builders() -> list[events.AuditEvent]:
    return [
        events.ingest(patient=PATIENT, message_id="m1", source_kind="fhir"),
        events.validation_failure(
            message_id="m2", stage="validate", reason="bad field", patient=PATIENT, quarantine_id=3
        ),
        events.consent_decision(
            patient=PATIENT, decision="deny", purpose="HRESCH", recipient="research-store"
        ),
        events.consent_decision(
            patient=PATIENT,
            decision="permit",
            purpose="ETREAT",
            recipient="triage",
            break_the_glass=True,
        ),
        events.deidentification(
            patient=PATIENT,
            message_id="m1",
            output_message_id="m3",
            policy_hash="ab" * 32,
            method="fhir-safe-harbor",
            actions={"remove": 4},
        ),
        events.disclosure(
            patient=PATIENT,
            recipient="triage",
            purpose="TREAT",
            message_ids=["m3"],
            data_categories=["vitals"],
        ),
        events.score_produced(patient=PATIENT, score_name="news2", value=7, message_id="m3"),
        events.alert_raised(patient=PATIENT, alert_id="a1", level="high", recipient="icu"),
        events.consent_revocation(patient=PATIENT, consent_id="c1", purposes=["HRESCH"]),
        events.purge(patient=PATIENT, target="research-store", records_deleted=2, receipt_id="r1"),
        events.key_destruction(patient=PATIENT, key_id="k1"),
        events.api_query(
            agent="auditor-1", role="auditor", method="GET", path="/audit/events", query="patient=x"
        ),
        events.data_generation(patients=10, seed=1, output="out"),
    ]


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
        _fast_index_fields,
        _tolerant_index_fields,
        index_fields,
    )

    for event in all_builders():
        assert _fast_index_fields(event) == _tolerant_index_fields(event)
    odd: list[dict[str, object]] = [
        {"resourceType": "AuditEvent"},
        {"patient": {"reference": 5}, "agent": [{"who": {"reference": "Device/x"}}]},
        {"agent": [{"requestor": False, "who": {"identifier": {"value": "a"}}}], "action": 3},
        {"entity": [{"what": {"identifier": {"system": "urn:other:x"}}}], "recorded": None},
    ]
    for event in odd:
        assert index_fields(event) == _tolerant_index_fields(event)
