"""The side-index tail: entries committed before their search-index rows (ADR 0110).

The SQLite store commits entries in every group commit but writes their side-index rows in
batches (every ``INDEX_FLUSH_ROWS`` entries or ``INDEX_FLUSH_SECONDS``): the index rows are
derived data, and writing them per small commit cost most of the commit's WAL bytes. The index
then covers entries ``[0, w)`` without a gap; ``[w, size)`` is the tail. A search reads the
index below ``w`` and matches the tail here: rows the writing process still holds
(``PendingRows``) or rows derived again from the stored entries (another process's tail, or
one a kill -9 left), so no entry is ever missing from a search.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import count
from operator import attrgetter

import orjson

from clinflow.audit._sql import NewEntry, SearchQuery
from clinflow.audit.search_fields import Row, search_row

_ROW = attrgetter("row")
_NO_FIELDS: Row = (None, None, None, None, None, None, None, "")
_RECORDED = 6  # INDEX_COLUMNS position of ``recorded``; ``entity_types`` is the last


def derive_row(entry: bytes) -> Row:
    """The side-index row of stored entry bytes (what ``verify`` expects the index to hold)."""
    try:
        parsed = orjson.loads(entry)
    except orjson.JSONDecodeError:
        return _NO_FIELDS
    return search_row(parsed) if isinstance(parsed, dict) else _NO_FIELDS


def row_filter(query: SearchQuery) -> Callable[[Row], bool]:
    """``query``'s filters (``build_where`` without the cursor) as a predicate on one row."""
    equal: list[tuple[int, str]] = []
    patients: frozenset[str] | None = None
    for position, name in enumerate(("patient", "agent", "action", "code", "purpose", "outcome")):
        value = getattr(query, name)
        if value is None:
            continue
        if name == "patient" and query.merged:
            patients = frozenset((value, *query.merged))
        else:
            equal.append((position, value))
    since, until = query.since, query.until
    kind = None if query.entity_type is None else f",{query.entity_type},"

    def matches(row: Row) -> bool:
        for position, value in equal:
            if row[position] != value:
                return False
        if patients is not None and row[0] not in patients:
            return False
        recorded = row[_RECORDED]
        if since is not None and (recorded is None or recorded < since):
            return False
        if until is not None and (recorded is None or recorded > until):
            return False
        return kind is None or kind in (row[-1] or "")

    return matches


class PendingRows:
    """Index rows of this process's committed entries, not yet written to the index.

    The writer adds a batch after its COMMIT and drops rows once an index flush committed
    them; searches read them under a short lock of their own (never the store's write lock,
    held across fsyncs).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: list[tuple[int, Sequence[NewEntry]]] = []
        self.rows = 0
        self.oldest = 0.0  # monotonic time of the oldest batch held

    def add(self, start: int, entries: Sequence[NewEntry]) -> None:
        with self._lock:
            if not self._batches:
                self.oldest = time.monotonic()
            self._batches.append((start, entries))
            self.rows += len(entries)

    def clear(self) -> None:
        with self._lock:
            self._batches = []
            self.rows = 0

    def age(self) -> float:
        return time.monotonic() - self.oldest if self.rows else 0.0

    def batches(self) -> list[tuple[int, Sequence[NewEntry]]]:
        with self._lock:
            return list(self._batches)


def runs_from(
    batches: Sequence[tuple[int, Sequence[NewEntry]]], first: int, end: int
) -> Iterator[tuple[int, Sequence[NewEntry]]]:
    """The parts of ``batches`` inside ``[first, end)`` as (start index, entries) runs."""
    for start, entries in batches:
        lo, hi = max(start, first), min(start + len(entries), end)
        if lo < hi:
            yield lo, entries[lo - start : hi - start]


def pairs_of(start: int, entries: Sequence[NewEntry]) -> Iterator[tuple[int, Row]]:
    """(index, row) of consecutive entries (C-level iteration)."""
    return zip(count(start), map(_ROW, entries))
