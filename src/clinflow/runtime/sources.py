"""Sources for ``clinflow run``: async iterators of ``TimedInput`` carrying RAW envelopes.

- ``GeneratorSource(options, speed)``: the synthetic cohort as a timed stream
  (``clinflow.synthetic.stream``), paced by clinical time / speed.
- ``FolderSource(path, poll_s, once, state_file)``: a drop folder as a PACS or an EHR export
  fills it: one envelope per new complete file (FHIR ``.json`` Bundle or resource, DICOM by
  its ``DICM`` preamble or ``.dcm``) and one per line of ``.ndjson`` files.

Pacing is open loop: ``at_s`` is fixed in advance relative to the source's start; the source
sleeps until then and never waits for the consumer, so a slow pipeline cannot slow the
schedule down and hide its latency (late items go out at once). Each yielded envelope's
``ingest_time`` is the moment it was handed out (the runtime measures latency from it).
Cancelling the consuming task (or ``aclose()``) stops a source cleanly, between items.

Folder conventions (what makes a file complete):

- a file is taken once its size and modification time are the same on two polls ``poll_s``
  apart (a file last modified at least ``poll_s`` ago counts as already stable);
- names starting with ``.`` and ending in ``.part``, ``.partial``, ``.tmp``, ``.crdownload``
  or ``~`` are in-progress writes and never taken: a writer that writes ``x.dcm.part`` (or
  ``.x.dcm``) and renames it to ``x.dcm`` when done is picked up right after the rename;
- ``DICOMDIR`` and files that are neither FHIR JSON nor DICOM are skipped (counted);
- the files complete at one scan are taken oldest first, except that a Bulk export's
  ``Patient`` then ``Consent`` ndjson files go ahead of the rest (``input_rank``);
- links to folders are not followed; a symbolic link loop, a dangling link, a link to a
  folder, a FIFO or a folder that cannot be listed is reported once (a warning on the
  ``clinflow.sources`` logger naming the relative path, and ``stats.skipped``), never
  skipped in silence (``clinflow.folders``, ADR 0091);
- what was yielded is remembered by (path, mtime, size): a rewritten file is yielded again,
  an unchanged one never; with ``state_file`` this memory survives restarts (the runtime's
  ledger also drops inputs whose content id it has seen).

Locations (``attributes["path"]``) are paths relative to the folder (``name:LINE`` for an
ndjson line). File names are read as bytes: one that is not UTF-8 (or that starts with
``hex:``) is named ``hex:<hex of its bytes>``, never an error. A file name may carry PHI
where a sender puts it there; the runtime keeps ``path`` internal (quarantine, audit
locations), never releases it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

from clinflow.envelope import Envelope, SourceKind, TimedInput, source_input
from clinflow.folders import SkippedPath, walk_files
from clinflow.synthetic.stream import StreamOptions, generate_stream

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

FHIR_FORMAT = "fhir-json"
DICOM_FORMAT = "dicom"
PARTIAL_SUFFIXES = (b".part", b".partial", b".tmp", b".crdownload", b"~")
SKIPPED_NAMES = (b"DICOMDIR",)
log = logging.getLogger("clinflow.sources")
_DICM_OFFSET = 128


def _now() -> datetime:
    return datetime.now(UTC)


def _arrived(timed: TimedInput) -> TimedInput:
    """The item as handed out now: ``ingest_time`` is its arrival."""
    return TimedInput(timed.at_s, replace(timed.envelope, ingest_time=_now()))


# ---------------------------------------------------------------------------- generator


YIELD_EVERY = 256  # items between loop hand-overs when not waiting for the schedule


class GeneratorSource:
    """The synthetic cohort, one raw input at a time at ``at_s`` (``speed`` 0: flat out).

    ``speed`` overrides ``options.speed`` when given. ``clock``/``sleep`` are injectable
    (tests use a fake clock).
    """

    def __init__(
        self,
        options: StreamOptions,
        speed: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.options = options if speed is None else replace(options, speed=speed)
        self.clock = clock
        self.sleep = sleep

    async def __aiter__(self) -> AsyncIterator[TimedInput]:
        items = generate_stream(self.options)
        start = self.clock()
        try:
            for count, timed in enumerate(items, start=1):
                delay = timed.at_s - (self.clock() - start)
                if delay > 0:
                    await self.sleep(delay)
                elif count % YIELD_EVERY == 0:
                    # Flat out or late: hand the loop over now and then, not per item, so
                    # the runtime's hops take whole batches (one audit commit per batch).
                    await self.sleep(0)
                yield _arrived(timed)
        finally:
            items.close()  # closes the stream's manifest file


# ---------------------------------------------------------------------------- folder


@dataclass(frozen=True, slots=True)
class _Seen:
    location: str
    mtime_ns: int
    size: int

    def to_json(self) -> bytes:
        return orjson.dumps({"path": self.location, "mtime_ns": self.mtime_ns, "size": self.size})


def location_of(relative: bytes) -> str:
    """A lossless, unambiguous text name for a relative path given as bytes (never raises):
    the UTF-8 text, or ``hex:<bytes>`` when it is not UTF-8 (or itself starts ``hex:``)."""
    try:
        text = relative.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + relative.hex()
    return "hex:" + relative.hex() if text.startswith("hex:") else text


def input_rank(name: bytes) -> int:
    """Order among the files of one scan (oldest first within a rank): a Bulk export's
    Patient files (``Patient.ndjson``, ``Patient.000.ndjson``), then its Consent files, then
    the rest, as the FHIR sources do (``arrival_rank``): ingest must know a patient, and the
    consent gate its consents, before their data; an exporter's mtimes need not say so."""
    from clinflow.ehr.fhir_client.ordering import arrival_rank

    if not name.lower().endswith(b".ndjson"):
        return arrival_rank(None)
    parts = name[: -len(b".ndjson")].decode("utf-8", "replace").split(".")
    return min(arrival_rank(part) for part in parts)


