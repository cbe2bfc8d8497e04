"""A DICOM C-STORE SCP as a source for ``clinflow run --source dicom-scp:[HOST:]PORT``.

A modality or PACS sends instances with C-STORE (any storage SOP class, any transfer
syntax pynetdicom knows); each instance becomes one RAW DICOM envelope, exactly as a file in
a drop folder does (``sources.file_envelopes``), so ingest, de-identification, consent and
audit treat both the same.

Durability (ADR 0026): the C-STORE handler writes the received Part 10 bytes to a spool
folder (temporary name, fsync, rename, fsync of the folder) and only then answers Success
(0x0000). The source yields spool files in arrival order and deletes one once the runtime's
ledger says the entry hop completed it (its AuditEvents durable). A spool file left by a
stopped or crashed run is yielded again at the next start; the ledger drops a content id it
has seen, so a resend by the client of an instance whose answer it never got is processed
once. Writing fails (disk full, folder gone): the answer is 0xA700 "out of resources", which
tells the client to resend later; nothing is lost silently.

Spool names are the content id (the envelope's message id, from SHA-256 of the bytes): no
identifier from the dataset ever becomes a file name. Error and log messages name the SOP
class and status, never a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import threading
import uuid
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clinflow.config import LOOPBACK, parse_listen_address
from clinflow.envelope import SourceKind, TimedInput, content_message_id, source_input
from clinflow.errors import ConfigError
from clinflow.listeners import PeerPolicy

log = logging.getLogger("clinflow.sources")

DICOM_FORMAT = "dicom"
DEFAULT_AE_TITLE = "CLINFLOW"
DEFAULT_HOST = LOOPBACK
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
NOT_AUTHORIZED = 0x0124  # PS3.7 C.4: Refused: Not Authorized
_SUFFIX = ".dcm"

# ``seen(ids) -> ids the pipeline's entry hop has completed`` (the runtime ledger's answer)
Completed = Callable[[Iterable[str]], set[str]]


def parse_address(text: str) -> tuple[str, int]:
    """``PORT`` or ``HOST:PORT`` (after ``dicom-scp:``) -> (host, port); ConfigError if bad."""
    return parse_listen_address(text, "dicom-scp")


def check_ae_title(title: str) -> str:
    """An AE title: 1-16 characters of printable ASCII without backslash (PS3.5 AE VR)."""
    stripped = title.strip()
    if (
        not 0 < len(stripped) <= 16
        or not stripped.isascii()
        or "\\" in stripped
        or not (stripped.isprintable())
    ):
        raise ConfigError(f"--ae-title {title!r}: 1-16 printable ASCII characters, no backslash")
    return stripped


def content_id(data: bytes) -> str:
    """The spool name of an instance: ``content_message_id`` (the ledger's id for it)."""
    return content_message_id(data)


@dataclass(slots=True)
class SpoolCounts:
    resumed: int = 0  # spool files left by an earlier run, yielded again
    released: int = 0  # spool files deleted after the entry hop completed them


@dataclass(slots=True)
class ScpStats(SpoolCounts):
    received: int = 0  # C-STORE requests answered Success
    failed: int = 0  # answered with a failure status (the client resends)
    refused_peers: int = 0  # connections from outside --allow-peers (ADR 0115)


class Spool:
    """A folder of received instances, each written durably before its C-STORE answer."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def put(self, data: bytes) -> str:
        """Write ``data`` durably under its content id; returns the id (idempotent)."""
        ident = content_id(data)
        if (self.folder / f"{ident}{_SUFFIX}").exists():
            return ident
        partial = self.folder / f".{ident}.{threading.get_ident()}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        self.commit(partial, ident)
        self.sync()
        return ident

    def partial(self) -> Path:
        """A fresh in-progress name in the folder (``.part``: never yielded, see ``pending``)
        for a writer that streams an instance and ``commit``s it once complete and fsync'd."""
        return self.folder / f".{uuid.uuid4().hex}.part"

    def commit(self, partial: Path, ident: str) -> None:
        """Rename a complete, fsync'd ``partial`` to the spool name of ``ident`` (a copy
        already there wins: same id, same bytes). Durable after ``sync``."""
        target = self.folder / f"{ident}{_SUFFIX}"
        if target.exists():
            partial.unlink(missing_ok=True)
            return
        os.replace(partial, target)

    def sync(self) -> None:
        """fsync the folder: the renames done so far survive a crash."""
        self._sync_folder()

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def pending(self) -> list[str]:
        """Ids of spooled instances, oldest first (a resumed run yields them in order)."""
        stamped = []
        for path in self.folder.iterdir():
            if path.suffix != _SUFFIX:
                continue
            try:
                stamped.append((path.stat().st_mtime_ns, path.name, path.stem))
            except FileNotFoundError:
                continue  # released meanwhile
        stamped.sort()
        return [stem for _, _, stem in stamped]

    def read(self, ident: str) -> bytes:
        return (self.folder / f"{ident}{_SUFFIX}").read_bytes()

    def release(self, ident: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / f"{ident}{_SUFFIX}").unlink()


class DicomScpSource:
    """Listen for C-STORE on ``(host, port)`` and yield a raw DICOM envelope per instance.

    ``completed`` (the runtime ledger's ``seen`` for the entry hop) lets the source delete
    spool files the pipeline finished; without it spool files are kept. ``port`` 0 picks a
    free port (``address`` tells which, once the server runs).
    """

    def __init__(
        self,
        host: str,
        port: int,
        spool_dir: Path,
        *,
        ae_title: str = DEFAULT_AE_TITLE,
        completed: Completed | None = None,
        release_every_s: float = 0.5,
        peers: PeerPolicy | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.peers = peers or PeerPolicy()
        self.ae_title = check_ae_title(ae_title)
        self.spool = Spool(spool_dir)
        self.completed = completed
        self.release_every_s = release_every_s
        self.stats = ScpStats()
        self.address: tuple[str, int] | None = None
        self.ready = asyncio.Event()
        self._server: Any = None
        self._count_lock = threading.Lock()  # handlers run on several association threads

    def _count(self, field: str) -> None:
        with self._count_lock:
            setattr(self.stats, field, getattr(self.stats, field) + 1)

    def _start_server(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str]) -> None:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        ae = AE(ae_title=self.ae_title)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        ae.maximum_associations = 16

        def on_store(event: Any) -> int:
            requestor = event.assoc.requestor
            if not self.peers.admits((requestor.address, requestor.port)):
                # the server's own check closes such connections unread; this one covers a
                # connection accepted before it was installed
                self._count("refused_peers")
                return NOT_AUTHORIZED
            sop_class = str(getattr(event.request, "AffectedSOPClassUID", "") or "?")
            try:
                data = event.encoded_dataset(include_meta=True)
            except Exception as exc:  # noqa: BLE001 - a bad request answers, never crashes
                self._count("failed")
                log.warning("dicom-scp: C-STORE of %s not decodable (%s)", sop_class,
                            type(exc).__name__)  # fmt: skip
                return CANNOT_UNDERSTAND
            try:
                ident = self.spool.put(data)
            except OSError as exc:
                self._count("failed")
                log.warning("dicom-scp: cannot spool a %s instance (%s); answered 0xA700",
                            sop_class, type(exc).__name__)  # fmt: skip
                return OUT_OF_RESOURCES
            self._count("received")
            loop.call_soon_threadsafe(queue.put_nowait, ident)
            return SUCCESS

        self._server = ae.start_server(
            (self.host, self.port), block=False, ssl_context=self.peers.tls,
            evt_handlers=[(evt.EVT_C_STORE, on_store)],
        )  # fmt: skip
        if self.peers.tls is not None:
            self._server.get_request = _tls_accept(self._server, self.peers.tls)
        if self.peers.networks:
            peers = self.peers

            def verify_request(request: Any, client_address: Any) -> bool:
                if peers.admits(client_address):
                    return True
                self._count("refused_peers")
                log.warning("dicom-scp: connection refused (peer not on --allow-peers)")
                return False

            self._server.verify_request = verify_request  # socketserver: closed unread
        bound = self._server.server_address
        self.address = (str(bound[0]), int(bound[1]))

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()

    async def __aiter__(self) -> AsyncGenerator[TimedInput]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue()
        reader = SpoolReader(self.spool, self.stats, self.completed, self.release_every_s)
        reader.resume(queue)
        try:
            await asyncio.to_thread(self._start_server, loop, queue)
        except OSError as exc:
            raise ConfigError(
                f"--source dicom-scp: cannot listen on {self.host}:{self.port} ({exc.strerror})"
            ) from exc
        self.ready.set()
        items = reader.envelopes(queue, "dicom-scp")
        try:
            async for item in items:
                yield item
        finally:
            await asyncio.to_thread(self._stop_server)
            await items.aclose()  # its last release of what the entry hop completed


TLS_HANDSHAKE_TIMEOUT_S = 10.0


def _tls_accept(server: Any, context: ssl.SSLContext) -> Any:
    """pynetdicom's ``get_request`` with TLS, mended: the handshake (in the accept thread) is
    bounded, so a peer that connects and sends nothing cannot stop the SCP accepting others,
    and a failed handshake (a plaintext SCU, an unsigned client certificate) closes the
    accepted socket (pynetdicom 2 leaves it open until garbage collection)."""

    def get_request() -> tuple[socket.socket, Any]:
        accepted, address = server.socket.accept()
        try:
            accepted.settimeout(TLS_HANDSHAKE_TIMEOUT_S)
            wrapped = context.wrap_socket(accepted, server_side=True)
            wrapped.settimeout(None)
        except (OSError, ssl.SSLError):
            accepted.close()
            raise
        return wrapped, address

    return get_request


class SpoolReader:
    """A spool's instances as raw DICOM envelopes, each spool file deleted once the runtime's
    ledger says the entry hop completed its content id: what the C-STORE SCP source and the
    STOW-RS source (``clinflow.runtime.dicom_stow``) share.

    Ids come from a queue (the SCP's handler puts each received one) and, with ``on_found``,
    from polling the folder every ``release_every_s`` (a writer in another process: the API).
    An id is yielded again only after its earlier copy was released (the ledger drops it).
    """

    def __init__(
        self,
        spool: Spool,
        counts: SpoolCounts,
        completed: Completed | None,
        release_every_s: float,
    ) -> None:
        self.spool = spool
        self.counts = counts
        self.completed = completed
        self.release_every_s = release_every_s
        self._outstanding: set[str] = set()  # yielded, spool file not yet released
        self._queued: set[str] = set()  # put in the queue by a folder scan, not yet taken

    def resume(self, queue: asyncio.Queue[str]) -> None:
        """Queue the spool files left by an earlier run (oldest first)."""
        leftover = self.spool.pending()
        for ident in leftover:
            queue.put_nowait(ident)
        self._queued.update(leftover)
        self.counts.resumed = len(leftover)

    async def _scan(self, queue: asyncio.Queue[str]) -> int:
        """Queue spool files neither queued nor in flight; how many."""
        pending = await asyncio.to_thread(self.spool.pending)
        fresh = [i for i in pending if i not in self._queued and i not in self._outstanding]
        for ident in fresh:
            queue.put_nowait(ident)
        self._queued.update(fresh)
        return len(fresh)

    def _release(self) -> None:
        if self.completed is None or not self._outstanding:
            return
        for ident in self.completed(list(self._outstanding)):
            self.spool.release(ident)
            self._outstanding.discard(ident)
            self.counts.released += 1

    async def envelopes(
        self,
        queue: asyncio.Queue[str],
        label: str,
        on_found: Callable[[int], None] | None = None,
    ) -> AsyncGenerator[TimedInput]:
        """Yield the queued instances (location ``<label>/<id prefix>``) until cancelled or
        closed; releases what is done every ``release_every_s`` and once more at the end."""
        loop = asyncio.get_running_loop()
        start = released_at = loop.time()
        try:
            while True:
                if loop.time() - released_at >= self.release_every_s:
                    # the ledger is used on the loop's thread, as the runtime itself does
                    self._release()
                    if on_found is not None:
                        on_found(await self._scan(queue))
                    released_at = loop.time()
                try:
                    ident = await asyncio.wait_for(queue.get(), self.release_every_s)
                except TimeoutError:
                    continue
                self._queued.discard(ident)
                if ident in self._outstanding:
                    continue  # the same bytes again while the first copy is in flight
                try:
                    data = await asyncio.to_thread(self.spool.read, ident)
                except FileNotFoundError:
                    continue
                self._outstanding.add(ident)
                at = datetime.now(UTC)
                envelope = source_input(
                    data, SourceKind.DICOM, at, f"{label}/{ident[:16]}", DICOM_FORMAT
                )
                yield TimedInput(max(0.0, loop.time() - start), envelope)
        finally:
            self._release()
