"""The dead-letter store: inputs that could not be processed, kept to list and replay.

Nothing is silently dropped: a stage that cannot process an input puts it here with the stage
name, where it came from (file path or message id, never a PHI value) and why. The payload is
kept as given so it can be replayed after a fix; it may hold PHI, which is why the store lives
in the data directory with the other controlled stores and supports ``purge_patient`` for
consent revocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from clinflow.sqlite_store import open_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created     REAL NOT NULL,
    stage       TEXT NOT NULL,
    location    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    patient     TEXT,
    payload     BLOB,
    status      TEXT NOT NULL DEFAULT 'open'
);
CREATE INDEX IF NOT EXISTS quarantine_status ON quarantine(status);
CREATE INDEX IF NOT EXISTS quarantine_patient ON quarantine(patient);
"""


@dataclass(frozen=True, slots=True)
class QuarantinedItem:
    id: int
    created: float
    stage: str
    location: str
    reason: str
    patient: str | None
    status: str
    payload: bytes | None = None


class Quarantine:
    """SQLite-backed dead-letter store (WAL), one per data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_wal(path, _SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def put(
        self,
        stage: str,
        location: str,
        reason: str,
        payload: bytes | None = None,
        patient: str | None = None,
    ) -> int:
        """Store one rejected input; returns its quarantine id."""
        cur = self._conn.execute(
            "INSERT INTO quarantine(created, stage, location, reason, patient, payload)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), stage, location, reason, patient, payload),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def list(self, status: str | None = "open", stage: str | None = None) -> list[QuarantinedItem]:
        sql = "SELECT id, created, stage, location, reason, patient, status FROM quarantine"
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if stage is not None:
            clauses.append("stage = ?")
            params.append(stage)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with closing(self._conn.execute(sql + " ORDER BY id", params)) as cur:
            return [QuarantinedItem(*row) for row in cur.fetchall()]

    def get(self, item_id: int) -> QuarantinedItem | None:
        with closing(
            self._conn.execute(
                "SELECT id, created, stage, location, reason, patient, status, payload"
                " FROM quarantine WHERE id = ?",
                (item_id,),
            )
        ) as cur:
            row = cur.fetchone()
        return QuarantinedItem(*row) if row else None

    def replay(self, item_id: int, handler: Callable[[QuarantinedItem], None]) -> None:
        """Run ``handler`` on a quarantined item; mark it replayed only if it succeeds."""
        item = self.get(item_id)
        if item is None:
            raise LookupError(f"quarantine item {item_id} not found")
        handler(item)
        self._conn.execute("UPDATE quarantine SET status = 'replayed' WHERE id = ?", (item_id,))

    def purge_patient(self, patient: str) -> int:
        """Delete every item held for a pseudonymous patient (consent revocation)."""
        cur = self._conn.execute("DELETE FROM quarantine WHERE patient = ?", (patient,))
        return cur.rowcount

    def __iter__(self) -> Iterator[QuarantinedItem]:
        return iter(self.list(status=None))

    def count(self, status: str | None = "open") -> int:
        return len(self.list(status=status))
