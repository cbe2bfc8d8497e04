"""What a scoring service has scored, kept in ``<data-dir>/scoring.db`` so state survives.

The service keeps its working state in memory (windows, scores, alerts); this store keeps the
inputs that state derives from — the minimum-necessary vital-sign Observations, keyed by
patient pseudonym, in arrival order. A service started on a data directory replays them
(``ScoringService.restore``), so ``clinflow serve`` after ``clinflow demo`` answers for the
demo's patients, and scores are re-derived exactly (the scoring is deterministic). A
revocation deletes a patient's rows (``secure_delete``): through the running service when one
is registered, else directly (``StoredScoringTarget``). Nothing but pseudonyms and the
fields the endpoint policy lets through is stored.

Appending is idempotent: a row the store already holds (same patient, Observation id and
bytes) is not stored again. A Kafka worker that takes over a dead worker's partitions re-runs
the batch the dead one had not marked done, and its scoring state (restored when it started)
does not know those Observations yet; without this, they were stored twice. An updated
Observation (same id, other content) is a new row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from clinflow.interfaces import RetractionReport, RetractionRequest
from clinflow.sqlite_locked import LockedWalStore

# The lineage sinks whose records a scoring retraction target covers.
SCORING_SINKS = ("scoring-icu", "scoring-triage")
TARGET_NAME = "scoring"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    patient   TEXT NOT NULL,
    source_id TEXT NOT NULL,
    resource  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS observations_patient ON observations(patient, source_id);
"""


class ScoringStore(LockedWalStore):
    """Append, replay and delete the Observations a scoring service ingested."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(path, _SCHEMA, secure_delete=True)

    def append(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Store (patient pseudonym, Observation) pairs in one transaction; rows held already
        are skipped. Returns how many were new."""
        values = [
            (patient, str(resource.get("id") or ""), orjson.dumps(resource))
            for patient, resource in rows
        ]
        if not values:
            return 0
        with self._transaction():
            cursor = self._conn.executemany(
                "INSERT INTO observations(patient, source_id, resource) SELECT ?1, ?2, ?3"
                " WHERE NOT EXISTS (SELECT 1 FROM observations"
                " WHERE patient = ?1 AND source_id = ?2 AND resource = ?3)",
                values,
            )
        return cursor.rowcount

    def replay(self, chunk: int = 2000) -> Iterator[list[dict[str, Any]]]:
        """Every stored Observation in arrival order, in chunks (memory stays bounded)."""
        for rows in self.rows(chunk):
            yield [resource for _, _, resource in rows]

    def delete(self, patient: str, source_ids: Iterable[str] = ()) -> int:
        """Delete a patient's rows (only those from ``source_ids`` when given)."""
        ids = list(source_ids)
        with self._transaction():
            if ids:
                marks = ",".join("?" * len(ids))
                cursor = self._conn.execute(
                    f"DELETE FROM observations WHERE patient = ? AND source_id IN ({marks})",
                    (patient, *ids),
                )
            else:
                cursor = self._conn.execute(
                    "DELETE FROM observations WHERE patient = ?", (patient,)
                )
        return cursor.rowcount

    def rows(self, chunk: int = 2000) -> Iterator[list[tuple[int, str, dict[str, Any]]]]:
        """Every stored row as (seq, patient, Observation), in arrival order, in chunks (the
        retention job judges each by its clinical time)."""
        last = 0
        while True:
            with self._lock:
                found = self._conn.execute(
                    "SELECT seq, patient, resource FROM observations WHERE seq > ?"
                    " ORDER BY seq LIMIT ?",
                    (last, chunk),
                ).fetchall()
            if not found:
                return
            last = found[-1][0]
            yield [(seq, patient, orjson.loads(resource)) for seq, patient, resource in found]

    def delete_rows(self, seqs: Iterable[int]) -> int:
        """Delete rows by their sequence number (retention elapsed); the number deleted."""
        ids = sorted(set(seqs))
        if not ids:
            return 0
        with self._transaction():
            cursor = self._conn.executemany(
                "DELETE FROM observations WHERE seq = ?", [(seq,) for seq in ids]
            )
        return cursor.rowcount

    def checkpoint(self) -> None:
        """Move the WAL into the database and truncate it: deleted rows' old pages no longer
        sit in WAL frames (``secure_delete`` overwrote them in the database)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def observations(self, patient: str, limit: int = 5000) -> list[dict[str, Any]]:
        """The patient's latest ``limit`` stored Observations, in arrival order (the
        dashboard's vitals over time)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT resource FROM observations WHERE patient = ? ORDER BY seq DESC LIMIT ?",
                (patient, limit),
            ).fetchall()
        return [orjson.loads(row[0]) for row in reversed(rows)]

    def patients(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT patient FROM observations ORDER BY 1")
            return [row[0] for row in rows]

    def count(self, patient: str | None = None) -> int:
        return self._count_where("SELECT count(*) FROM observations", "patient", patient)


class StoredScoringTarget:
    """Retraction from the scoring store when no scoring service is running to do it."""

    name = TARGET_NAME
    covers = SCORING_SINKS

    def __init__(self, store: ScoringStore, purposes: frozenset[str]) -> None:
        self.store = store
        self.purposes = purposes  # what the endpoints hold data for (policy.held_purposes)

    def retract(self, request: RetractionRequest) -> RetractionReport:
        # as the running service does: a research revocation leaves treatment scores alone
        if request.purposes and not self.purposes & set(request.purposes):
            return RetractionReport(self.name, 0, 0, ("no data held for these purposes",))
        deleted = self.store.delete(request.patient, request.message_ids)
        return RetractionReport(
            self.name, deleted, 0, (f"scoring.db rows={deleted}", "no scoring service registered")
        )
