"""The storage interface behind ``AuditLog`` (SQLite embedded, PostgreSQL distributed).

A store keeps three append-only tables — entries (index, leaf hash, canonical entry bytes),
a side index of searchable fields (plus one row per entity type) and signed checkpoints — and
refuses UPDATE and DELETE on all of them in the database itself (triggers / rules).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from clinflow.audit.search_fields import IndexFields
from clinflow.config import DataDir

SEARCH_FIELDS = ("patient", "agent", "action", "code", "purpose", "outcome")
INDEX_COLUMNS = (*SEARCH_FIELDS, "recorded", "entity_types")


def index_row(fields: IndexFields) -> tuple[str | None, ...]:
    """The side-index columns for one entry's fields (same order as ``INDEX_COLUMNS``)."""
    kinds = "," + ",".join(fields.entity_types) + "," if fields.entity_types else ""
    return (
        fields.patient,
        fields.agent,
        fields.action,
        fields.code,
        fields.purpose,
        fields.outcome,
        fields.recorded,
        kinds,
    )


@dataclass(frozen=True, slots=True)
class NewEntry:
    """One entry ready to store: canonical bytes, its RFC 9162 leaf hash and search fields."""

    entry: bytes
    leaf: bytes
    fields: IndexFields


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    seq: int
    size: int
    root: bytes
    note: str
    signed_at: str


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Filters of an AuditEvent search; ``None`` means any. Dates compare as FHIR instants."""

    patient: str | None = None
    agent: str | None = None
    action: str | None = None
    code: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    entity_type: str | None = None
    since: str | None = None
    until: str | None = None
    after: int | None = None  # cursor: continue past this leaf index (in ``order``)
    limit: int = 50
    descending: bool = False


class AuditStore(Protocol):
    def size(self) -> int:
        """Number of entries stored."""
        ...

    def append_batch(self, entries: Sequence[NewEntry]) -> int:
        """Store entries in one durable transaction; return the index of the first."""
        ...

    def leaf_hashes(self, start: int, end: int) -> list[bytes]: ...

    def iter_entries(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        """(index, leaf hash, entry bytes) in index order as stored (gaps and all)."""
        ...

    def iter_index(self, start: int = 0) -> Iterator[tuple[int, tuple[str | None, ...]]]:
        """(index, (patient, agent, action, code, purpose, outcome, recorded, entity_types))
        side-index rows in index order, for ``verify`` to compare with the entries."""
        ...

    def get_entry(self, index: int) -> bytes | None: ...

    def checkpoints(self) -> list[StoredCheckpoint]: ...

    def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    def add_checkpoint(
        self, size: int, root: bytes, note: str, expected_latest: int | None
    ) -> bool:
        """Store a signed checkpoint unless another was added since ``expected_latest`` seq."""
        ...

    def search(self, query: SearchQuery) -> list[tuple[int, bytes]]: ...

    def close(self) -> None: ...


def open_store(data_dir: DataDir, dsn: str | None = None, prefix: str = "audit") -> AuditStore:
    """The deployment's store: PostgreSQL at ``dsn`` (tables ``<prefix>_*``), else SQLite at
    ``data_dir.audit_db``."""
    if dsn:
        from clinflow.audit.store_postgres import PostgresStore

        return PostgresStore(dsn, prefix=prefix)
    from clinflow.audit.store_sqlite import SqliteStore

    return SqliteStore(data_dir.audit_db)
