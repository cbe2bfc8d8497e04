"""An MLLP listener for HL7 v2 as a source of ``clinflow run --source mllp:[HOST:]PORT``.

Framing (HL7 v2 MLLP, release 2 minimal lower layer): ``0x0B`` message ``0x1C 0x0D``; bytes
outside a frame are discarded (counted). Each message gets one answer, in order, on its
connection:

- parsed, validated and mapped to FHIR (``clinflow.ehr.hl7.fhir_map``, vendor dialect by
  MSH-3) -> written durably to the spool (group commit, ``clinflow.ehr.hl7.spool``) -> ``AA``;
- malformed -> quarantined (the raw bytes, sealed, through the runtime's ``reject``: a
  validation-failure AuditEvent names the reason and segment/field) -> ``AE`` (content) or
  ``AR`` (not a message we take), with the reason in MSA-3 and ERR;
- a duplicate (same sender and MSH-10, or the same bytes when MSH-10 is missing) -> ``AA``
  again and nothing else: it is processed once. Across restarts the runtime's ledger drops it
  (the envelope's message id is the message key).

Only an ``AA`` promises the message will not be lost (ADR 0026's rule: the answer waits for
fsync, not for the pipeline). The source yields one RAW FHIR envelope per message: the mapped
transaction Bundle (Patient + Encounter or Observations), ``source_system`` naming the
sending application and facility (MSH-3/4, no PHI) for the ingest AuditEvent. Log lines and
answers carry reasons and segment/field names, never a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from clinflow.config import LOOPBACK, parse_listen_address
from clinflow.ehr.hl7.ack import ack_for, build_ack, lenient_header
from clinflow.ehr.hl7.envelopes import Reject, mapped_envelope, refused_envelope
from clinflow.ehr.hl7.fhir_map import MappedMessage, ack_code, validate_and_map
from clinflow.ehr.hl7.parser import HL7Error
from clinflow.ehr.hl7.spool import Spool
from clinflow.envelope import TimedInput, content_message_id
from clinflow.errors import ConfigError
from clinflow.listeners import PeerPolicy

log = logging.getLogger("clinflow.sources")

START, END = b"\x0b", b"\x1c\r"
DEFAULT_HOST = LOOPBACK
MAX_FRAME_BYTES = 4 * 1024 * 1024
SEEN_KEYS = 200_000  # recent message keys remembered for duplicates (the ledger backs it)
STAGE = "mllp"

# ``completed(keys) -> keys the pipeline's entry hop has completed`` (the runtime ledger)
Completed = Callable[[Iterable[str]], set[str]]


def parse_address(text: str) -> tuple[str, int]:
    """``PORT`` or ``HOST:PORT`` (after ``mllp:``) -> (host, port); ConfigError if bad."""
    return parse_listen_address(text, "mllp")


class FrameReader:
    """MLLP frames from a byte stream; ``None`` stands for a frame over ``max_bytes``."""

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        self.in_frame = False
        self.oversize = False
        self.discarded = 0  # bytes outside frames

    def feed(self, data: bytes) -> list[bytes | None]:
        buf = self.buffer
        buf += data
        out: list[bytes | None] = []
        while True:
            if not self.in_frame:
                start = buf.find(START)
                if start < 0:
                    self.discarded += len(buf)
                    buf.clear()
                    return out
                self.discarded += start
                del buf[: start + 1]
                self.in_frame = True
            end = buf.find(END)
            restart = buf.find(START)
            if restart >= 0 and (end < 0 or restart < end):  # a new frame began: drop the torn one
                self.discarded += restart
                del buf[: restart + 1]
                self.oversize = False
                continue
            if end < 0:
                if len(buf) > self.max_bytes:
                    self.oversize = True
                    self.discarded += len(buf) - 1
                    del buf[:-1]  # keep a possible 0x1C
                return out
            frame = bytes(buf[:end])
            del buf[: end + 2]
            self.in_frame = False
            out.append(None if self.oversize or len(frame) > self.max_bytes else frame)
            self.oversize = False


@dataclass(slots=True)
class MllpStats:
    received: int = 0  # frames answered
    accepted: int = 0  # new messages acknowledged AA (durable)
    duplicates: int = 0  # acknowledged AA again, not processed again
    rejected: int = 0  # answered AE/AR and quarantined
    failed: int = 0  # spool write failed: answered AE, the sender resends
    oversize: int = 0  # frames over the size limit (AR, not kept)
    discarded_bytes: int = 0  # bytes outside frames
    resumed: int = 0  # spooled by an earlier run, yielded again
    released: int = 0  # spool segments deleted once ingested
    connections: int = 0
    refused_peers: int = 0  # connections closed unread: peer not on --allow-peers (ADR 0113)


class MllpSource:
    """Listen on ``(host, port)``; yield a raw FHIR envelope per new valid message."""

    def __init__(
        self,
        host: str,
        port: int,
        spool_dir: Path,
        *,
        reject: Reject | None = None,
        completed: Completed | None = None,
        release_every_s: float = 0.5,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        queue_size: int = 20_000,
        peers: PeerPolicy | None = None,
    ) -> None:
        self.host = host
        self.peers = peers or PeerPolicy()
        self.port = port
        self.spool = Spool(spool_dir)
        self.reject = reject
        self.completed = completed
        self.release_every_s = release_every_s
        self.max_frame_bytes = max_frame_bytes
        self.stats = MllpStats()
        self.address: tuple[str, int] | None = None
        self.ready = asyncio.Event()
        # accepted messages waiting to be yielded: a full queue holds answers back (backpressure)
        self._queue: asyncio.Queue[tuple[str, bytes, MappedMessage]] = asyncio.Queue(queue_size)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._writers: set[asyncio.StreamWriter] = set()
        self._acks = 0

    # ----- answering ----------------------------------------------------------------------------
    def _ack_id(self) -> str:
        self._acks += 1
        return f"ACK{self._acks:09d}"

    async def handle(self, frame: bytes) -> bytes:
        """The answer to one framed message (AA only once it is durable)."""
        self.stats.received += 1
        try:
            mapped = validate_and_map(frame)
        except HL7Error as error:
            return self._refuse(frame, error)
        key, message = mapped.key, mapped.message
        assert message is not None
        if key in self._seen:
            pending = self._pending.get(key)
            if pending is not None:
                with contextlib.suppress(OSError):
                    await asyncio.shield(pending)
            if key in self._seen:
                self.stats.duplicates += 1
                return ack_for(message, "AA", self._ack_id())
        self._remember(key)
        write = asyncio.ensure_future(self.spool.put(key, frame))
        self._pending[key] = write
        try:
            await write
        except OSError as exc:
            self._seen.pop(key, None)
            self.stats.failed += 1
            log.warning("mllp: cannot spool a message (%s); answered AE", type(exc).__name__)
            reason = "cannot store the message now; send it again"
            return ack_for(message, "AE", self._ack_id(), reason)
        finally:
            self._pending.pop(key, None)
        self.stats.accepted += 1
        await self._queue.put((key, frame, mapped))
        return ack_for(message, "AA", self._ack_id())

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > SEEN_KEYS:
            self._seen.popitem(last=False)

    def _refuse(self, frame: bytes, error: HL7Error) -> bytes:
        code = ack_code(error)
        self.stats.rejected += 1
        where = f"mllp:{self.port} {error.location}"
        if self.reject is not None:
            location = f"mllp:{self.port}/{content_message_id(frame)[:16]}"
            self.reject(STAGE, refused_envelope(frame, location), error.reason, where)
        log.info("mllp: message refused (%s) at %s", code, error.location)
        application, facility, event, control_id, version = lenient_header(frame)
        return build_ack(code, sender=(application, facility), event=event,
                         control_id=control_id, version=version, reason=error.reason,
                         location=error.location, ack_id=self._ack_id())  # fmt: skip

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.peers.admits(writer.get_extra_info("peername")):
            self.stats.refused_peers += 1
            log.warning("mllp: connection refused (peer not on --allow-peers)")
            writer.close()
            return
        self.stats.connections += 1
        self._writers.add(writer)
        frames = FrameReader(self.max_frame_bytes)
        try:
            while data := await reader.read(65536):
                for frame in frames.feed(data):
                    if frame is None:
                        self.stats.received += 1
                        self.stats.oversize += 1
                        reason = f"message larger than {self.max_frame_bytes} bytes"
                        answer = build_ack("AR", reason=reason, location="MSH",
                                           ack_id=self._ack_id())  # fmt: skip
                    else:
                        answer = await self.handle(frame)
                    writer.write(START + answer + END)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the sender went away: what it was not answered AA for, it resends
        except Exception as exc:  # noqa: BLE001 - a bug must not hang the sender: drop it
            log.error("mllp: internal error (%s); connection closed", type(exc).__name__)
        finally:
            self._writers.discard(writer)
            self.stats.discarded_bytes += frames.discarded
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    # ----- the source ----------------------------------------------------------------------------
    def _release(self) -> None:
        if self.completed is None:
            return
        outstanding = self.spool.outstanding()
        if outstanding:
            self.stats.released += self.spool.release(self.completed(outstanding))

    async def __aiter__(self) -> AsyncIterator[TimedInput]:
        resumed = await asyncio.to_thread(self.spool.recover)  # before new ones: their order
        for key, _ in resumed:
            self._remember(key)
        self.stats.resumed = len(resumed)
        try:
            server = await asyncio.start_server(
                self._connection, self.host, self.port, ssl=self.peers.tls
            )
        except OSError as exc:
            raise ConfigError(
                f"--source mllp: cannot listen on {self.host}:{self.port} ({exc.strerror})"
            ) from exc
        bound = server.sockets[0].getsockname()
        self.address = (str(bound[0]), int(bound[1]))
        self.ready.set()
        start = time.monotonic()
        released_at = start
        try:
            for key, frame in resumed:  # acknowledged by an earlier run: mapped again
                try:
                    mapped = validate_and_map(frame)
                except HL7Error as error:  # e.g. a vendor profile changed since
                    self._refuse(frame, error)
                    self.spool.release({key})
                    continue
                envelope = mapped_envelope(mapped, f"mllp:{self.port}/{key[:16]}")
                yield TimedInput(max(0.0, time.monotonic() - start), envelope)
            del resumed
            while True:
                if time.monotonic() - released_at >= self.release_every_s:
                    self._release()
                    released_at = time.monotonic()
                try:
                    key, frame, mapped = await asyncio.wait_for(
                        self._queue.get(), self.release_every_s
                    )
                except TimeoutError:
                    continue
                envelope = mapped_envelope(mapped, f"mllp:{self.port}/{key[:16]}")
                yield TimedInput(max(0.0, time.monotonic() - start), envelope)
        finally:
            server.close()
            for writer in list(self._writers):  # stop taking messages: unanswered ones are resent
                writer.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
            await self.spool.close()
            self._release()
