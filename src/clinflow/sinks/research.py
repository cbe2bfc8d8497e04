"""The de-identified research store: sealed payloads in a SQLite store, lineage-recorded.

Each accepted envelope becomes one row of ``<root>/index.db``: its payload sealed under the
patient's data key for the envelope's purpose (``DataKeyStore``), pseudonym, purpose,
category, event time and lineage, plus a lineage record. ``retract`` deletes the rows for a
patient and purposes (narrowed to given input ids if any) with their bytes overwritten
(``secure_delete``) and the WAL truncated; even a copy that escaped (a backup of the
database) is unreadable once the revocation destroys the scope's key.

Payloads used to be one file per record (``<root>/<aa>/<output_id>.bin``, ADR 0119): creating
a file per message cost 0.8-2.8 ms in the event loop on a machine whose journal the audit
log's fsyncs keep busy, against a share of one transaction for a batch here. Files a store
of that layout still holds are read, listed and retracted as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from clinflow.crypto.datakeys import DataKeyStore
from clinflow.envelope import Envelope
from clinflow.errors import InputRejected
from clinflow.interfaces import RetractionReport, RetractionRequest
from clinflow.lineage import LineageIndex
from clinflow.sqlite_locked import LockedWalStore
from clinflow.sqlite_store import secure_dir, where_equal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS research_rows (
    output_id   TEXT PRIMARY KEY,
    patient     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    category    TEXT NOT NULL,
    event_time  TEXT NOT NULL,
    location    TEXT NOT NULL,
    lineage     TEXT NOT NULL,
    sealed      BLOB
);
CREATE INDEX IF NOT EXISTS research_rows_patient ON research_rows(patient, purpose);
"""
LOCATION = "index.db"  # where a payload stored by this version lives (its row)


@dataclass(frozen=True, slots=True)
class ResearchRecord:
    output_id: str
    patient: str
    purpose: str
    category: str
    event_time: datetime
    location: str
    lineage: tuple[str, ...]


class ResearchStore(LockedWalStore):
    """Sealed payloads and their rows under ``<data-dir>/research``; a ``RetractionTarget``
    named research-store."""

    name = "research-store"

    def __init__(self, root: Path, datakeys: DataKeyStore, lineage: LineageIndex) -> None:
        secure_dir(root)  # 0700, its files 0600 (ADR 0086)
        self.root = root
        self.datakeys = datakeys
        self.lineage = lineage
        # secure_delete: a retracted payload's (sealed) bytes are overwritten, not left in
        # free pages
        super().__init__(root / "index.db", _SCHEMA, secure_delete=True)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(research_rows)")}
        if "sealed" not in columns:  # a store written when payloads were files
            self._conn.execute("ALTER TABLE research_rows ADD COLUMN sealed BLOB")

    def write(self, envelope: Envelope) -> str:
        """Store one released envelope; returns its output id (the envelope's message id)."""
        return self.write_many([envelope])[0]

    def write_many(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Store released envelopes: their sealed payloads and rows in one transaction, then
        their lineage records in one more (a batch's releases cost two commits, not two per
        item). A batch whose lineage was not committed (a crash in between) is written again,
        same rows, when the runtime replays it."""
        for envelope in envelopes:
            if not envelope.purpose:
                where = f"message {envelope.message_id}"
                raise InputRejected("envelope without purpose of use", where)
        rows: list[tuple[str | bytes, ...]] = []
        for envelope in envelopes:
            output_id = envelope.message_id
            purpose = envelope.purpose or ""  # checked above
            sealed = self.datakeys.seal(
                envelope.patient, purpose, envelope.payload, aad=output_id.encode()
            )
            lineage = (*envelope.lineage, output_id)
            category = envelope.attributes.get("category", envelope.source.value)
            rows.append((output_id, envelope.patient, purpose, category,
                         envelope.event_time.isoformat(), LOCATION,
                         orjson.dumps(lineage).decode(), sealed))  # fmt: skip
        if rows:
            with self._transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO research_rows(output_id, patient, purpose, category,"
                    " event_time, location, lineage, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            self.lineage.record_releases(envelopes, self.name, [LOCATION] * len(rows))
        return [str(row[0]) for row in rows]

    def sealed(self, output_id: str) -> bytes:
        """One stored payload as it is held (sealed); ``FileNotFoundError`` when the store
        does not hold it (never released, or retracted), as a missing file did."""
        with self._lock:
            row = self._conn.execute(
                "SELECT sealed, location FROM research_rows WHERE output_id = ?", (output_id,)
            ).fetchone()
        if row is None:
            raise FileNotFoundError(f"research record {output_id} is not held")
        if row[0] is None:  # a payload file of the earlier layout
            return (self.root / str(row[1])).read_bytes()
        return bytes(row[0])

    def read(self, output_id: str) -> bytes:
        """Decrypt one stored payload (raises ``KeyError_`` once its key is destroyed)."""
        return self.datakeys.open(self.sealed(output_id), aad=output_id.encode())

    def records(self, patient: str | None = None) -> list[ResearchRecord]:
        sql, params = where_equal(
            "SELECT output_id, patient, purpose, category, event_time, location, lineage"
            " FROM research_rows",
            "patient",
            patient,
        )
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY output_id", params).fetchall()
        return [
            ResearchRecord(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]), r[5],
                           tuple(orjson.loads(r[6])))
            for r in rows
        ]

    def held(self) -> list[tuple[str, bytes]]:
        """Every payload the store holds, sealed, with its output id: the scan a test or an
        auditor runs (files of the earlier layout included)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT output_id, sealed, location FROM research_rows ORDER BY output_id"
            ).fetchall()
        held = [(r[0], bytes(r[1])) for r in rows if r[1] is not None]
        held += [(p.stem, p.read_bytes()) for p in self.files()]
        return held

    def files(self) -> list[Path]:
        """Payload files of the earlier one-file-per-record layout still on disk (this
        version writes none)."""
        return sorted(self.root.glob("*/*.bin"))

    def retract(self, request: RetractionRequest) -> RetractionReport:
        """Delete the patient's rows (payloads overwritten) for the request; idempotent."""
        sql = "SELECT output_id, location, lineage FROM research_rows WHERE patient = ?"
        params: list[str] = [request.patient]
        if request.purposes:
            sql += f" AND purpose IN ({', '.join('?' * len(request.purposes))})"
            params.extend(request.purposes)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
            if request.message_ids:
                wanted = set(request.message_ids)
                rows = [row for row in rows if wanted & set(orjson.loads(row[2]))]
            root = str(self.root)
            for _, location, _ in rows:
                if location == LOCATION:
                    continue
                try:  # a payload file of the earlier layout
                    os.unlink(os.path.join(root, location))
                except FileNotFoundError:
                    pass  # already gone: retraction is idempotent
            with self._transaction() as conn:
                conn.executemany(
                    "DELETE FROM research_rows WHERE output_id = ?", [(row[0],) for row in rows]
                )
            if rows:  # no sealed copy left in the WAL
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return RetractionReport(self.name, len(rows), details=tuple(row[1] for row in rows))
