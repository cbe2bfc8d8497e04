"""The research store holds sealed payloads in its SQLite store (ADR 0119): nothing readable
on disk, a retraction overwrites the bytes and leaves no copy in the WAL, and a store written
with the earlier one-file-per-record layout is still read, listed and retracted."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from clinflow.consent.service import ConsentService
from clinflow.envelope import Envelope, SourceKind
from clinflow.interfaces import RetractionRequest

from .helpers import PATIENT_A, PATIENT_B, T0

MARKER = b"research-payload-marker-7781"


def _envelope(patient: str, number: int) -> Envelope:
    return Envelope(
        message_id=f"{patient[-2:]}-{number:04d}",
        source=SourceKind.FHIR,
        patient=patient,
        payload=b'{"note": "' + MARKER + b'"}',
        event_time=T0 + timedelta(minutes=number),
        purpose="HRESCH",
        attributes={"category": "vital-signs"},
    )


def _bytes_on_disk(service: ConsentService) -> bytes:
    root = service.research.root
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_payloads_are_sealed_rows_not_files_and_read_back(service: ConsentService) -> None:
    ids = service.research.write_many([_envelope(PATIENT_A, n) for n in range(3)])
    assert service.research.files() == []  # no file per record any more
    assert sorted(i for i, _ in service.research.held()) == sorted(ids)
    assert MARKER not in _bytes_on_disk(service)  # sealed: index.db, -wal, -shm included
    assert all(MARKER in service.research.read(i) for i in ids)
    with pytest.raises(FileNotFoundError):
        service.research.read("never-released")


def test_retraction_overwrites_the_sealed_bytes_and_truncates_the_wal(
    service: ConsentService,
) -> None:
    (kept,) = service.research.write_many([_envelope(PATIENT_B, 1)])
    gone = service.research.write_many([_envelope(PATIENT_A, n) for n in range(2)])
    sealed = [service.research.sealed(i) for i in gone]

    report = service.research.retract(RetractionRequest(PATIENT_A, ("HRESCH",)))

    assert report.deleted == 2
    disk = _bytes_on_disk(service)
    assert not any(s[-64:] in disk for s in sealed)  # secure_delete + WAL truncated
    for output_id in gone:
        with pytest.raises(FileNotFoundError):
            service.research.sealed(output_id)
    assert MARKER in service.research.read(kept)


def test_a_store_of_the_earlier_file_layout_is_read_listed_and_retracted(
    service: ConsentService,
) -> None:
    store = service.research
    (output_id,) = store.write_many([_envelope(PATIENT_A, 9)])
    sealed = store.sealed(output_id)
    # what the earlier version left: the payload in <aa>/<id>.bin, the row without it
    location = f"{output_id[:2]}/{output_id}.bin"
    (store.root / output_id[:2]).mkdir(exist_ok=True)
    (store.root / location).write_bytes(sealed)
    store._conn.execute(  # noqa: SLF001 - writing the earlier layout's row
        "UPDATE research_rows SET sealed = NULL, location = ? WHERE output_id = ?",
        (location, output_id),
    )

    assert MARKER in store.read(output_id)
    assert [i for i, _ in store.held()] == [output_id]

    store.retract(RetractionRequest(PATIENT_A, ("HRESCH",)))

    assert not os.path.exists(store.root / location)
    assert store.held() == [] and store.records() == []
