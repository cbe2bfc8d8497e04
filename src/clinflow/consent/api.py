"""``/consent`` API routes: a patient's consent state, and revoke returning the receipt.

The router depends on nothing global: ``get_consent_service`` is a FastAPI dependency the app
overrides (``app.dependency_overrides[get_consent_service] = ...``); by default it opens the
service on ``CLINFLOW_DATA_DIR`` once per process. Authentication and auditing of API calls
belong to the app that includes this router.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from clinflow.audit.events import Agent
from clinflow.config import DataDir
from clinflow.consent.service import ConsentService
from clinflow.errors import ConfigError
from clinflow.patient_ids import PSEUDONYM_PATTERN


@lru_cache(maxsize=1)
def _default_service() -> ConsentService:
    """The consent service of the deployment in ``CLINFLOW_DATA_DIR`` (opened once)."""
    from clinflow.runtime.deployment import Deployment

    return Deployment.open(DataDir.open()).consent


def get_consent_service() -> ConsentService:
    """Dependency: the ConsentService (override it in the app or in tests)."""
    return _default_service()


def get_requester() -> str | Agent:
    """Dependency: who asks (the AuditEvent agent of a revocation); the app including this
    router overrides it with the authenticated caller."""
    return "clinflow-api"


ConsentServiceDep = Annotated[ConsentService, Depends(get_consent_service)]
RequesterDep = Annotated["str | Agent", Depends(get_requester)]
PatientPath = Annotated[
    str, Path(pattern=PSEUDONYM_PATTERN, description="Patient pseudonym (PT-<hex>).")
]


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purposes: list[str] = Field(
        default_factory=list, description="ActReason codes; empty revokes every revocable one."
    )
    retroactive: bool = Field(True, description="Also purge data released before now.")


class DecisionPublic(BaseModel):
    decision: str
    source: str
    reason: str


class ConsentStatePublic(BaseModel):
    patient: str
    version: int
    consents: list[dict[str, Any]]
    revocations: list[dict[str, Any]]
    decisions: dict[str, DecisionPublic]
    receipts: list[str]
    merged_patients: list[str] = []  # records merged into this patient (ADR 0102)
    merged_into: str | None = None  # the surviving patient, when this record was merged


router = APIRouter(prefix="/consent", tags=["consent"])


@router.get("/{patient}", response_model=ConsentStatePublic)
def consent_state(
    patient: PatientPath,
    service: ConsentServiceDep,
) -> dict[str, Any]:
    """Consent state of a patient (pseudonym): consents, revocations, decision per purpose."""
    return service.status(patient)


@router.post("/{patient}/revoke")
def consent_revoke(
    patient: PatientPath,
    body: RevokeRequest,
    service: ConsentServiceDep,
    requester: RequesterDep,
) -> dict[str, Any]:
    """Revoke consent and return the revocation receipt (idempotent)."""
    try:
        receipt = service.revoke(
            patient,
            body.purposes or None,
            retroactive=body.retroactive,
            requested_by=requester,
        )
    except ConfigError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return receipt.to_dict()


@router.get("/{patient}/receipts")
def consent_receipts(
    patient: PatientPath,
    service: ConsentServiceDep,
) -> list[dict[str, Any]]:
    """Every revocation receipt of a patient."""
    return [receipt.to_dict() for receipt in service.revocations.receipts(patient)]
