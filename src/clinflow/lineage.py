"""The lineage index: every output clinflow releases, what it came from, for which purpose.

A sink (research store, scoring endpoint, export) records each output it accepts: the output
id, the patient pseudonym, the purpose of use it was released for, the sink's name, where it
sits (an opaque location, never PHI), its event time, and the ids of every input in its
lineage. Retroactive revocation asks this index "what was released for patient P under
purposes S (since T)?" and marks what it retracted, so a second revocation finds nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from clinflow.envelope import Envelope
from clinflow.errors import InputRejected
from clinflow.patient_merges import SCHEMA as MERGES_SCHEMA
from clinflow.patient_merges import PatientMerges
from clinflow.sqlite_locked import LockedWalStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outputs (
    output_id   TEXT NOT NULL,
    sink        TEXT NOT NULL,
    patient     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    location    TEXT NOT NULL,
    event_time  TEXT NOT NULL,
    released_at REAL NOT NULL,
    retracted_at REAL,
    PRIMARY KEY (output_id, sink)
);
CREATE INDEX IF NOT EXISTS outputs_patient ON outputs(patient, purpose);
CREATE TABLE IF NOT EXISTS output_inputs (
    output_id   TEXT NOT NULL,
    sink        TEXT NOT NULL,
    input_id    TEXT NOT NULL,
    PRIMARY KEY (output_id, sink, input_id)
);
CREATE INDEX IF NOT EXISTS output_inputs_input ON output_inputs(input_id);
"""


@dataclass(frozen=True, slots=True)
class LineageRecord:
    output_id: str
    sink: str
    patient: str
    purpose: str
    location: str
    event_time: datetime
    released_at: float
    retracted_at: float | None
    inputs: tuple[str, ...] = ()


class LineageIndex(LockedWalStore):
    """SQLite (WAL) index in ``<data-dir>/lineage.db``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(path, _SCHEMA + MERGES_SCHEMA)
        # which pseudonyms were merged into which (ADR 0102): a revocation's sweep covers them
        self.merges = PatientMerges(self._conn, self._lock)

    def record(
        self,
        *,
        output_id: str,
        sink: str,
        patient: str,
        purpose: str,
        location: str,
        event_time: datetime,
        inputs: Iterable[str],
    ) -> None:
        """Record one released output (idempotent on (output_id, sink))."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO outputs(output_id, sink, patient, purpose, location,"
                " event_time, released_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (output_id, sink, patient, purpose, location, event_time.isoformat(), time.time()),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO output_inputs(output_id, sink, input_id) VALUES (?, ?, ?)",
                [(output_id, sink, input_id) for input_id in inputs],
            )

    def record_releases(
        self, envelopes: Sequence[Envelope], sink: str, locations: Sequence[str] = ()
    ) -> None:
        """``record_release`` for many envelopes in one transaction (a batch's scores or
        research releases); ``locations[i]`` is where envelope ``i`` was stored (default: its
        message id)."""
        for envelope in envelopes:
            if not envelope.purpose:
                location = f"message {envelope.message_id}"
                raise InputRejected("released envelope has no purpose", location)
        now = time.time()
        where = list(locations) or [e.message_id for e in envelopes]
        outputs = [
            (e.message_id, sink, e.patient, e.purpose, location, e.event_time.isoformat(), now)
            for e, location in zip(envelopes, where, strict=True)
        ]
        inputs = [
            (e.message_id, sink, input_id)
            for e in envelopes
            for input_id in (*e.lineage, e.message_id)
        ]
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO outputs(output_id, sink, patient, purpose, location,"
                " event_time, released_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                outputs,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO output_inputs(output_id, sink, input_id) VALUES (?, ?, ?)",
                inputs,
            )

    def record_release(self, envelope: Envelope, sink: str, location: str = "") -> None:
        """Record an envelope released to ``sink`` (scores, alerts, exports use this too)."""
        if not envelope.purpose:
            location = f"message {envelope.message_id}"
            raise InputRejected("released envelope has no purpose", location)
        self.record(
            output_id=envelope.message_id,
            sink=sink,
            patient=envelope.patient,
            purpose=envelope.purpose,
            location=location or envelope.message_id,
            event_time=envelope.event_time,
            inputs=(*envelope.lineage, envelope.message_id),
        )

    def find(
        self,
        patient: str,
        purposes: Sequence[str] = (),
        *,
        since: datetime | None = None,
        include_retracted: bool = False,
        with_inputs: bool = True,
    ) -> list[LineageRecord]:
        """Outputs released for ``patient`` under ``purposes`` (all if empty), since a time."""
        inputs = "group_concat(i.input_id, ' ')" if with_inputs else "NULL"
        join = (
            " LEFT JOIN output_inputs i ON i.output_id = o.output_id AND i.sink = o.sink"
            if with_inputs
            else ""
        )
        sql = (
            "SELECT o.output_id, o.sink, o.patient, o.purpose, o.location, o.event_time,"
            f" o.released_at, o.retracted_at, {inputs} FROM outputs o{join} WHERE o.patient = ?"
        )
        params: list[object] = [patient]
        if purposes:
            sql += f" AND o.purpose IN ({', '.join('?' * len(purposes))})"
            params.extend(purposes)
        if not include_retracted:
            sql += " AND o.retracted_at IS NULL"
        sql += " GROUP BY o.output_id, o.sink ORDER BY o.released_at, o.output_id"
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        found = [
            LineageRecord(
                output_id=r[0],
                sink=r[1],
                patient=r[2],
                purpose=r[3],
                location=r[4],
                event_time=datetime.fromisoformat(r[5]),
                released_at=r[6],
                retracted_at=r[7],
                inputs=tuple(r[8].split(" ")) if r[8] else (),
            )
            for r in rows
        ]
        if since is not None:
            found = [record for record in found if record.event_time >= since]
        return found

    def derived_from(self, input_id: str) -> list[tuple[str, str]]:
        """(output_id, sink) of every output with ``input_id`` in its lineage."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT output_id, sink FROM output_inputs WHERE input_id = ?", (input_id,)
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def mark_retracted(self, records: Iterable[LineageRecord]) -> int:
        """Mark outputs retracted (rows stay: they are the evidence the receipt refers to)."""
        now = time.time()
        with self._transaction() as conn:
            cur = conn.executemany(
                "UPDATE outputs SET retracted_at = ? WHERE output_id = ? AND sink = ?"
                " AND retracted_at IS NULL",
                [(now, r.output_id, r.sink) for r in records],
            )
        return cur.rowcount

    def count(self, *, retracted: bool | None = None) -> int:
        sql = "SELECT COUNT(*) FROM outputs"
        if retracted is True:
            sql += " WHERE retracted_at IS NOT NULL"
        elif retracted is False:
            sql += " WHERE retracted_at IS NULL"
        with self._lock:
            return int(self._conn.execute(sql).fetchone()[0])
