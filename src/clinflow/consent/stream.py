"""Consent events as a stream stage: grants, updates and revocations arrive like any input.

``ConsentEventStage.process(envelope)`` consumes envelopes of source ``consent`` (other
envelopes pass through untouched). The payload is either a FHIR Consent (R5 or R4B; a new
version of a Consent that withdraws a permit triggers the retroactive sweep) or a revocation
message ``{"type": "revoke", "purposes": [...], "retroactive": true}``. The envelope's
``patient`` is the pseudonym the ingest stage assigned. Unparseable events raise
``InputRejected`` so the runtime quarantines them.
"""

from __future__ import annotations

from typing import Any

import orjson

from clinflow.consent.model import parse_consent
from clinflow.consent.receipt import Receipt
from clinflow.consent.revocation import RevocationService
from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import ConfigError, InputRejected

STREAM_AGENT = "clinflow-consent-stream"


class ConsentEventStage:
    """Apply consent events in stream order; keeps the receipts it produced."""

    stage = "consent-events"

    def __init__(self, revocations: RevocationService) -> None:
        self.revocations = revocations
        self.receipts: list[Receipt] = []

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.source is not SourceKind.CONSENT:
            return [envelope]
        location = f"message {envelope.message_id}"
        try:
            event: Any = orjson.loads(envelope.payload)
        except orjson.JSONDecodeError as exc:
            raise InputRejected("consent event is not JSON", location) from exc
        if not isinstance(event, dict):
            raise InputRejected("consent event must be a JSON object", location)
        receipt: Receipt | None
        try:
            if event.get("resourceType") == "Consent":
                record = parse_consent(event, source=location)
                receipt = self.revocations.apply_consent(envelope.patient, record)
            elif event.get("type") == "revoke":
                purposes = event.get("purposes") or None
                if purposes is not None and not (
                    isinstance(purposes, list) and all(isinstance(p, str) for p in purposes)
                ):
                    raise InputRejected("purposes must be a list of codes", f"{location}.purposes")
                receipt = self.revocations.revoke(
                    envelope.patient,
                    purposes,
                    retroactive=bool(event.get("retroactive", True)),
                    requested_by=STREAM_AGENT,
                )
            else:
                raise InputRejected("neither a Consent nor a revoke event", location)
        except ConfigError as exc:  # unknown purpose, not a pseudonym: bad input, not config
            raise InputRejected(str(exc), location) from exc
        if receipt is not None:
            self.receipts.append(receipt)
        return []
