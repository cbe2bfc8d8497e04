"""Append-only, tamper-evident audit log (RFC 9162 Merkle tree, C2SP signed checkpoints).

Typical use by a pipeline stage::

    from clinflow.audit import AuditLog, events

    with AuditLog.open(data_dir) as log:
        index = log.append(events.ingest(patient=pseudonym, message_id=mid, source_kind="fhir"))
"""

from __future__ import annotations

from clinflow.audit import events
from clinflow.audit.canonical import canonical_json
from clinflow.audit.checkpoint import Checkpoint, NoteSigner, NoteVerifier
from clinflow.audit.events import AuditEvent
from clinflow.audit.log import AuditLog
from clinflow.audit.merkle import (
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from clinflow.audit.store import SearchQuery

__all__ = [
    "AuditEvent",
    "AuditLog",
    "Checkpoint",
    "MerkleTree",
    "NoteSigner",
    "NoteVerifier",
    "SearchQuery",
    "canonical_json",
    "events",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]
