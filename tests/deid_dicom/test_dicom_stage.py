"""The pipeline stage and the injected audit sink: one event per file, pseudonyms only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from clinflow.deid.dicom.batch import DicomDeidStage, deidentify_tree
from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.envelope import Envelope, SourceKind
from clinflow.quarantine import Quarantine
from helpers.fakes import RecordingAuditSink

from .helpers import PATIENT, make_dataset, to_bytes


def _envelope(payload: bytes) -> Envelope:
    return Envelope(
        message_id="m1",
        source=SourceKind.DICOM,
        patient="PT-unknown00",
        payload=payload,
        event_time=datetime(2024, 1, 5, tzinfo=UTC),
        attributes={"path": "in/1.dcm"},
    )


def test_stage_emits_a_derived_envelope_and_one_audit_event(
    tmp_path: Path, engine: DicomDeidentifier
) -> None:
    sink = RecordingAuditSink()
    stage = DicomDeidStage(engine, Quarantine(tmp_path / "q.db"), sink)
    [out] = stage.process(_envelope(to_bytes(make_dataset())))
    assert out.lineage == ("m1",)
    assert out.patient == engine.pseudonymizer.patient_pseudonym(PATIENT["PatientID"])
    assert b"Lindqvist" not in out.payload
    [event] = sink.events
    # The AuditEvent joins the envelopes on their ids: input "m1" in, the released one out.
    entity_ids = [e["what"]["identifier"]["value"] for e in event["entity"]]
    assert entity_ids[:2] == ["m1", out.message_id]
    text = json.dumps(event)
    assert engine.policy.policy_hash in text and out.patient in text
    assert PATIENT["PatientID"] not in text and "Lindqvist" not in text


def test_stage_quarantines_bad_input_and_audits_the_failure(
    tmp_path: Path, engine: DicomDeidentifier
) -> None:
    sink = RecordingAuditSink()
    quarantine = Quarantine(tmp_path / "q.db")
    stage = DicomDeidStage(engine, quarantine, sink)
    assert stage.process(_envelope(b"garbage" * 50)) == []
    [item] = quarantine.list()
    assert item.stage == "deid-dicom" and item.location == "in/1.dcm"
    assert "not a DICOM file" in json.dumps(sink.events[0])


def test_batch_writes_one_event_per_file(tmp_path: Path, engine: DicomDeidentifier) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for index in range(3):
        ds = make_dataset(sop_uid=f"1.2.3.4.{index}")
        (source / f"{index}.dcm").write_bytes(to_bytes(ds))
    sink = RecordingAuditSink()
    report = deidentify_tree(source, tmp_path / "out", engine, None, sink)
    assert report.deidentified == 3 and len(sink.events) == 3