def is_in_progress(name: bytes) -> bool:
    """True for names that by convention are still being written (dotfiles, ``.part``...)."""
    return name.startswith(b".") or name.lower().endswith(PARTIAL_SUFFIXES)


def _kind_of_json(document: object) -> SourceKind:
    is_consent = isinstance(document, dict) and document.get("resourceType") == "Consent"
    return SourceKind.CONSENT if is_consent else SourceKind.FHIR


def fhir_envelope(data: bytes, location: str, at: datetime) -> Envelope:
    """The raw envelope of one FHIR JSON document (a file, an ndjson line, a fetched
    resource): source ``consent`` for a Consent, else ``fhir``. Undecodable JSON still
    becomes an envelope: ingest rejects and quarantines it, so a bad export is visible
    instead of silently skipped."""
    try:
        source = _kind_of_json(orjson.loads(data))
    except orjson.JSONDecodeError:
        source = SourceKind.FHIR
    return source_input(data, source, at, location, FHIR_FORMAT)


def file_envelopes(data: bytes, name: bytes, location: str, at: datetime) -> list[Envelope]:
    """Raw envelopes of one complete file (none when it is neither FHIR JSON nor DICOM)."""
    lower = name.lower()
    if lower.endswith(b".ndjson"):
        return [
            fhir_envelope(line, f"{location}:{number}", at)
            for number, line in enumerate(data.splitlines(), start=1)
            if line.strip()
        ]
    if lower.endswith(b".json"):
        return [fhir_envelope(data, location, at)]
    if data[_DICM_OFFSET : _DICM_OFFSET + 4] == b"DICM" or lower.endswith(b".dcm"):
        return [source_input(data, SourceKind.DICOM, at, location, DICOM_FORMAT)]
    return []


@dataclass(slots=True)
class FolderStats:
    files: int = 0  # complete files read
    envelopes: int = 0
    skipped: list[str] = field(default_factory=list)  # "location: reason"


