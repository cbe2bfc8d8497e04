"""What the SQLite and PostgreSQL audit stores share: the records they take and return, the
side-index row of an entry, the gap check on a range of leaf hashes and the WHERE clause of a
search.

Private to ``clinflow.audit``: callers use the records through ``clinflow.audit.store``. Both
backends import this module and never ``store.py``, which picks a backend (one direction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, count
from operator import add, attrgetter
from typing import Any, NamedTuple

from clinflow.audit.search_fields import Row
from clinflow.errors import AuditIntegrityError

SEARCH_FIELDS = ("patient", "agent", "action", "code", "purpose", "outcome")
INDEX_COLUMNS = (*SEARCH_FIELDS, "recorded", "entity_types")


class NewEntry(NamedTuple):
    """One entry ready to store: canonical bytes, its RFC 9162 leaf hash and its side-index
    row (``INDEX_COLUMNS``), all made where the entry is made (the producer), so the writer
    does no per-entry Python work to turn a batch into statement parameters (ADR 0015). A
    named tuple: one C-level allocation per entry (ADR 0116)."""

    entry: bytes
    leaf: bytes
    row: Row


_LEAF = attrgetter("leaf")
_ENTRY = attrgetter("entry")
_ROW = attrgetter("row")


def leaves_of(entries: Sequence[NewEntry]) -> Iterator[bytes]:
    """The entries' leaf hashes (C-level iteration: no Python frame per entry)."""
    return map(_LEAF, entries)


def blobs_of(entries: Sequence[NewEntry]) -> Iterator[bytes]:
    """The entries' canonical bytes."""
    return map(_ENTRY, entries)


def entry_bytes(entries: Sequence[NewEntry]) -> int:
    """Total size of the entries' canonical bytes."""
    return sum(map(len, map(_ENTRY, entries)))


def entry_params(entries: Sequence[NewEntry], start: int) -> Iterator[Any]:
    """idx, leaf, entry, idx + 1, leaf, entry, ... for a multi-row INSERT (C-level iterators:
    no Python frame per entry)."""
    return chain.from_iterable(zip(count(start), map(_LEAF, entries), map(_ENTRY, entries)))


def index_params(entries: Sequence[NewEntry], start: int) -> Iterator[Any]:
    """idx, then the side-index columns (``INDEX_COLUMNS``), entry after entry."""
    return chain.from_iterable(map(add, zip(count(start)), map(_ROW, entries)))


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
    # pseudonyms merged into ``patient`` (HL7 v2 A40, ADR 0102): their entries match too
    merged: tuple[str, ...] = ()


def utc_timestamp() -> str:
    """Now as a UTC ISO-8601 instant with milliseconds (a checkpoint's ``signed_at``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def contiguous_leaves(
    rows: Iterable[tuple[int, Any]], start: int, end: int, as_bytes: Callable[[Any], bytes]
) -> list[bytes]:
    """The leaf hashes of entries ``start..end-1`` from ``(idx, leaf)`` rows in index order.

    A gap (a deleted row) is an ``AuditIntegrityError`` naming the first missing entry.
    """
    leaves = []
    for expected, (idx, leaf) in enumerate(rows, start):
        if idx != expected:
            raise AuditIntegrityError(f"audit store: entry {expected} missing")
        leaves.append(as_bytes(leaf))
    if len(leaves) != end - start:
        raise AuditIntegrityError(f"audit store: entry {start + len(leaves)} missing")
    return leaves


def build_where(query: SearchQuery, placeholder: str) -> tuple[str, list[Any]]:
    """WHERE clause over ``audit_index i`` shared by the SQLite and PostgreSQL stores."""
    clauses: list[str] = []
    params: list[Any] = []
    for name in SEARCH_FIELDS:
        value = getattr(query, name)
        if value is None:
            continue
        if name == "patient" and query.merged:
            values = [value, *query.merged]
            clauses.append(f"i.patient IN ({', '.join([placeholder] * len(values))})")
            params.extend(values)
            continue
        clauses.append(f"i.{name} = {placeholder}")
        params.append(value)
    if query.since is not None:
        clauses.append(f"i.recorded >= {placeholder}")
        params.append(query.since)
    if query.until is not None:
        clauses.append(f"i.recorded <= {placeholder}")
        params.append(query.until)
    if query.entity_type is not None:  # entity_types is ",kind1,kind2," (no wildcards used)
        clauses.append(f"{{contains}}(i.entity_types, {placeholder}) > 0")
        params.append(f",{query.entity_type},")
    if query.after is not None:
        clauses.append(f"i.idx {'<' if query.descending else '>'} {placeholder}")
        params.append(query.after)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
