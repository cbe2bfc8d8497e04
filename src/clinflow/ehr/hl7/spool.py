"""The MLLP listener's durable hand-off: an append-only spool with group commit.

A message is acknowledged AA only once its bytes are on disk (ADR 0026's rule for the DICOM
SCP, here for HL7 v2). One fsync per message would cap a listener at a few hundred messages
a second on these disks (~4 ms each), so writes queued while a flush runs go out together:
one write and one fsync per batch (group commit, as the audit log does), and every waiter
of the batch is answered after it.

Layout: ``segment-<n>.log`` files of records ``b"HL7S" + key (32 ASCII hex) + length (4
bytes, big-endian) + message bytes``. A new segment starts at each run and after
``records_per_segment`` records; a closed segment is deleted once the runtime's ledger says
every message in it was ingested. At start, records of segments left by an earlier run are
read back (a torn last record, never acknowledged, is dropped) and handed out again. Keys
(the message key: sender + MSH-10, or the content) carry no identifier; the file content is
the raw message and so holds PHI, like the DICOM spool: the folder is 0700, files 0600.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"HL7S"
_HEADER = len(MAGIC) + 32 + 4


@dataclass(slots=True)
class _Segment:
    path: Path
    keys: set[str] = field(default_factory=set)
    records: int = 0
    closed: bool = False


def read_records(path: Path) -> Iterator[tuple[str, bytes]]:
    """(key, message) of each complete record of a segment file; stops at a torn tail."""
    data = path.read_bytes()
    at = 0
    while at + _HEADER <= len(data):
        if data[at : at + 4] != MAGIC:
            return
        key = data[at + 4 : at + 36].decode("ascii", "replace")
        length = int.from_bytes(data[at + 36 : at + 40], "big")
        end = at + _HEADER + length
        if end > len(data):
            return
        yield key, data[at + _HEADER : end]
        at = end


class Spool:
    """Append messages durably; ``await put(key, data)`` returns once they are fsynced."""

    def __init__(self, folder: Path, records_per_segment: int = 5000) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.records_per_segment = records_per_segment
        self._segments: list[_Segment] = []
        self._active: _Segment | None = None
        self._fd: int | None = None
        self._queue: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0  # fsyncs done (one per batch)

    # ----- recovery ---------------------------------------------------------------------------
    def recover(self) -> list[tuple[str, bytes]]:
        """Records left by an earlier run, oldest segment first; their segments are kept
        (closed) until ``release`` sees their keys done."""
        found: list[tuple[str, bytes]] = []
        for path in sorted(self.folder.glob("segment-*.log"), key=_number):
            segment = _Segment(path, closed=True)
            for key, data in read_records(path):
                segment.keys.add(key)
                segment.records += 1
                found.append((key, data))
            if segment.keys:
                self._segments.append(segment)
            else:
                path.unlink(missing_ok=True)
        return found

    # ----- writing ----------------------------------------------------------------------------
    async def put(self, key: str, data: bytes) -> None:
        """Queue one record and wait until a flush has made it durable (raises OSError if
        the write or fsync failed: the caller must not acknowledge)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((key, data, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_loop())
        await done

    async def _flush_loop(self) -> None:
        # one flush at a time; bookkeeping stays on the event loop, only write+fsync in a thread
        while self._queue:
            batch, self._queue = self._queue, []
            blob = b"".join(
                MAGIC + key.encode("ascii") + len(data).to_bytes(4, "big") + data
                for key, data, _ in batch
            )
            try:
                segment = self._segment_for(len(batch))
                assert self._fd is not None
                await asyncio.to_thread(_append, self._fd, blob)
            except OSError as exc:
                # a torn record may sit at the end of this segment: later ones go to a new one
                if self._active is not None:
                    self._active.closed = True
                    self._active = None
                self._close_fd()
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.flushes += 1
            segment.keys.update(key for key, _, _ in batch)
            segment.records += len(batch)
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _segment_for(self, count: int) -> _Segment:
        active = self._active
        if active is not None and active.records + count <= self.records_per_segment:
            return active
        if active is not None:
            active.closed = True
            self._close_fd()
        number = max((_number(s.path) for s in self._segments), default=0) + 1
        segment = _Segment(self.folder / f"segment-{number:08d}.log")
        self._fd = os.open(segment.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        dir_fd = os.open(self.folder, os.O_RDONLY)  # the new name itself must be durable
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._segments.append(segment)
        self._active = segment
        return segment

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # ----- release ------------------------------------------------------------------------------
    def outstanding(self) -> set[str]:
        return {key for segment in self._segments for key in segment.keys}

    def release(self, completed: set[str]) -> int:
        """Forget ``completed`` keys; delete closed segments with none left. Returns how many
        segment files were deleted."""
        deleted = 0
        for segment in list(self._segments):
            segment.keys -= completed
            if segment.closed and not segment.keys:
                segment.path.unlink(missing_ok=True)
                self._segments.remove(segment)
                deleted += 1
        return deleted

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._close_fd()
        if self._active is not None:
            self._active.closed = True
            self._active = None


def _append(fd: int, blob: bytes) -> None:
    view = memoryview(blob)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _number(path: Path) -> int:
    try:
        return int(path.stem.removeprefix("segment-"))
    except ValueError:
        return 0