class FolderSource:
    """Watch ``path`` (recursively) and yield a raw envelope per new complete file.

    ``once``: one scan (plus one re-check of files modified in the last ``poll_s``), then
    stop. ``state_file``: ndjson of what was yielded, read at start and appended to, so a
    restarted watcher does not yield the same files again.
    """

    def __init__(
        self,
        path: Path,
        poll_s: float = 1.0,
        once: bool = False,
        *,
        state_file: Path | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.root = Path(path)
        self.poll_s = poll_s
        self.once = once
        self.state_file = state_file
        self.clock = clock
        self.sleep = sleep
        self.stats = FolderStats()
        self._seen: set[_Seen] = set()
        self._previous: dict[bytes, tuple[int, int]] = {}  # relative -> (mtime_ns, size)
        self._reported: set[SkippedPath] = set()  # each problem path warned about once

    async def __aiter__(self) -> AsyncIterator[TimedInput]:
        self._seen |= self._load_state()
        state = self._open_state()
        start = self.clock()
        try:
            rechecks = 0
            while True:
                ready, waiting = await asyncio.to_thread(self._poll)
                for relative, seen in ready:
                    envelopes = await asyncio.to_thread(self._read, relative, seen)
                    for envelope in envelopes:
                        yield TimedInput(max(0.0, self.clock() - start), envelope)
                    self._remember(seen, state)
                if self.once and (not waiting or rechecks >= 1):
                    return
                rechecks += 1
                await self.sleep(self.poll_s)
        finally:
            if state is not None:
                state.close()

    # ----- scanning (in a worker thread) ---------------------------------------------------
    def _walk(self) -> Iterator[tuple[bytes, os.stat_result]]:
        # dot names (in-progress writes, tool state) are left out silently, as is_in_progress says
        return walk_files(self.root, self._skip)

    def _skip(self, skipped: SkippedPath) -> None:
        """A path that is not an input (loop, dangling link...): warned about once."""
        if skipped in self._reported:
            return
        self._reported.add(skipped)
        location = location_of(skipped.relative)
        self.stats.skipped.append(f"{location}: {skipped.reason}")
        log.warning("input folder: %s: %s", location, skipped.reason)

    def _poll(self) -> tuple[list[tuple[bytes, _Seen]], bool]:
        """Files complete now (oldest first), and whether any may still be being written."""
        now_ns = time.time_ns()
        quiet_ns = int(self.poll_s * 1e9)
        current: dict[bytes, tuple[int, int]] = {}
        ready: list[tuple[int, int, bytes, _Seen]] = []
        waiting = False
        for relative, info in self._walk():
            name = os.path.basename(relative)
            if is_in_progress(name) or name in SKIPPED_NAMES:
                continue
            key = (info.st_mtime_ns, info.st_size)
            current[relative] = key
            seen = _Seen(location_of(relative), *key)
            if seen in self._seen:
                continue
            stable = self._previous.get(relative) == key or now_ns - key[0] >= quiet_ns
            if stable:
                ready.append((input_rank(name), key[0], relative, seen))
            else:
                waiting = True
        self._previous = current
        ready.sort()
        return [(relative, seen) for _, _, relative, seen in ready], waiting

    def _read(self, relative: bytes, seen: _Seen) -> list[Envelope]:
        full = os.path.join(os.fsencode(self.root), relative)
        try:
            with open(full, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            self.stats.skipped.append(f"{seen.location}: cannot read ({exc.strerror})")
            return []
        at = datetime.fromtimestamp(seen.mtime_ns / 1e9, UTC)
        envelopes = file_envelopes(data, os.path.basename(relative), seen.location, at)
        if envelopes:
            self.stats.files += 1
            self.stats.envelopes += len(envelopes)
        else:
            self.stats.skipped.append(f"{seen.location}: neither FHIR JSON nor DICOM")
        return envelopes

    # ----- memory of what was yielded --------------------------------------------------------
    def _load_state(self) -> set[_Seen]:
        if self.state_file is None or not self.state_file.exists():
            return set()
        seen = set()
        for line in self.state_file.read_bytes().splitlines():
            try:
                raw = orjson.loads(line)
                seen.add(_Seen(str(raw["path"]), int(raw["mtime_ns"]), int(raw["size"])))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a torn last line after a crash: that file is yielded again
        return seen

    def _open_state(self) -> IO[bytes] | None:
        if self.state_file is None:
            return None
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        return self.state_file.open("ab")

    def _remember(self, seen: _Seen, state: IO[bytes] | None) -> None:
        self._seen.add(seen)
        if state is not None:
            state.write(seen.to_json() + b"\n")
            state.flush()
