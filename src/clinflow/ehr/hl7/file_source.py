"""HL7 v2 feed files as a source of ``clinflow run --source hl7:PATH``.

``PATH`` is one feed file or a folder of them (``*.hl7``, recursively, in name order); a file
holds messages one after another, each starting at a line beginning ``MSH`` (what
``clinflow generate --format hl7v2`` writes, and what interface engines archive). Each message
is validated and mapped like one received over MLLP (``clinflow.ehr.hl7.envelopes``); a
malformed one goes to the quarantine through the runtime's reject hook, named by file and
message number plus segment/field (``feed.hl7:12 OBX[3]-5``), never a value. A message seen
before in the same run (same key) is counted and skipped; across runs the ledger drops it.
Files are read once: the source ends after the last message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from clinflow.ehr.hl7.envelopes import Reject, mapped_envelope, refused_envelope
from clinflow.ehr.hl7.feed_files import read_feed
from clinflow.ehr.hl7.fhir_map import validate_and_map
from clinflow.ehr.hl7.parser import HL7Error
from clinflow.envelope import TimedInput
from clinflow.errors import ConfigError

log = logging.getLogger("clinflow.sources")
STAGE = "hl7-file"
YIELD_EVERY = 256  # messages between event-loop hand-overs


@dataclass(slots=True)
class FileStats:
    files: int = 0
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0  # the same message key again in this run
    rejected: int = 0  # quarantined (or, without a reject hook, logged and counted)


def feed_files(path: Path) -> list[Path]:
    """The feed files of ``path``: itself, or the ``*.hl7`` files under it in name order."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*.hl7") if p.is_file())
    raise ConfigError(f"--source hl7:{path}: no such file or folder")


class Hl7FileSource:
    """Yield a raw FHIR envelope per valid message of the feed files under ``path``."""

    def __init__(self, path: Path, *, reject: Reject | None = None) -> None:
        self.path = path
        self.files = feed_files(path)
        self.reject = reject
        self.stats = FileStats()

    def _name(self, file: Path) -> str:
        return file.name if file == self.path else str(file.relative_to(self.path))

    async def __aiter__(self) -> AsyncIterator[TimedInput]:
        seen: set[str] = set()
        for file in self.files:
            data = await asyncio.to_thread(file.read_bytes)
            self.stats.files += 1
            name = self._name(file)
            for number, message in enumerate(read_feed(data), start=1):
                self.stats.messages += 1
                location = f"{name}:{number}"
                try:
                    mapped = validate_and_map(message)
                except HL7Error as error:
                    self.stats.rejected += 1
                    where = f"{location} {error.location}"
                    if self.reject is not None:
                        envelope = refused_envelope(message, location)
                        self.reject(STAGE, envelope, error.reason, where)
                    else:
                        log.warning("hl7 file: %s: %s (not quarantined here)", where, error.reason)
                    continue
                if mapped.key in seen:
                    self.stats.duplicates += 1
                    continue
                seen.add(mapped.key)
                self.stats.accepted += 1
                yield TimedInput(0.0, mapped_envelope(mapped, location))
                if number % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
