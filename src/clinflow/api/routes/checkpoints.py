"""``/audit/checkpoint``: the latest signed checkpoint and the verifier key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from clinflow.api.deps import AnyPrincipal, AuditLogDep
from clinflow.api.errors import NotFound
from clinflow.api.routes._common import b64
from clinflow.audit.checkpoint import Checkpoint

router = APIRouter(prefix="/audit", tags=["checkpoints"])


class CheckpointPublic(BaseModel):
    origin: str
    tree_size: int
    root_hash: str  # base64
    note: str  # C2SP signed note: verify with the vkey
    signed_at: str


class VerifierKey(BaseModel):
    vkey: str  # C2SP <name>+<hex key id>+<base64(0x01 || Ed25519 public key)>


@router.get("/checkpoint", response_model=CheckpointPublic, summary="Latest signed checkpoint")
def latest_checkpoint(principal: AnyPrincipal, log: AuditLogDep) -> CheckpointPublic:
    latest = log.latest_checkpoint()
    if latest is None:
        raise NotFound("no checkpoint signed yet")
    body = latest.note[: latest.note.rfind("\n\n") + 1]
    checkpoint = Checkpoint.parse(body)
    return CheckpointPublic(
        origin=checkpoint.origin,
        tree_size=checkpoint.size,
        root_hash=b64(checkpoint.root),
        note=latest.note,
        signed_at=latest.signed_at,
    )


@router.get("/pubkey", response_model=VerifierKey, summary="Checkpoint verifier key")
def verifier_key(principal: AnyPrincipal, log: AuditLogDep) -> VerifierKey:
    return VerifierKey(vkey=log.vkey())
