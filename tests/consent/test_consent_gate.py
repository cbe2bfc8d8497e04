"""The gate stage: permitted data passes stamped with the registry version; denied data is
dropped with an audit entry (not quarantined); break-the-glass passes and is audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clinflow.consent.gate import CONSENT_VERSION_ATTR, ConsentGate, categories_of
from clinflow.consent.model import parse_consent
from clinflow.consent.service import ConsentService
from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import InputRejected
from helpers.fakes import RecordingAuditSink

from .helpers import PATIENT_A, purpose, r5_consent, research_opt_in_r5

AT = datetime(2025, 1, 1, tzinfo=UTC)


def envelope(purpose_code: str | None, **attrs: str) -> Envelope:
    return Envelope("m1", SourceKind.DICOM, PATIENT_A, b"img", AT, purpose=purpose_code,
                    attributes=attrs)


def test_permit_deny_and_audit(service: ConsentService, audit: RecordingAuditSink) -> None:
    gate = service.gate("Device/research-store")
    denied = envelope("HRESCH", modality="CT")
    assert gate.process(denied) == []  # no consent: policy denies research
    assert audit.codes() == ["consent-decision"]
    event = audit.events[0]
    assert event["patient"]["reference"] == f"Patient/{PATIENT_A}"
    assert "deny" in event["outcome"]["detail"][0]["text"]
    assert service.quarantine.count() == 0  # dropped, not quarantined
    service.revocations.apply_consent(PATIENT_A, parse_consent(research_opt_in_r5(PATIENT_A)))
    (passed,) = gate.process(denied)
    assert passed.attributes[CONSENT_VERSION_ATTR] == "1"
    assert passed.payload == denied.payload and len(audit.events) == 1  # permits not audited


def test_break_glass_passes_over_deny_and_is_audited(service: ConsentService,
                                                     audit: RecordingAuditSink) -> None:
    service.revocations.apply_consent(
        PATIENT_A, parse_consent(r5_consent("deny-all", PATIENT_A, "deny"))
    )
    gate = service.gate("Device/ed")
    assert gate.process(envelope("TREAT")) == []
    assert len(gate.process(envelope("ETREAT"))) == 1
    btg = audit.events[-1]
    assert btg["severity"] == "alert"
    assert {c["coding"][0]["code"] for c in btg["category"]} == {"110110", "110113"}


def test_destination_and_categories_reach_the_decision(service: ConsentService) -> None:
    consent = r5_consent(
        "lab-only", PATIENT_A, "deny",
        [{"purpose": [purpose("HRESCH")],
          "actor": [{"reference": {"reference": "Organization/university-lab"}}]}],
    )
    service.revocations.apply_consent(PATIENT_A, parse_consent(consent))
    gate = service.gate("Organization/broker")
    assert gate.process(envelope("HRESCH")) == []
    assert len(gate.process(envelope("HRESCH", destination="Organization/university-lab"))) == 1
    assert categories_of(envelope("HRESCH", modality="CT,MR")) == {"dicom", "CT", "MR"}


def test_bad_envelopes_are_input_errors(service: ConsentService) -> None:
    gate: ConsentGate = service.gate("Device/x")
    with pytest.raises(InputRejected, match="no purpose"):
        gate.process(envelope(None))
    with pytest.raises(InputRejected, match="unknown purpose"):
        gate.process(envelope("SHOPPING"))
