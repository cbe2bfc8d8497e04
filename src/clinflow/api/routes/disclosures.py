"""``/audit/patients/{patient}/disclosures``: a patient's accounting of disclosures.

45 CFR 164.528: for each disclosure, the date, the recipient, what was disclosed and the
purpose. Built from the log's ``disclose`` entries for the patient and for every patient
record merged into it (HL7 v2 ADT^A40, ADR 0102): each disclosure names the pseudonym it was
made under, the accounting lists the merged ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from clinflow.api.deps import AuditLogDep, ContentReader, get_settings
from clinflow.api.routes._common import check_patient_param, instant, scope_patient
from clinflow.audit.events import PURPOSES, EventCode
from clinflow.audit.log import AuditLog
from clinflow.audit.store import SearchQuery
from clinflow.patient_merges import covering_in

router = APIRouter(prefix="/audit/patients", tags=["accounting of disclosures"])

PAGE = 1000
MAX_ROWS = 50_000


class Disclosure(BaseModel):
    index: int
    patient: str | None = None  # the pseudonym disclosed under (a merged record's, or the own)
    when: str
    recipient: str | None
    purpose: str | None
    purpose_display: str | None
    released: list[str]  # message ids (pseudonymous)
    data_categories: list[str]
    released_by: str | None
    outcome: str | None


class Accounting(BaseModel):
    patient: str
    disclosures: list[Disclosure]
    merged_patients: list[str] = []  # records merged into this patient, covered above


def _who(agent: dict[str, Any]) -> str | None:
    value = agent.get("who", {}).get("identifier", {}).get("value")
    return value if isinstance(value, str) else None


def _disclosure(index: int, event: dict[str, Any]) -> Disclosure:
    agents = event.get("agent", [])
    recipient = next((_who(a) for a in agents if not a.get("requestor")), None)
    released_by = next((_who(a) for a in agents if a.get("requestor")), None)
    auth = event.get("authorization", [])
    purpose = auth[0]["coding"][0]["code"] if auth else None
    released: list[str] = []
    categories: list[str] = []
    for entity in event.get("entity", []):
        released.append(entity.get("what", {}).get("identifier", {}).get("value", ""))
        for detail in entity.get("detail", []):
            if detail.get("type", {}).get("coding", [{}])[0].get("code") == "data-categories":
                for item in str(detail.get("valueString", "")).split(","):
                    if item and item not in categories:
                        categories.append(item)
    patient = event.get("patient", {}).get("reference", "")
    return Disclosure(
        index=index,
        patient=patient.removeprefix("Patient/") or None,
        when=event.get("recorded", ""),
        recipient=recipient,
        purpose=purpose,
        purpose_display=PURPOSES.get(purpose or ""),
        released=released,
        data_categories=categories,
        released_by=released_by,
        outcome=event.get("outcome", {}).get("code", {}).get("code"),
    )


@router.get("/{patient}/disclosures", response_model=Accounting, summary="Accounting")
def accounting_of_disclosures(
    request: Request,
    principal: ContentReader,
    log: AuditLogDep,
    patient: Annotated[str, Path(max_length=80, description="Patient pseudonym (PT-…)")],
    date_from: Annotated[datetime | None, Query(alias="date-from")] = None,
    date_to: Annotated[datetime | None, Query(alias="date-to")] = None,
) -> Accounting:
    """Every disclosure of the patient's data: when, to whom, what, for which purpose."""
    scoped = scope_patient(principal, check_patient_param(patient))
    assert scoped is not None
    request.state.audit_patient = scoped
    since, until = instant(date_from, "date-from"), instant(date_to, "date-to")
    # the records merged into this patient (ADR 0102) are its history too
    covering = covering_in(get_settings(request).data_dir.lineage_db, scoped)
    found: list[Disclosure] = []
    for who in covering:
        found.extend(_disclosures(log, who, since, until, MAX_ROWS - len(found)))
    found.sort(key=lambda disclosure: disclosure.index)
    request.state.result_count = len(found)
    return Accounting(patient=scoped, disclosures=found, merged_patients=covering[1:])


def _disclosures(
    log: AuditLog, patient: str, since: str | None, until: str | None, most: int
) -> list[Disclosure]:
    found: list[Disclosure] = []
    after: int | None = None
    while len(found) < most:
        rows = log.search(
            SearchQuery(
                patient=patient,
                code=EventCode.DISCLOSE.value,
                since=since,
                until=until,
                after=after,
                limit=PAGE,
            )
        )
        found.extend(_disclosure(idx, orjson.loads(entry)) for idx, entry in rows)
        if len(rows) < PAGE:
            break
        after = rows[-1][0]
    return found
