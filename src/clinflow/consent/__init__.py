"""Consent: FHIR Consent decisions, registry, gate, retroactive revocation with receipts.

See docs/adr/0040-0043 for the decision semantics, the in-flight guarantee, retraction
targets and crypto-shredding.
"""

from clinflow.consent.decision import Decision, DecisionQuery, DecisionSource, Revocation, evaluate
from clinflow.consent.gate import ConsentGate, GuardedSink
from clinflow.consent.model import ConsentRecord, FhirVersion, Provision, parse_consent
from clinflow.consent.policy import ConsentPolicy, Effect, load_policy
from clinflow.consent.receipt import Receipt
from clinflow.consent.registry import ConsentRegistry
from clinflow.consent.revocation import RevocationService
from clinflow.consent.store import PostgresConsentStore, SqliteConsentStore
from clinflow.consent.stream import ConsentEventStage

__all__ = [
    "ConsentEventStage",
    "ConsentGate",
    "ConsentPolicy",
    "ConsentRecord",
    "ConsentRegistry",
    "Decision",
    "DecisionQuery",
    "DecisionSource",
    "Effect",
    "FhirVersion",
    "GuardedSink",
    "PostgresConsentStore",
    "Provision",
    "Receipt",
    "Revocation",
    "RevocationService",
    "SqliteConsentStore",
    "evaluate",
    "load_policy",
    "parse_consent",
]
