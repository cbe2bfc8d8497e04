"""The runtime's research release is batched (one store transaction per batch): a revocation
that lands between a message's ``process`` and the batch's ``flush`` must still win, and
what the batch writes is exactly what the guarded sink re-decided under the patient's lock."""

from __future__ import annotations

from datetime import timedelta

from clinflow.consent.gate import GuardedSink
from clinflow.consent.model import parse_consent
from clinflow.consent.service import ConsentService
from clinflow.envelope import Envelope, SourceKind
from clinflow.runtime.stages import RESEARCH_DESTINATION, ResearchRelease
from helpers.fakes import RecordingAuditSink

from .helpers import PATIENT_A, PATIENT_B, T0, research_opt_in_r5


def _research(patient: str, number: int) -> Envelope:
    return Envelope(
        message_id=f"{patient[-2:]}-{number:04d}",
        source=SourceKind.FHIR,
        patient=patient,
        payload=f'{{"n": {number}}}'.encode(),
        event_time=T0 + timedelta(minutes=number),
        purpose="HRESCH",
        attributes={"category": "vital-signs"},
    )


def _release(service: ConsentService, audit: RecordingAuditSink) -> ResearchRelease:
    gate = service.gate(RESEARCH_DESTINATION)
    return ResearchRelease(GuardedSink(gate, service.research.write_many), audit)


def _enrol(service: ConsentService) -> None:
    for patient in (PATIENT_A, PATIENT_B):
        service.revocations.apply_consent(patient, parse_consent(research_opt_in_r5(patient)))


def test_a_batch_is_written_at_flush_with_lineage_and_one_disclosure_each(
    service: ConsentService, audit: RecordingAuditSink
) -> None:
    _enrol(service)
    release = _release(service, audit)
    batch = [_research(p, n) for n in range(3) for p in (PATIENT_A, PATIENT_B)]
    assert all(release.process(envelope) == [] for envelope in batch)
    assert service.research.records() == []  # nothing written before the batch ends

    written = release.flush()

    assert sorted(e.message_id for e in written) == sorted(e.message_id for e in batch)
    assert len(service.research.records(PATIENT_A)) == 3
    assert len(service.research.held()) == 6
    assert len(service.lineage.find(PATIENT_B, ["HRESCH"])) == 3
    stored = {r.output_id: r.location for r in service.research.records()}
    for record in service.lineage.find(PATIENT_A, ["HRESCH"]):
        assert record.location == stored[record.output_id]  # the file, as a single write has
    assert audit.codes().count("disclose") == 6
    assert release.flush() == []  # nothing pending twice


def test_a_revocation_between_process_and_flush_wins(
    service: ConsentService, audit: RecordingAuditSink
) -> None:
    _enrol(service)
    release = _release(service, audit)
    for number in range(4):
        release.process(_research(PATIENT_A, number))
        release.process(_research(PATIENT_B, number))

    receipt = service.revoke(PATIENT_A, ["HRESCH"])  # lands mid-batch
    written = release.flush()

    assert receipt.complete
    assert {e.patient for e in written} == {PATIENT_B}
    assert service.research.records(PATIENT_A) == []
    assert service.lineage.find(PATIENT_A, ["HRESCH"]) == []
    assert len(service.research.records(PATIENT_B)) == 4
    assert audit.codes().count("disclose") == 4
    assert audit.codes().count("consent-decision") >= 4  # A's four, denied and audited
