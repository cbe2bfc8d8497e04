"""The consent gate stage and the guarded release into a sink.

``ConsentGate.process(envelope)`` checks the consent in force for the envelope's purpose, data
categories and destination at processing time (the registry notices new consent events before
answering), returns ``[envelope]`` stamped with the deciding registry version when permitted,
and ``[]`` with an audit entry when denied — denied data is not bad input, so it is not
quarantined. Break-the-glass permits are audited too.

``GuardedSink`` re-checks at the moment of writing, under the patient's registry lock, so a
message that passed the gate and was still in flight when a revocation landed is dropped
instead of written after the revocation swept the stores.

A gate given ``agreements`` (the research gate) also needs a data use agreement in force for
the purpose and the data's class: consent without an agreement, or an agreement without
consent, releases nothing, and the denial is audited with its reason (ADR 0094).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Protocol

from clinflow.audit import events as audit_events
from clinflow.consent.decision import Decision, DecisionQuery, DecisionSource
from clinflow.consent.dua import AgreementDecision
from clinflow.consent.policy import Effect
from clinflow.consent.registry import ConsentRegistry
from clinflow.envelope import Envelope
from clinflow.errors import InputRejected
from clinflow.interfaces import AuditSink

CONSENT_VERSION_ATTR = "consent_version"
AGREEMENT_ATTR = "data_use_agreement"  # the DUA that permitted a research release
DESTINATION_ATTR = "destination"
# Envelope attributes naming the data categories a consent's class/code can refer to.
CATEGORY_ATTRS = ("category", "resource_type", "modality")


class AgreementCheck(Protocol):
    """The data-use-agreement half of a release decision (``consent.dua.ReleaseAgreements``)."""

    def decide(
        self, purpose: str, categories: Iterable[str], when: datetime
    ) -> AgreementDecision: ...


def categories_of(envelope: Envelope) -> frozenset[str]:
    """Data categories of an envelope: its source kind plus listed category attributes."""
    found = {envelope.source.value}
    for name in CATEGORY_ATTRS:
        value = envelope.attributes.get(name)
        if value:
            found.update(part.strip() for part in value.split(",") if part.strip())
    return frozenset(found)


@dataclass(eq=False, repr=False)  # a pipeline stage: compared by identity
class ConsentGate:
    """``process(envelope) -> list[Envelope]``: pass permitted data, drop and audit the rest."""

    stage: ClassVar[str] = "consent-gate"

    registry: ConsentRegistry
    audit: AuditSink
    _: KW_ONLY
    destination: str
    agent: str = "clinflow-consent-gate"
    agreements: AgreementCheck | None = None
    permitted: int = field(default=0, init=False)
    denied: int = field(default=0, init=False)

    def query_for(self, envelope: Envelope) -> DecisionQuery:
        if not envelope.purpose:
            raise InputRejected("envelope has no purpose of use", f"message {envelope.message_id}")
        if envelope.purpose not in audit_events.PURPOSES:
            raise InputRejected("unknown purpose of use", f"message {envelope.message_id}")
        return DecisionQuery(
            patient=envelope.patient,
            purpose=envelope.purpose,
            categories=categories_of(envelope),
            recipient=envelope.attributes.get(DESTINATION_ATTR, self.destination),
        )

    def decide(self, envelope: Envelope) -> Decision:
        return self.decide_query(self.query_for(envelope))

    def decide_query(self, query: DecisionQuery) -> Decision:
        """Consent in force, then (for a gate with agreements) a data use agreement in force."""
        decision = self.registry.decide(query)
        if not decision.permitted or self.agreements is None:
            return decision
        agreement = self.agreements.decide(query.purpose, query.categories, self.registry.clock())
        if agreement.permitted:
            return replace(decision, agreement_id=agreement.agreement_id)
        return replace(
            decision,
            effect=Effect.DENY,
            source=DecisionSource.AGREEMENT,
            reason=agreement.reason,
            break_glass=False,
        )

    def process(self, envelope: Envelope) -> list[Envelope]:
        query = self.query_for(envelope)
        decision = self.decide_query(query)
        if not decision.permitted:
            self.denied += 1
            self._audit(envelope, query, decision)
            return []
        self.permitted += 1
        if decision.break_glass:
            self._audit(envelope, query, decision)
        attributes = {**envelope.attributes, CONSENT_VERSION_ATTR: str(decision.registry_version)}
        if decision.agreement_id is not None:
            attributes[AGREEMENT_ATTR] = decision.agreement_id
        if attributes == envelope.attributes:
            return [envelope]
        return [replace(envelope, attributes=attributes)]

    def _audit(self, envelope: Envelope, query: DecisionQuery, decision: Decision) -> None:
        self.audit.append(
            audit_events.consent_decision(
                patient=envelope.patient,
                decision=decision.effect.value,
                purpose=query.purpose,
                recipient=query.recipient or self.destination,
                agent=self.agent,
                message_id=envelope.message_id,
                consent_id=decision.consent_id or decision.revocation_id,
                break_the_glass=decision.break_glass,
                reason=decision.reason,
            )
        )


class GuardedSink:
    """Release into a sink only if consent still permits at write time (under the lock).

    ``write_many`` stores a list of envelopes (one transaction). ``release`` takes a batch:
    holding the locks of all its patients (taken in the registry's one global order), it
    re-decides every envelope and writes the permitted ones together, so a revocation (which
    holds its patient's lock across its sweep) sees each write either before it or refused
    after it, and a batch costs one write, not one per patient or per message."""

    def __init__(
        self, gate: ConsentGate, write_many: Callable[[list[Envelope]], Any]
    ) -> None:
        self.gate = gate
        self.write_many = write_many

    def process(self, envelope: Envelope) -> list[Envelope]:
        return self.release([envelope])

    def release(self, envelopes: Iterable[Envelope]) -> list[Envelope]:
        batch = list(envelopes)
        with self.gate.registry.patient_locks({envelope.patient for envelope in batch}):
            passed = [item for envelope in batch for item in self.gate.process(envelope)]
            if passed:
                self.write_many(passed)
        return passed
