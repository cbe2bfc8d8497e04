"""DICOMweb STOW-RS (PS3.18 section 10.5): ``POST /dicomweb/studies[/{study}]``.

The same front door as the C-STORE SCP (ADR 0026), over HTTP: a ``multipart/related;
type="application/dicom"`` body, one Part 10 instance per part. Parts stream to temporary
files in the deployment's STOW spool (``<data-dir>/sources/dicomweb-stow``), each fsync'd as
it ends; once the whole body has arrived well-formed, each instance is checked (pydicom,
``stop_before_pixels``, no ``force``: a Part 10 file with SOP Class and Instance UIDs, and
for ``/studies/{study}`` that study) and renamed to its content-id name, the folder fsync'd,
and only then the answer goes out. ``clinflow run --source stow`` ingests from the spool.

Answers (``application/dicom+json``, a Store Instances Response: ReferencedSOPSequence
(0008,1199) of the stored, FailedSOPSequence (0008,1198) with FailureReason (0008,1197) of
the others, UIDs only): 200 all stored, 202 some, 409 none; 400 a malformed multipart body
or no part (nothing stored), 415 not ``multipart/related`` of ``application/dicom``, 413 past
the streamed-body limit (nothing stored). Spool names carry no identifier; logs carry
counts and codes, never a value from a dataset.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from clinflow.api.deps import AnyPrincipal
from clinflow.api.multipart import (
    MultipartError,
    MultipartReader,
    PartData,
    PartStart,
    check_boundary,
    media_type,
)
from clinflow.api.settings import Settings
from clinflow.runtime.dicom_scp import Spool
from clinflow.runtime.dicom_stow import stow_spool

router = APIRouter(prefix="/dicomweb", tags=["dicomweb"])
log = logging.getLogger("clinflow.api")

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
# FailureReason values (PS3.18 table 10.5.3-2, PS3.4 annex B)
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH = 0xA900  # the instance does not belong to the study of the request URI
CANNOT_UNDERSTAND = 0xC000
UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
REFERENCED_SOP_SEQUENCE, FAILED_SOP_SEQUENCE = "00081199", "00081198"
SOP_CLASS, SOP_INSTANCE, FAILURE_REASON = "00081150", "00081155", "00081197"


def is_uid(value: object) -> bool:
    """A DICOM UID (PS3.5 9.1): digits and dots, at most 64 characters. Only such values are
    ever echoed back, so a dataset with text in a UID element cannot make us answer it."""
    return isinstance(value, str) and len(value) <= 64 and bool(UID_RE.match(value))


@dataclass(slots=True)
class _Part:
    """One part streamed to a temporary spool file; ``ident`` its content id once ended."""

    path: Path
    handle: IO[bytes]
    media: str | None
    digest: Any = field(default_factory=hashlib.sha256)
    ident: str = ""

    @classmethod
    def open(cls, spool: Spool, headers: dict[str, str]) -> _Part:
        path = spool.partial()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        declared = headers.get("content-type")
        media = media_type(declared)[0] if declared else None
        return cls(path, os.fdopen(fd, "wb"), media)

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.digest.update(data)

    def finish(self) -> None:
        """Flush and fsync (a worker thread): the bytes are on disk before any answer."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self.ident = self.digest.hexdigest()[:32]  # == envelope.content_message_id

    def discard(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Outcome:
    sop_class: str | None
    sop_instance: str | None
    failure: int | None = None  # None: stored


def _check(part: _Part, study: str | None) -> Outcome:
    """SOP Class/Instance UIDs of a Part 10 instance, or why it is refused (no values)."""
    from pydicom import dcmread

    if part.media is not None and part.media != DICOM:
        return Outcome(None, None, CANNOT_UNDERSTAND)
    try:
        ds = dcmread(part.path, stop_before_pixels=True, force=False)
        sop_class = str(ds.get("SOPClassUID", "") or ds.file_meta.get("MediaStorageSOPClassUID"))
        sop_instance = str(ds.get("SOPInstanceUID", "") or "")
        study_uid = str(ds.get("StudyInstanceUID", "") or "")
    except Exception:  # noqa: BLE001 - anything unreadable is "cannot understand", never a 500
        return Outcome(None, None, CANNOT_UNDERSTAND)
    if not (is_uid(sop_class) and is_uid(sop_instance)):
        return Outcome(None, None, CANNOT_UNDERSTAND)
    if study is not None and study_uid != study:
        return Outcome(sop_class, sop_instance, DOES_NOT_MATCH)
    return Outcome(sop_class, sop_instance)


def _settle(spool: Spool, parts: list[_Part], study: str | None) -> list[Outcome]:
    """Check every part; move the good ones to their spool names; one fsync of the folder."""
    outcomes: list[Outcome] = []
    for part in parts:
        outcome = _check(part, study)
        if outcome.failure is None:
            try:
                spool.commit(part.path, part.ident)
            except OSError:
                outcome = Outcome(outcome.sop_class, outcome.sop_instance, OUT_OF_RESOURCES)
        if outcome.failure is not None:
            part.discard()
        outcomes.append(outcome)
    if any(o.failure is None for o in outcomes):
        try:
            spool.sync()
        except OSError:  # the renames may not survive a crash: report none as stored
            outcomes = [Outcome(o.sop_class, o.sop_instance, o.failure or OUT_OF_RESOURCES)
                        for o in outcomes]  # fmt: skip
    return outcomes


def response_body(outcomes: list[Outcome]) -> dict[str, Any]:
    """The Store Instances Response as DICOM JSON (PS3.18 F.2): UIDs and reasons only."""

    def item(outcome: Outcome) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if outcome.sop_class is not None:
            found[SOP_CLASS] = {"vr": "UI", "Value": [outcome.sop_class]}
        if outcome.sop_instance is not None:
            found[SOP_INSTANCE] = {"vr": "UI", "Value": [outcome.sop_instance]}
        if outcome.failure is not None:
            found[FAILURE_REASON] = {"vr": "US", "Value": [outcome.failure]}
        return found

    body: dict[str, Any] = {}
    stored = [item(o) for o in outcomes if o.failure is None]
    failed = [item(o) for o in outcomes if o.failure is not None]
    if stored:
        body[REFERENCED_SOP_SEQUENCE] = {"vr": "SQ", "Value": stored}
    if failed:
        body[FAILED_SOP_SEQUENCE] = {"vr": "SQ", "Value": failed}
    return body


def _answer(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=DICOM_JSON)


def _refuse(status: int, detail: str) -> Response:
    return Response(orjson.dumps({"detail": detail}), status_code=status,
                    media_type="application/json")  # fmt: skip


def _boundary(content_type: str) -> bytes | Response:
    kind, params = media_type(content_type)
    if kind != "multipart/related" or params.get("type", DICOM).lower() != DICOM:
        return _refuse(415, 'expected Content-Type multipart/related; type="application/dicom"')
    try:
        return check_boundary(params.get("boundary", ""))
    except MultipartError as exc:
        return _refuse(400, f"Content-Type: {exc}")


async def _receive_parts(request: Request, spool: Spool, boundary: bytes) -> list[_Part]:
    """Stream the body's parts to fsync'd temporary files (removed again if anything fails)."""
    reader = MultipartReader(boundary)
    parts: list[_Part] = []
    current: _Part | None = None
    try:
        async for chunk in request.stream():
            for event in reader.feed(chunk):
                if isinstance(event, PartStart):
                    current = _Part.open(spool, event.headers)
                elif current is None:
                    raise MultipartError("part data outside a part")
                elif isinstance(event, PartData):
                    current.write(event.data)
                else:
                    part, current = current, None
                    parts.append(part)
                    await run_in_threadpool(part.finish)
        reader.close()
    except BaseException:
        for part in (*parts, *([current] if current is not None else [])):
            part.discard()
        raise
    return parts


async def _store(request: Request, study: str | None) -> Response:
    if study is not None and not is_uid(study):
        return _refuse(400, "study: not a DICOM UID (digits and dots, at most 64 characters)")
    boundary = _boundary(request.headers.get("content-type", ""))
    if isinstance(boundary, Response):
        return boundary
    settings: Settings = request.app.state.settings
    spool = Spool(stow_spool(settings.data_dir.root))
    try:
        parts = await _receive_parts(request, spool, boundary)
    except MultipartError as exc:
        return _refuse(400, f"multipart body: {exc}; nothing stored")
    except ClientDisconnect:  # the client left mid-body: nothing stored, nobody to answer
        return _refuse(400, "client disconnected before the end of the body; nothing stored")
    except OSError as exc:  # the spool cannot take them (disk full, folder gone)
        log.warning("stow-rs: cannot spool (%s)", type(exc).__name__)
        return _refuse(503, "cannot store the instances now; nothing stored, retry later")
    if not parts:
        return _refuse(400, "multipart body: no instance; nothing stored")
    outcomes = await run_in_threadpool(_settle, spool, parts, study)
    stored = sum(o.failure is None for o in outcomes)
    request.state.result_count = stored
    reasons = sorted({f"{o.failure:#06x}" for o in outcomes if o.failure is not None})
    log.info("stow-rs: %d stored, %d failed %s", stored, len(outcomes) - stored, reasons)
    status = 200 if stored == len(outcomes) else 202 if stored else 409
    return _answer(status, response_body(outcomes))


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "every instance stored (ReferencedSOPSequence)"},
    202: {"description": "some stored, some failed (FailedSOPSequence with FailureReason)"},
    400: {"description": "malformed multipart body or no instance: nothing stored"},
    409: {"description": "no instance stored (FailedSOPSequence with FailureReason)"},
    413: {"description": "body past CLINFLOW_HTTP_MAX_STREAMED_BODY: nothing stored"},
    415: {"description": 'not multipart/related; type="application/dicom"'},
}


@router.post(
    "/studies", summary="Store instances (DICOMweb STOW-RS)", responses=_RESPONSES,
    response_class=Response,
)  # fmt: skip
async def store_instances(request: Request, principal: AnyPrincipal) -> Response:
    return await _store(request, None)


@router.post(
    "/studies/{study}", summary="Store instances of one study (DICOMweb STOW-RS)",
    responses=_RESPONSES, response_class=Response,
)  # fmt: skip
async def store_study_instances(study: str, request: Request, principal: AnyPrincipal) -> Response:
    return await _store(request, study)
