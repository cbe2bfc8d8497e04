"""Which (hop, message id) pairs completed: what makes replays and redeliveries idempotent.

A runtime asks ``seen`` before a hop processes an input and calls ``mark`` once the hop's
outputs have been handed on (queued downstream, or sent to the next topic). A redelivered or
replayed input is then skipped at every hop that already finished it; if a worker died
between handing on and marking, the hop runs again and produces the same content-derived
ids, which the next hop's ledger check absorbs. ``<data-dir>/ledger.db`` (SQLite, WAL) is
shared by every process of one machine; ids only, never payloads or PHI.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from clinflow.sqlite_locked import LockedWalStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (
    hop        TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (hop, message_id)
) WITHOUT ROWID;
"""


class Ledger(LockedWalStore):
    """SQLite ledger of completed (hop, message id) pairs; batch-friendly."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def seen(self, hop: str, message_ids: Iterable[str]) -> set[str]:
        """The subset of ``message_ids`` that ``hop`` already completed."""
        ids = list(dict.fromkeys(message_ids))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT message_id FROM processed WHERE hop = ? AND message_id IN ({marks})",
                    (hop, *chunk),
                )
                found.update(row[0] for row in rows)
        return found

    def mark(self, hop: str, message_ids: Iterable[str]) -> None:
        rows = [(hop, message_id) for message_id in message_ids]
        if not rows:
            return
        with self._transaction():
            self._conn.executemany("INSERT OR IGNORE INTO processed VALUES (?, ?)", rows)

    def count(self, hop: str | None = None) -> int:
        return self._count_where("SELECT count(*) FROM processed", "hop", hop)
