"""The storage interface behind ``AuditLog`` (SQLite embedded, PostgreSQL distributed).

A store keeps three append-only tables — entries (index, leaf hash, canonical entry bytes),
a side index of searchable fields (plus one row per entity type) and signed checkpoints — and
refuses UPDATE and DELETE on all of them in the database itself (triggers / rules).

Imports run one way: this module picks a backend; the backends share ``audit._sql`` and never
import this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from clinflow.audit._sql import (
    INDEX_COLUMNS,
    SEARCH_FIELDS,
    NewEntry,
    SearchQuery,
    StoredCheckpoint,
    leaves_of,
)
from clinflow.audit.search_fields import index_row
from clinflow.audit.store_sqlite import SqliteStore
from clinflow.config import DataDir
from clinflow.errors import ConfigError

__all__ = [
    "INDEX_COLUMNS",
    "SEARCH_FIELDS",
    "AuditStore",
    "NewEntry",
    "SearchQuery",
    "StoredCheckpoint",
    "index_row",
    "leaves_of",
    "open_existing_store",
    "open_store",
]


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

        return PostgresStore(dsn, prefix=prefix)  # lazily: psycopg is an optional extra
    return SqliteStore(data_dir.audit_db)


def open_existing_store(
    data_dir: DataDir, dsn: str | None = None, prefix: str = "audit"
) -> AuditStore:
    """Open an existing store read-mostly (never creates an SQLite log that is not there)."""
    if not dsn and not data_dir.audit_db.exists():
        raise ConfigError(f"no audit log at {data_dir.audit_db}")
    return open_store(data_dir, dsn, prefix)
