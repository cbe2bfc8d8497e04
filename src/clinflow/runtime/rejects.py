"""What a runtime does with an input a stage refused: quarantine it and audit why.

The Kafka runtime's ``reject`` hook; ``EmbeddedRuntime._reject`` does the same two steps
inline and can become a call to this. The AuditEvent names the stage, the reason and the
quarantine id, never the payload; the payload is kept in the quarantine for replay.
"""

from __future__ import annotations

from collections.abc import Callable

from clinflow.audit import events as audit_events
from clinflow.envelope import Envelope
from clinflow.interfaces import AuditSink, Rejection
from clinflow.quarantine import Quarantine

Reject = Callable[[str, Envelope, str, str | None], None]


def quarantine_reject(quarantine: Quarantine, audit: AuditSink) -> Reject:
    """Quarantine a rejected input and audit a PHI-free validation failure."""

    def reject(hop: str, envelope: Envelope, reason: str, location: str | None) -> None:
        where = location or envelope.attributes.get("path") or f"message {envelope.message_id}"
        quarantine_id = quarantine.put(
            Rejection(hop, where, reason, envelope.payload, envelope.patient or None)
        )
        audit.append(
            audit_events.validation_failure(
                message_id=envelope.message_id,
                stage=hop,
                reason=reason,
                patient=envelope.patient or None,
                quarantine_id=quarantine_id,
                source_kind=envelope.source.value,
            )
        )

    return reject
