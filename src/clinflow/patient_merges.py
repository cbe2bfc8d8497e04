"""Patient merges: which pseudonyms were merged into which (HL7 v2 ADT^A40, FHIR
``Patient.link`` of type ``replaces``).

When a hospital finds two medical records of one person it merges the prior record into the
surviving one. Each record has had its own keyed pseudonym, so clinflow keeps the merge as a
pair of pseudonyms (never MRNs): merged -> surviving, with when and by which message. Ingest
attributes later inputs that still carry the merged record's MRN to the surviving patient
(``surviving``); revocation and the accounting of disclosures of the surviving patient cover
every pseudonym merged into it, transitively (A into B, then B into C: C covers B and A;
``aliases``). See ADR 0102.

The table lives in ``lineage.db`` beside the release index (``LineageIndex.merges``): both
answer "what belongs to this patient" when a revocation sweeps.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from clinflow.errors import InputRejected
from clinflow.sqlite_store import write_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS patient_merges (
    merged     TEXT PRIMARY KEY,
    surviving  TEXT NOT NULL,
    merged_at  TEXT NOT NULL,
    message_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS patient_merges_surviving ON patient_merges(surviving);
"""
MAX_CHAIN = 64  # merges of merges followed at most this deep (a chain is a handful in practice)

SURVIVOR_CACHE = 65_536  # patients whose surviving record is remembered


@dataclass(frozen=True, slots=True)
class Merge:
    merged: str
    surviving: str
    merged_at: str
    message_id: str


class PatientMerges:
    """The merges of one data directory, over a SQLite connection its owner opened with
    ``SCHEMA`` (WAL: every process on the data directory sees a merge once committed)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock
        # ``surviving`` answers from memory while no connection committed meanwhile (SQLite's
        # data_version: another connection's commit, any process) and this one recorded no
        # merge: one cheap pragma per input instead of a query per chain link
        self._survivors: dict[str, str] = {}
        self._version = -1

    def record(self, merged: str, surviving: str, *, merged_at: str, message_id: str) -> bool:
        """Record that ``merged`` was merged into ``surviving``; True when new, False when
        the merge is already known (a resent A40). Raises ``InputRejected`` (no values in the
        reason) for a merge of a patient into itself, into a patient merged into it (a
        cycle), or of a patient already merged into another one."""
        with self._lock, write_transaction(self._conn) as conn:
            target = self._root(conn, surviving)
            if target == merged:
                if surviving == merged:
                    raise InputRejected("patient merge: prior and surviving patient are the same")
                raise InputRejected(
                    "patient merge: the surviving patient was merged into the prior"
                )
            row = conn.execute(
                "SELECT surviving FROM patient_merges WHERE merged = ?", (merged,)
            ).fetchone()
            if row is not None:
                if row[0] == surviving or self._root(conn, merged) == target:
                    return False
                raise InputRejected("patient merge: the prior patient was merged into another")
            conn.execute(
                "INSERT INTO patient_merges VALUES (?, ?, ?, ?)",
                (merged, surviving, merged_at, message_id),
            )
            self._survivors.clear()
            return True

    @staticmethod
    def _root(conn: sqlite3.Connection, patient: str) -> str:
        current = patient
        for _ in range(MAX_CHAIN):
            row = conn.execute(
                "SELECT surviving FROM patient_merges WHERE merged = ?", (current,)
            ).fetchone()
            if row is None:
                return current
            current = str(row[0])
        return current

    def surviving(self, patient: str) -> str:
        """The patient ``patient`` is now part of: itself unless it was merged (transitively)."""
        with self._lock:
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            if version != self._version:
                self._survivors.clear()
                self._version = version
            found = self._survivors.get(patient)
            if found is None:
                found = self._root(self._conn, patient)
                if len(self._survivors) >= SURVIVOR_CACHE:
                    self._survivors.clear()  # bounded memory
                self._survivors[patient] = found
            return found

    def aliases(self, patient: str) -> list[str]:
        """Every pseudonym merged into ``patient``, directly or through a chain, in order of
        distance (``patient`` itself not included)."""
        with self._lock:
            rows = self._conn.execute(
                "WITH RECURSIVE chain(p, depth) AS ("
                " SELECT merged, 1 FROM patient_merges WHERE surviving = ?"
                " UNION SELECT m.merged, chain.depth + 1 FROM patient_merges m"
                " JOIN chain ON m.surviving = chain.p WHERE chain.depth < ?)"
                " SELECT p, MIN(depth) FROM chain GROUP BY p ORDER BY MIN(depth), p",
                (patient, MAX_CHAIN),
            ).fetchall()
        return [str(r[0]) for r in rows if r[0] != patient]

    def covering(self, patient: str) -> list[str]:
        """``patient`` and every pseudonym merged into it: whose history is ``patient``'s."""
        return [patient, *self.aliases(patient)]

    def known(self, patient: str) -> bool:
        """True when ``patient`` took part in a merge (either side)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM patient_merges WHERE merged = ? OR surviving = ? LIMIT 1",
                (patient, patient),
            ).fetchone()
        return row is not None

    def merges(self) -> list[Merge]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT merged, surviving, merged_at, message_id FROM patient_merges"
                " ORDER BY merged_at, merged"
            ).fetchall()
        return [Merge(*map(str, row)) for row in rows]


def covering_in(lineage_db: Path, patient: str) -> list[str]:
    """``PatientMerges.covering`` read from a data directory's ``lineage.db`` without opening
    (or creating) its stores: the audit-query API answers from it. ``[patient]`` when there
    is no such database or no merge table yet."""
    if not lineage_db.exists():
        return [patient]
    conn = sqlite3.connect(f"file:{lineage_db}?mode=ro", uri=True, timeout=10)
    try:
        table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'patient_merges'"
        ).fetchone()
        if table is None:
            return [patient]
        return PatientMerges(conn, threading.RLock()).covering(patient)
    finally:
        conn.close()
