"""Helpers for the consent tests.

Hand-written FHIR Consent fixtures (R5 and R4B) in the shape of the spec's examples; no real
people: patients are pseudonyms or synthetic MRNs.

``Pipeline``: a tiny pipeline of stage functions for the consent scenarios (no runtime, no
threads). ingest -> consent gate -> topic (sealed under the patient's purpose key, a copy
clinflow cannot rewrite) -> deliver: open -> de-identify -> guarded sink (gate re-check) ->
store. Research goes to the research store; treatment to a fake triage endpoint that registers
as a retraction target, like the scoring endpoints do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clinflow.consent.gate import ConsentGate, GuardedSink
from clinflow.consent.service import ConsentService
from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import KeyError_
from clinflow.interfaces import RetractionReport, RetractionRequest

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
DCM = "http://dicom.nema.org/resources/ontology/DCM"

PATIENT_A = "PT-00000000000000aa"
PATIENT_B = "PT-00000000000000bb"
PATIENT_C = "PT-00000000000000cc"


def purpose(code: str) -> dict[str, Any]:
    return {"system": ACT_REASON, "code": code}


def resource_class(code: str) -> dict[str, Any]:
    return {"system": RESOURCE_TYPES, "code": code}


def modality(code: str) -> dict[str, Any]:
    return {"system": DCM, "code": code}


def r5_consent(
    consent_id: str,
    patient: str,
    decision: str = "permit",
    provisions: list[dict[str, Any]] | None = None,
    *,
    status: str = "active",
    period: dict[str, str] | None = None,
    date: str | None = "2024-01-01",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": consent_id,
        "status": status,
        "subject": {"reference": f"Patient/{patient}"},
        "decision": decision,
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
    }
    if date:
        resource["date"] = date
    if provisions:
        resource["provision"] = provisions
    if period:
        resource["period"] = period
    return resource


def r4b_consent(
    consent_id: str,
    patient: str,
    provision: dict[str, Any],
    *,
    status: str = "active",
    date_time: str | None = "2024-01-01T00:00:00Z",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": consent_id,
        "status": status,
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                 "code": "research"}
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "provision": provision,
    }
    if date_time:
        resource["dateTime"] = date_time
    return resource


def research_opt_in_r5(patient: str, consent_id: str = "research-optin") -> dict[str, Any]:
    """R5: deny by default, an exception permits research and treatment."""
    return r5_consent(
        consent_id,
        patient,
        "deny",
        [{"purpose": [purpose("HRESCH"), purpose("TREAT")]}],
    )


# --- the scenario pipeline ------------------------------------------------------------------

T0 = datetime(2025, 6, 1, 8, tzinfo=UTC)


class TriageEndpoint:
    """Fake scoring endpoint: keeps what it received; retracts by patient and purpose."""

    name = "triage-endpoint"

    def __init__(self) -> None:
        self.items: list[Envelope] = []

    def receive(self, envelopes: list[Envelope]) -> None:
        self.items.extend(envelopes)

    def retract(self, request: RetractionRequest) -> RetractionReport:
        keep, drop = [], []
        for item in self.items:
            hit = item.patient == request.patient and (
                not request.purposes or item.purpose in request.purposes
            )
            (drop if hit else keep).append(item)
        self.items = keep
        return RetractionReport(self.name, len(drop))


@dataclass
class Topic:
    """Sealed records as a broker would keep them: append-only, never rewritten."""

    records: list[tuple[str, str, bytes]] = field(default_factory=list)  # (patient, purpose, ct)


class Pipeline:
    def __init__(self, service: ConsentService) -> None:
        self.service = service
        self.triage = TriageEndpoint()
        service.targets.register(self.triage)
        self.research_gate = service.gate("Device/research-store")
        self.treatment_gate = service.gate("Device/triage")
        self.research_sink = GuardedSink(self.research_gate, service.research.write_many)
        self.treatment_sink = GuardedSink(self.treatment_gate, self.triage.receive)
        self.topic = Topic()
        self.in_flight: list[tuple[Envelope, bytes]] = []
        self.ready: list[Envelope] = []
        self.counter = 0
        self.ingested: dict[tuple[str, str], int] = {}
        self.dropped_in_flight = 0

    def gate_for(self, purpose: str) -> ConsentGate:
        return self.research_gate if purpose == "HRESCH" else self.treatment_gate

    def ingest(self, patient: str, kind: str) -> None:
        """One source message, fanned out to a treatment and a research copy."""
        self.counter += 1
        source = SourceKind.DICOM if kind == "image" else SourceKind.FHIR
        attrs = {"modality": "CT"} if kind == "image" else {"resource_type": "Observation"}
        raw = Envelope(
            message_id=f"m{self.counter:05d}",
            source=source,
            patient=patient,
            payload=f"{kind}-{self.counter}".encode(),
            event_time=T0 + timedelta(minutes=self.counter),
            attributes=attrs,
        )
        for purpose in ("TREAT", "HRESCH"):
            copy = raw.derive(raw.payload + purpose.encode(), purpose=purpose)
            self.ingested[(patient, purpose)] = self.ingested.get((patient, purpose), 0) + 1
            for passed in self.gate_for(purpose).process(copy):
                sealed = self.service.datakeys.seal(patient, purpose, passed.payload)
                self.topic.records.append((patient, purpose, sealed))
                self.in_flight.append((passed, sealed))

    def deidentify_one(self) -> None:
        """Topic -> de-identification: the plaintext result waits in memory for the sink."""
        if not self.in_flight:
            return
        envelope, sealed = self.in_flight.pop(0)
        try:
            payload = self.service.datakeys.open(sealed)
        except KeyError_:
            self.dropped_in_flight += 1  # key shredded while in flight
            return
        self.ready.append(envelope.derive(b"deid:" + payload))

    def sink_one(self) -> None:
        """De-identified -> sink, through the guarded release (consent re-checked)."""
        if not self.ready:
            return
        envelope = self.ready.pop(0)
        sink = self.research_sink if envelope.purpose == "HRESCH" else self.treatment_sink
        if not sink.process(envelope):
            self.dropped_in_flight += 1

    def deliver_one(self) -> None:
        self.deidentify_one()
        self.sink_one()

    def drain(self) -> None:
        while self.in_flight or self.ready:
            self.deidentify_one()
            self.sink_one()

    # ------------------------------------------------------------ the scans

    def research_rows(self, patient: str) -> int:
        return len(self.service.research.records(patient))

    def readable_topic_records(self, patient: str, purpose: str) -> int:
        readable = 0
        for rec_patient, rec_purpose, sealed in self.topic.records:
            if (rec_patient, rec_purpose) != (patient, purpose):
                continue
            try:
                self.service.datakeys.open(sealed)
            except KeyError_:
                continue
            readable += 1
        return readable

    def live_lineage(self, patient: str, purpose: str) -> int:
        return len(self.service.lineage.find(patient, [purpose]))

    def treatment_items(self, patient: str) -> int:
        return sum(1 for item in self.triage.items if item.patient == patient)
