"""``/audit/events``: search AuditEvents and read one entry with its inclusion proof."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from clinflow.api.deps import AuditLogDep, ContentReader, SettingsDep, get_settings
from clinflow.api.errors import BadParameter, NotFound
from clinflow.api.routes._common import (
    b64,
    check_patient_param,
    decode_cursor,
    encode_cursor,
    instant,
    scope_patient,
)
from clinflow.audit.events import KIND_RE, PURPOSES, Action, EventCode, Outcome
from clinflow.audit.search_fields import index_fields
from clinflow.audit.store import SearchQuery
from clinflow.patient_merges import covering_in

router = APIRouter(prefix="/audit/events", tags=["audit events"])


class OutputFormat(StrEnum):
    BUNDLE = "bundle"
    JSON = "json"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    root_hash: str  # base64
    hashes: list[str]  # base64, leaf-to-root (RFC 9162 §2.1.3)
    checkpoint: str | None  # the signed note whose root this proof reaches, if any


class EntryPublic(BaseModel):
    index: int
    leaf_hash: str  # base64 SHA-256(0x00 || entry)
    entry: str  # the canonical JSON bytes, exactly as hashed
    event: dict[str, Any]
    inclusion_proof: InclusionProof


@router.get(
    "",
    response_model=None,
    response_class=Response,
    summary="Search AuditEvents",
    responses={
        200: {
            "description": "A FHIR searchset Bundle (format=bundle) or "
            '{"items": [{"index", "event"}], "next_cursor"} (format=json).',
            "content": {"application/fhir+json": {}, "application/json": {}},
        }
    },
)
def search_events(
    request: Request,
    principal: ContentReader,
    log: AuditLogDep,
    settings: SettingsDep,
    patient: Annotated[str | None, Query(description="Patient pseudonym (PT-…)")] = None,
    agent: Annotated[str | None, Query(description="Requesting agent (who)")] = None,
    action: Annotated[Action | None, Query(description="C, R, U, D or E")] = None,
    code: Annotated[EventCode | None, Query(description="clinflow event code")] = None,
    purpose: Annotated[str | None, Query(description="v3 ActReason purpose of use")] = None,
    entity_type: Annotated[str | None, Query(alias="entity-type")] = None,
    outcome: Annotated[Outcome | None, Query(description="0, 4, 8 or 12")] = None,
    date_from: Annotated[datetime | None, Query(alias="date-from")] = None,
    date_to: Annotated[datetime | None, Query(alias="date-to")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: SortOrder = SortOrder.ASC,
    output: Annotated[OutputFormat, Query(alias="format")] = OutputFormat.BUNDLE,
) -> Response:
    """Search entries (cursor-paginated); a FHIR searchset Bundle or plain JSON."""
    if purpose is not None and purpose not in PURPOSES:
        raise BadParameter("purpose", f"must be one of {', '.join(sorted(PURPOSES))}")
    if entity_type is not None and not KIND_RE.match(entity_type):
        raise BadParameter("entity-type", "must be a lower-case entity kind such as message")
    descending = sort is SortOrder.DESC
    scoped = scope_patient(principal, check_patient_param(patient))
    # a patient's trail includes the records merged into it (ADR 0102)
    covering = covering_in(settings.data_dir.lineage_db, scoped) if scoped else []
    query = SearchQuery(
        patient=scoped,
        merged=tuple(covering[1:]),
        agent=agent,
        action=action.value if action else None,
        code=code.value if code else None,
        purpose=purpose,
        outcome=outcome.value if outcome else None,
        entity_type=entity_type,
        since=instant(date_from, "date-from"),
        until=instant(date_to, "date-to"),
        after=decode_cursor(cursor, descending) if cursor else None,
        limit=min(limit, settings.max_page),
        descending=descending,
    )
    rows = log.search(query)
    request.state.result_count = len(rows)
    request.state.audit_patient = query.patient
    next_cursor = encode_cursor(rows[-1][0], descending) if len(rows) == query.limit else None
    if output is OutputFormat.JSON:
        plain = {
            "items": [{"index": idx, "event": orjson.loads(entry)} for idx, entry in rows],
            "next_cursor": next_cursor,
        }
        # Serialised by orjson directly: the entries are already plain JSON values.
        return Response(orjson.dumps(plain), media_type="application/json")
    base = str(request.base_url).rstrip("/")
    links = [{"relation": "self", "url": str(request.url)}]
    if next_cursor:
        links.append(
            {"relation": "next", "url": str(request.url.include_query_params(cursor=next_cursor))}
        )
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/audit/events/{idx}",
                "resource": {**orjson.loads(entry), "id": str(idx)},
                "search": {"mode": "match"},
            }
            for idx, entry in rows
        ],
    }
    return Response(orjson.dumps(bundle), media_type="application/fhir+json")


@router.get("/{index}", response_model=EntryPublic, summary="One entry with its inclusion proof")
def get_event(
    request: Request,
    principal: ContentReader,
    log: AuditLogDep,
    index: Annotated[int, Path(ge=0, le=2**53)],
) -> EntryPublic:
    """The stored canonical entry, its leaf hash and an inclusion proof to the latest signed
    checkpoint (or to the current tree when the entry is newer than it)."""
    entry = log.get_entry(index)
    if entry is None:
        raise NotFound(f"entry {index} not found")
    event = orjson.loads(entry)
    patient = index_fields(event).patient
    request.state.audit_patient = patient
    scope = scope_patient(principal, None)
    if scope not in (None, patient) and (
        patient is None  # a patient token reads its own trail: merged records' too (ADR 0102)
        or patient not in covering_in(get_settings(request).data_dir.lineage_db, scope or "")
    ):
        raise NotFound(f"entry {index} not found")
    log.refresh()
    latest = log.latest_checkpoint()
    if latest is not None and index < latest.size <= log.size:
        size, note = latest.size, latest.note
    else:
        size, note = log.size, None
    request.state.result_count = 1
    return EntryPublic(
        index=index,
        leaf_hash=b64(log.leaf_hash(index)),
        entry=entry.decode(),
        event=event,
        inclusion_proof=InclusionProof(
            leaf_index=index,
            tree_size=size,
            root_hash=b64(log.root(size)),
            hashes=[b64(h) for h in log.inclusion_proof(index, size)],
            checkpoint=note,
        ),
    )
