"""Fuzzing the runtime's JSON / ndjson ingest parsers (issue 13).

Two targets: the folder source's file parser (``sources.file_envelopes``: any bytes under a
``.json``, ``.ndjson``, ``.dcm`` or other name becomes envelopes or nothing, never an
exception) and ``IngestStage.process`` on hostile FHIR documents (values of the wrong JSON
type, dangling references, odd strings) and random bytes: pseudonymous envelopes or
``InputRejected`` with a location, never another exception.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import strategies as st

from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.envelope import SourceKind, source_input
from clinflow.errors import InputRejected
from clinflow.runtime.ingest import IngestStage
from clinflow.runtime.sources import file_envelopes
from helpers.fakes import RecordingAuditSink
from helpers.fuzz import fuzz_tests, hostile_documents, only_clinflow_errors, tally
from helpers.vitals import quantity_obs

AT = datetime(2026, 1, 1, tzinfo=UTC)
PATIENT = {
    "resourceType": "Patient", "id": "p1",
    "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "33144716"}],
}  # fmt: skip
SEEDS: list[dict[str, Any]] = [
    {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": PATIENT},
        {"resource": quantity_obs("o1", "8867-4", 88, "/min", patient="p1")},
        {"resource": {"resourceType": "Consent", "status": "active",
                      "subject": {"reference": "Patient/p1"}, "date": "2026-01-05"}},
    ]},
    PATIENT,
    quantity_obs("o2", "9279-1", 18, "/min", patient="p1"),
]  # fmt: skip
NAMES = st.sampled_from([b"x.json", b"x.ndjson", b"X.NDJSON", b"x.dcm", b"IM0001", b"x.txt"])


def _parse_file(data: bytes, name: bytes) -> None:
    """Any bytes under any name: envelopes (each located in the file) or none, no exception."""
    envelopes = file_envelopes(data, name, "drop/x", AT)
    tally("ingest:file-envelopes" if envelopes else "ingest:file-skipped")
    for envelope in envelopes:
        assert envelope.attributes["path"].startswith("drop/x")
        assert envelope.patient == ""


FILE_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"{}", b'{"resourceType":"Consent"}', b"[", b"\xff\xfe", b"",
                              b" ", b"null", b'"x"', b"1e999"]), max_size=8).map(b"\n".join),
)  # fmt: skip
test_any_file_parses_to_envelopes_or_none, test_any_file_many = fuzz_tests(
    "ingest", _parse_file, data=FILE_BYTES, name=NAMES
)


def _ingest(payload: bytes, kind: SourceKind) -> None:
    """Hostile FHIR or random bytes at ingest: pseudonymous envelopes or InputRejected."""
    stage = IngestStage(Pseudonymizer(bytes(range(32))), RecordingAuditSink())
    stage.directory.remember(stage._key("p1"), "PT-00000000000000aa")
    envelope = source_input(payload, kind, AT, "drop/x.json", "fhir-json")
    with only_clinflow_errors("IngestStage.process") as raised:
        outputs = stage.process(envelope)
    if raised:
        assert isinstance(raised[0], InputRejected)
        assert raised[0].location.startswith("drop/x.json"), raised[0]
        assert "33144716" not in str(raised[0])
        tally("ingest:rejected")
        return
    tally("ingest:accepted")
    assert outputs and all(o.patient.startswith("PT-") for o in outputs)


PAYLOADS = st.one_of(
    hostile_documents(SEEDS).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
)
test_hostile_fhir_at_ingest_is_accepted_or_rejected, test_hostile_ingest_many = fuzz_tests(
    "ingest", _ingest, payload=PAYLOADS, kind=st.sampled_from([SourceKind.FHIR, SourceKind.DICOM])
)


def _obs(**changes: Any) -> bytes:
    observation = quantity_obs("o3", "8867-4", 88, "/min", patient="p1")
    return json.dumps({**observation, **changes}).encode()


@pytest.mark.parametrize(
    "payload",
    [
        _obs(category=7),
        _obs(category=[7]),
        _obs(category=[{"coding": True}]),
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": True}).encode(),
    ],
    ids=["category-int", "category-item-int", "coding-bool", "entry-bool"],
)
def test_fuzz_found_ingest_crashes_are_handled(payload: bytes) -> None:
    """Crashes fuzzing found in ingest (TypeError/AttributeError on elements of the wrong
    JSON type): now accepted (not a vital sign) or rejected with a location."""
    _ingest(payload, SourceKind.FHIR)
