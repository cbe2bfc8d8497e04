"""Consent decisions for (patient, purpose, category, recipient, time).

Order of precedence (docs/adr/0040-consent-decision-semantics.md):

1. Break-the-glass purposes the policy marks (ETREAT, BTG): permitted, flagged for audit.
2. A revocation in force for the purpose: deny.
3. Active consents in force at that time: inside each, the deepest matching provisions
   decide; across provisions and consents, deny overrides permit.
4. No applicable consent: the policy's fallback for the purpose.

Every decision says why: which consent and provision, revocation, or policy rule decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from clinflow.consent.model import ConsentRecord, Provision
from clinflow.consent.policy import ConsentPolicy, Effect


class DecisionSource(StrEnum):
    CONSENT = "consent"
    REVOCATION = "revocation"
    POLICY = "policy"
    BREAK_GLASS = "break-the-glass"
    AGREEMENT = "data-use-agreement"  # consent permitted, no data use agreement did (ADR 0094)


@dataclass(frozen=True, slots=True)
class DecisionQuery:
    patient: str  # pseudonym
    purpose: str  # v3 ActReason code
    categories: frozenset[str] = frozenset()  # resource type, DICOM modality, category codes
    recipient: str | None = None  # actor reference of the destination (e.g. Device/research)
    action: str | None = None  # consentaction code (access, use, disclose, ...)

    def key(self) -> tuple[str, frozenset[str], str | None, str | None]:
        return (self.purpose, self.categories, self.recipient, self.action)


@dataclass(frozen=True, slots=True)
class Revocation:
    """A patient's withdrawal of consent for some purposes, recorded at ``effective_at``."""

    revocation_id: str
    patient: str
    purposes: frozenset[str]
    effective_at: datetime
    retroactive: bool = True


@dataclass(frozen=True, slots=True)
class Decision:
    effect: Effect
    source: DecisionSource
    reason: str
    consent_id: str | None = None
    provision: str | None = None
    revocation_id: str | None = None
    break_glass: bool = False
    agreement_id: str | None = None  # the data use agreement that permitted (research)
    registry_version: int = field(default=0, compare=False)

    @property
    def permitted(self) -> bool:
        return self.effect is Effect.PERMIT


_VERB = {Effect.PERMIT: "permits", Effect.DENY: "denies"}


def _matches(node: Provision, query: DecisionQuery, when: datetime) -> bool:
    if node.purposes and query.purpose not in node.purposes:
        return False
    if node.classes and not (node.classes & query.categories):
        return False
    if node.actors and (query.recipient is None or query.recipient not in node.actors):
        return False
    if node.actions and query.action is not None and query.action not in node.actions:
        return False
    return node.period is None or node.period.contains(when)


def _deciding(node: Provision, query: DecisionQuery, when: datetime) -> list[Provision]:
    """The deepest matching provisions under ``node`` (``node`` itself if no child matches)."""
    if not _matches(node, query, when):
        return []
    found: list[Provision] = []
    for child in node.children:
        found.extend(_deciding(child, query, when))
    return found or [node]


def revocation_in_force(
    revocation: Revocation, consents: Iterable[ConsentRecord]
) -> bool:
    """A revocation holds until the patient signs a new active consent after it."""
    return not any(
        c.active and c.signed_at is not None and c.signed_at > revocation.effective_at
        for c in consents
    )


def _by_provision(consent: ConsentRecord, node: Provision, purpose: str) -> Decision:
    """What a consent's deciding provision says, naming the consent and the provision."""
    return Decision(
        node.effect,
        DecisionSource.CONSENT,
        f"Consent/{consent.consent_id} {node.path} {_VERB[node.effect]} {purpose}",
        consent_id=consent.consent_id,
        provision=node.path,
    )


def evaluate(
    query: DecisionQuery,
    when: datetime,
    consents: Sequence[ConsentRecord],
    revocations: Sequence[Revocation],
    policy: ConsentPolicy,
) -> Decision:
    """Decide one query from the patient's consents and revocations (no caching)."""
    if policy.is_break_glass(query.purpose):
        return Decision(
            Effect.PERMIT,
            DecisionSource.BREAK_GLASS,
            f"policy permits {query.purpose} as break-the-glass (audited)",
            break_glass=True,
        )
    for revocation in revocations:
        if query.purpose in revocation.purposes and revocation_in_force(revocation, consents):
            return Decision(
                Effect.DENY,
                DecisionSource.REVOCATION,
                f"consent for {query.purpose} revoked",
                revocation_id=revocation.revocation_id,
            )
    permit: tuple[ConsentRecord, Provision] | None = None
    for consent in consents:
        if not consent.active or (consent.period is not None and not consent.period.contains(when)):
            continue
        for node in _deciding(consent.root, query, when):
            if node.effect is Effect.DENY:
                return _by_provision(consent, node, query.purpose)
            if permit is None:
                permit = (consent, node)
    if permit is not None:
        return _by_provision(*permit, query.purpose)
    effect = policy.fallback(query.purpose)
    return Decision(
        effect,
        DecisionSource.POLICY,
        f"no applicable consent; policy {_VERB[effect]} {query.purpose}",
    )
