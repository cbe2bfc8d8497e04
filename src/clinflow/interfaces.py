"""Small protocols that let stages depend on each other's roles, not implementations.

- ``AuditSink``: anything that appends FHIR AuditEvent dicts durably (``clinflow.audit``
  provides the Merkle log; tests may pass a list-backed fake).
- ``QuarantineSink``: where a stage puts an input it rejects (``clinflow.quarantine``; a
  worker process records the puts and its parent replays them into the real store).
- ``RetractionTarget``: a downstream store or endpoint that holds data derived from a patient
  and can delete it on consent revocation (research store, quarantine, scoring endpoints).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class AuditSink(Protocol):
    def append(self, event: Mapping[str, Any]) -> int:
        """Durably append one AuditEvent (a JSON-able dict); return its leaf index."""
        ...


@dataclass(frozen=True, slots=True)
class Rejection:
    """One input a stage refused, as it is handed to a ``QuarantineSink``.

    ``stage`` names the refusing stage; ``location`` (file path or message id) and ``reason``
    never hold PHI; ``payload`` (the input, may hold PHI) is kept to replay it; ``patient``
    (pseudonym) when the stage knows it, so a revocation can purge the item.
    """

    stage: str
    location: str
    reason: str
    payload: bytes | None = None
    patient: str | None = None


class QuarantineSink(Protocol):
    def put(self, rejection: Rejection) -> int:
        """Store one rejected input; its quarantine id."""
        ...


def append_all(sink: AuditSink, events: Sequence[Mapping[str, Any]]) -> None:
    """Append ``events`` in one group commit when the sink offers ``append_many``.

    ``append_many`` is optional so list-backed fakes stay one method; the audit log has it.
    """
    many = getattr(sink, "append_many", None)
    if callable(many):
        many(events)
    else:
        for event in events:
            sink.append(event)


@dataclass(frozen=True, slots=True)
class RetractionRequest:
    """Delete what is held for ``patient`` (pseudonym) released for ``purposes``.

    ``purposes`` empty means every purpose. ``message_ids`` narrows the request to records
    derived from those inputs (from the lineage index); empty means all of the patient's.
    """

    patient: str
    purposes: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
    reason: str = "consent-revoked"


@dataclass(frozen=True, slots=True)
class RetractionReport:
    target: str  # name of the store or endpoint
    deleted: int  # records deleted
    derived_deleted: int = 0  # derived records (features, scores, alerts) deleted
    details: tuple[str, ...] = field(default_factory=tuple)  # ids or locations, never PHI


@runtime_checkable
class RetractionTarget(Protocol):
    name: str

    def retract(self, request: RetractionRequest) -> RetractionReport:
        """Delete every copy held for the request and report what was done (idempotent)."""
        ...
