"""``Envelope.to_bytes``/``from_bytes``: the Kafka value. The payload travels as raw bytes
after a small JSON header (hex doubled it: a 520 KB Bundle became a 1.04 MB message, over
Kafka's 1 MB default), and the earlier all-JSON form still reads."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import orjson

from clinflow.envelope import FRAME_MAGIC, Envelope, SourceKind


def envelope(payload: bytes) -> Envelope:
    return Envelope(
        message_id="m-1",
        source=SourceKind.DICOM,
        patient="PT-0123456789abcdef",
        payload=payload,
        event_time=datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
        ingest_time=datetime(2024, 5, 1, 8, 31, tzinfo=UTC),
        lineage=("raw-1", "raw-2"),
        purpose="HRESCH",
        attributes={"path": "dicom/p1/1.dcm", "category": "dicom"},
    )


def test_the_payload_travels_as_raw_bytes_after_a_small_header() -> None:
    payload = os.urandom(200_000) + b"\x00CFE1" + b"{"  # binary, with the magic inside
    original = envelope(payload)

    value = original.to_bytes()

    assert value.startswith(FRAME_MAGIC)
    assert value.endswith(payload)
    assert len(value) - len(payload) < 400  # the header only, never a second copy
    assert Envelope.from_bytes(value) == original
    assert Envelope.from_bytes(envelope(b"").to_bytes()) == envelope(b"")


def test_the_earlier_json_form_with_a_hex_payload_still_reads() -> None:
    original = envelope(b"\x00\x01DICM{}")
    legacy = orjson.dumps(
        {
            "message_id": original.message_id,
            "source": original.source.value,
            "patient": original.patient,
            "payload": original.payload.hex(),
            "event_time": original.event_time.isoformat(),
            "ingest_time": original.ingest_time.isoformat(),
            "lineage": list(original.lineage),
            "purpose": original.purpose,
            "attributes": original.attributes,
        }
    )

    assert Envelope.from_bytes(legacy) == original
