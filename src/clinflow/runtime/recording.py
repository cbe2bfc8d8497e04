"""Recordings: a stream of raw source inputs with their timing, in one file that replays
byte for byte (``clinflow record``, ``clinflow replay RECORDING``).

Format, version 1 (all integers big-endian)::

    magic      b"CLINFLOW-RECORDING\\n"   (19 bytes)
    version    u16                       (1)
    header     u32 length + JSON object  (what was recorded: source, seed, patients,
                                          timing; deterministic, no wall-clock time)
    records    repeated until the end of the file:
               u32 length of what follows, f64 ``at_s``, ``Envelope.to_bytes()``

``at_s`` is the input's time in the source's own clock, in seconds from its start (clinical
seconds for the synthetic stream; 0 for a folder, which has no timing). The envelope is the
RAW input (no patient: ingest resolves it) with ``ingest_time`` set to its ``event_time``, so
recording the same source twice gives the same bytes. A replay reads the envelopes back
unchanged except ``ingest_time`` (their scheduled arrival). Recording a recording copies its
header and records: same bytes again.

A file that does not start with the magic, has another version, or ends inside a record is a
``RecordingError`` naming the file and the byte offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from clinflow.envelope import Envelope, TimedInput
from clinflow.errors import ConfigError

MAGIC = b"CLINFLOW-RECORDING\n"
VERSION = 1
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_F64 = struct.Struct(">d")
SUFFIX = ".cfrec"


class RecordingError(ConfigError):
    """A recording file is not one, is of another version, or is truncated."""


def is_recording(path: Path) -> bool:
    """Whether ``path`` is a file that starts with the recording magic."""
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def normalized(envelope: Envelope) -> Envelope:
    """The envelope as recorded: ``ingest_time`` = ``event_time`` (no wall-clock time)."""
    return replace(envelope, ingest_time=envelope.event_time)


@dataclass
class RecordingWriter:
    """Writes a recording; use as a context manager. ``add`` takes source items in order."""

    path: Path
    header: dict[str, Any]
    count: int = 0
    _handle: IO[bytes] | None = None

    def __enter__(self) -> RecordingWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".part")
        self._handle = tmp.open("wb")
        header = orjson.dumps(
            {"format": "clinflow-recording", "version": VERSION, **self.header},
            option=orjson.OPT_SORT_KEYS,
        )
        self._handle.write(MAGIC + _U16.pack(VERSION) + _U32.pack(len(header)) + header)
        return self

    def add(self, item: TimedInput) -> None:
        assert self._handle is not None, "use RecordingWriter as a context manager"
        self.add_frame(item.at_s, normalized(item.envelope).to_bytes())

    def add_frame(self, at_s: float, frame: bytes) -> None:
        """One record from its parts (``frame`` = ``Envelope.to_bytes()``), unchanged."""
        assert self._handle is not None, "use RecordingWriter as a context manager"
        body = _F64.pack(at_s) + frame
        self._handle.write(_U32.pack(len(body)) + body)
        self.count += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._handle is not None
        self._handle.close()
        tmp = self.path.with_name(self.path.name + ".part")
        if kind is None:
            tmp.replace(self.path)  # a reader never sees half a recording
        else:
            tmp.unlink(missing_ok=True)


def read_header(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        header, _ = _read_header(handle, path)
    return header


def _read_header(handle: IO[bytes], path: Path) -> tuple[dict[str, Any], int]:
    magic = handle.read(len(MAGIC))
    if magic != MAGIC:
        raise RecordingError(f"{path}: not a clinflow recording (no recording magic at byte 0)")
    raw_version = handle.read(_U16.size)
    if len(raw_version) < _U16.size:
        raise RecordingError(f"{path}: truncated at byte {len(MAGIC)} (version)")
    version = _U16.unpack(raw_version)[0]
    if version != VERSION:
        raise RecordingError(
            f"{path}: recording version {version}, this clinflow reads version {VERSION}"
        )
    offset = len(MAGIC) + _U16.size
    raw_length = handle.read(_U32.size)
    if len(raw_length) < _U32.size:
        raise RecordingError(f"{path}: truncated at byte {offset} (header length)")
    length = _U32.unpack(raw_length)[0]
    body = handle.read(length)
    offset += _U32.size
    if len(body) < length:
        raise RecordingError(f"{path}: truncated at byte {offset} (header)")
    try:
        header = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"{path}: the header at byte {offset} is not JSON") from exc
    if not isinstance(header, dict):
        raise RecordingError(f"{path}: the header at byte {offset} is not a JSON object")
    return header, offset + length


def read_frames(path: Path) -> Iterator[tuple[float, bytes]]:
    """(at_s, envelope frame) of every record, in order, without decoding the envelopes."""
    with path.open("rb") as handle:
        _, offset = _read_header(handle, path)
        while True:
            raw_length = handle.read(_U32.size)
            if not raw_length:
                return
            if len(raw_length) < _U32.size:
                raise RecordingError(f"{path}: truncated at byte {offset} (record length)")
            length = _U32.unpack(raw_length)[0]
            body = handle.read(length)
            if len(body) < length or length < _F64.size:
                raise RecordingError(
                    f"{path}: truncated at byte {offset} (a record of {length} bytes)"
                )
            yield _F64.unpack_from(body)[0], body[_F64.size :]
            offset += _U32.size + length


def read_recording(path: Path) -> Iterator[TimedInput]:
    """Every record as a ``TimedInput`` (the envelope exactly as recorded)."""
    for at_s, frame in read_frames(path):
        try:
            envelope = Envelope.from_bytes(frame)
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            raise RecordingError(
                f"{path}: a record is not an envelope ({type(exc).__name__})"
            ) from exc
        yield TimedInput(at_s, envelope)


def write_recording(path: Path, header: dict[str, Any], items: Iterable[TimedInput]) -> int:
    """Record ``items``; returns how many were written."""
    with RecordingWriter(path, header) as writer:
        for item in items:
            writer.add(item)
    return writer.count


def copy_recording(source: Path, target: Path) -> int:
    """Record a recording: its header and records unchanged (the same bytes)."""
    with RecordingWriter(target, _header_without_format(read_header(source))) as writer:
        for at_s, frame in read_frames(source):
            writer.add_frame(at_s, frame)
    return writer.count


def _header_without_format(header: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in header.items() if k not in ("format", "version")}
