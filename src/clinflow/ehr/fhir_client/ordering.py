"""The order a FHIR source hands resources on in: what ingest and the consent gate need first.

Patients first (ingest learns a patient, and its pseudonym, before resources that reference
it), then Consents (the consent gate knows a patient's consents before the data they govern,
as ingest does for a Bundle's Consents), then everything else in the server's order.
"""

from __future__ import annotations

FIRST_TYPES = ("Patient", "Consent")


def arrival_rank(resource_type: str | None) -> int:
    """Sort key (stable sorts keep the server's order within a rank)."""
    if resource_type in FIRST_TYPES:
        return FIRST_TYPES.index(resource_type)
    return len(FIRST_TYPES)
