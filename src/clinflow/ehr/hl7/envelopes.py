"""HL7 v2 messages as the runtime's RAW envelopes (what the MLLP listener and the file source
yield, and what they hand to the runtime's reject hook for quarantine).

A mapped message becomes a RAW FHIR envelope: the transaction Bundle as payload, the message
key (sender + MSH-10, or the content) as message id, so the runtime's ledger drops a message
it has seen, and ``source_system`` ``hl7v2:<MSH-3>/<MSH-4>`` for the ingest AuditEvent. A
refused message keeps its raw bytes (sealed in the quarantine) under its content id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from clinflow.ehr.hl7.fhir_map import MappedMessage
from clinflow.envelope import Envelope, SourceKind, content_message_id

HL7_FORMAT = "hl7v2"
FHIR_FORMAT = "fhir-json"
_SYSTEM_CHARS = re.compile(r"[^A-Za-z0-9 ._/:-]")

# ``reject(stage, envelope, reason, location)``: quarantine + audit (runtime.rejects)
Reject = Callable[[str, Envelope, str, "str | None"], None]


def source_system(sender: str) -> str:
    """``hl7v2:<MSH-3>/<MSH-4>``, printable and bounded (application names, not PHI)."""
    return "hl7v2:" + _SYSTEM_CHARS.sub("_", sender)[:80]


def mapped_envelope(mapped: MappedMessage, location: str) -> Envelope:
    from clinflow.runtime.ingest import SOURCE_SYSTEM_ATTR  # lazy: runtime is above ehr

    sent = datetime.fromisoformat(mapped.sent_at.replace("Z", "+00:00"))
    return Envelope(
        message_id=mapped.key,
        source=SourceKind.FHIR,
        patient="",
        payload=mapped.bundle_bytes(),
        event_time=sent if sent.tzinfo else sent.replace(tzinfo=UTC),
        attributes={
            "path": location,
            "format": FHIR_FORMAT,
            SOURCE_SYSTEM_ATTR: source_system(mapped.sender),
        },
    )


def refused_envelope(data: bytes, location: str) -> Envelope:
    """The raw message, for the quarantine (the location names where it came from)."""
    return Envelope(
        message_id=content_message_id(data),
        source=SourceKind.FHIR,
        patient="",
        payload=data,
        event_time=datetime.now(UTC),
        attributes={"path": location, "format": HL7_FORMAT},
    )
