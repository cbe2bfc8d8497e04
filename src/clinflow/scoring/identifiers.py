"""Who a scoring input is about, and the content-derived ids of requests and results.

Patients are pseudonyms (``PT-<hex>``), checked on entry; FHIR Observations name theirs in
``subject.reference``. Ids derive from content, so a replayed input gets the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from clinflow.errors import InputRejected
from clinflow.patient_ids import PSEUDONYM_RE


def check_patient(patient: str, location: str = "patient") -> str:
    if not isinstance(patient, str) or not PSEUDONYM_RE.match(patient):
        raise InputRejected("patient must be a pseudonym like PT-<hex>", location)
    return patient


@lru_cache(maxsize=65_536)
def patient_from_reference(reference: str) -> str:
    """The checked pseudonym of a ``Patient/PT-…`` reference (cached: the streaming hot path
    sees the same few references over and over)."""
    return check_patient(reference.rsplit("/", 1)[-1], "subject.reference")


def subject_patient(resources: list[Mapping[str, Any]]) -> str:
    """The pseudonym in ``subject.reference`` (``Patient/PT-…``), the same for all resources."""
    found: set[str] = set()
    for resource in resources:
        subject = resource.get("subject")
        reference = subject.get("reference") if isinstance(subject, Mapping) else None
        if not isinstance(reference, str):
            raise InputRejected("Observation.subject.reference is required", "subject.reference")
        found.add(reference)
    if len(found) != 1:
        raise InputRejected("Observations must all be about one patient", "subject.reference")
    return patient_from_reference(found.pop())


def request_id(kind: str, data: Mapping[str, Any]) -> str:
    """Content-derived id of a plain-JSON request (its lineage when no Observation ids exist)."""
    canonical = repr(sorted((k, str(v)) for k, v in data.items())).encode()
    return f"{kind}-request-{hashlib.sha256(canonical).hexdigest()[:24]}"


def risk_assessment_id(kind: str, patient: str, lineage: Iterable[str], as_of: datetime) -> str:
    """Deterministic id: same inputs, same RiskAssessment id (replays are idempotent)."""
    digest = hashlib.sha256(
        "\x00".join((kind, patient, as_of.isoformat(), *sorted(lineage))).encode()
    ).hexdigest()
    return f"{kind}-{digest[:24]}"
