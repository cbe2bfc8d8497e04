"""The de-identified research store: sealed files plus a SQLite index, lineage-recorded.

Each accepted envelope becomes one file ``<root>/<aa>/<output_id>.bin`` sealed under the
patient's data key for the envelope's purpose (``DataKeyStore``), an index row (pseudonym,
purpose, category, event time, location) and a lineage record. ``retract`` deletes files and
rows for a patient and purposes (narrowed to given input ids if any); even a copy that escaped
(a backup of the folder) is unreadable once the revocation destroys the scope's key.
"""

from __future__ import annotations

import os
import threading
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
from clinflow.sqlite_store import (
    PRIVATE_DIR,
    open_wal,
    private_opener,
    secure_dir,
    where_equal,
    write_transaction,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS research_rows (
    output_id   TEXT PRIMARY KEY,
    patient     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    category    TEXT NOT NULL,
    event_time  TEXT NOT NULL,
    location    TEXT NOT NULL,
    lineage     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS research_rows_patient ON research_rows(patient, purpose);
"""


@dataclass(frozen=True, slots=True)
class ResearchRecord:
    output_id: str
    patient: str
    purpose: str
    category: str
    event_time: datetime
    location: str
    lineage: tuple[str, ...]


class ResearchStore:
    """Files + index under ``<data-dir>/research``; a ``RetractionTarget`` named research-store."""

    name = "research-store"

    def __init__(self, root: Path, datakeys: DataKeyStore, lineage: LineageIndex) -> None:
        secure_dir(root)  # 0700, its files 0600 (ADR 0086)
        self.root = root
        self.datakeys = datakeys
        self.lineage = lineage
        self._lock = threading.RLock()
        self._conn = open_wal(root / "index.db", _SCHEMA)
        self._root = str(root)
        self._folders: set[str] = set()  # <aa>/ folders known to exist

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _path(self, output_id: str) -> Path:
        return self.root / output_id[:2] / f"{output_id}.bin"

    def write(self, envelope: Envelope) -> str:
        """Store one released envelope; returns its output id (the envelope's message id)."""
        return self.write_many([envelope])[0]

    def write_many(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Store released envelopes: sealed files, then their index rows and lineage records
        in one transaction each (a batch's releases cost two commits, not two per item).
        A file whose index row was not committed (a crash in between) is rewritten with the
        same bytes when the runtime replays the unfinished batch."""
        for envelope in envelopes:
            if not envelope.purpose:
                where = f"message {envelope.message_id}"
                raise InputRejected("envelope without purpose of use", where)
        rows: list[tuple[str, ...]] = []
        locations: list[str] = []
        with self._lock:
            for envelope in envelopes:
                output_id = envelope.message_id
                folder = output_id[:2]
                if folder not in self._folders:
                    (self.root / folder).mkdir(mode=PRIVATE_DIR, exist_ok=True)
                    self._folders.add(folder)
                location = f"{folder}/{output_id}.bin"
                purpose = envelope.purpose or ""  # checked above
                sealed = self.datakeys.seal(
                    envelope.patient, purpose, envelope.payload, aad=output_id.encode()
                )
                path = os.path.join(self._root, location)
                tmp = path + ".tmp"
                with open(tmp, "wb", opener=private_opener) as handle:
                    handle.write(sealed)
                os.replace(tmp, path)  # a reader never sees half a file
                lineage = (*envelope.lineage, output_id)
                category = envelope.attributes.get("category", envelope.source.value)
                rows.append((output_id, envelope.patient, purpose, category,
                             envelope.event_time.isoformat(), location,
                             orjson.dumps(lineage).decode()))  # fmt: skip
                locations.append(location)
            if rows:
                with write_transaction(self._conn) as conn:
                    conn.executemany(
                        "INSERT OR REPLACE INTO research_rows(output_id, patient, purpose,"
                        " category, event_time, location, lineage) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
        if rows:
            self.lineage.record_releases(envelopes, self.name, locations)
        return [row[0] for row in rows]

    def read(self, output_id: str) -> bytes:
        """Decrypt one stored payload (raises ``KeyError_`` once its key is destroyed)."""
        return self.datakeys.open(self._path(output_id).read_bytes(), aad=output_id.encode())

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

    def files(self) -> list[Path]:
        """Every payload file on disk (the scan a test or auditor runs, index or not)."""
        return sorted(self.root.glob("*/*.bin"))

    def retract(self, request: RetractionRequest) -> RetractionReport:
        """Delete the patient's rows and files for the request; idempotent."""
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
                try:
                    os.unlink(os.path.join(root, location))
                except FileNotFoundError:
                    pass  # already gone: retraction is idempotent
            with write_transaction(self._conn) as conn:
                conn.executemany(
                    "DELETE FROM research_rows WHERE output_id = ?", [(row[0],) for row in rows]
                )
        return RetractionReport(self.name, len(rows), details=tuple(row[1] for row in rows))
