"""``/audit/proofs``: RFC 9162 inclusion and consistency proofs (hashes only, any role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from clinflow.api.deps import AnyPrincipal, AuditLogDep
from clinflow.api.errors import BadParameter
from clinflow.api.routes._common import b64

router = APIRouter(prefix="/audit/proofs", tags=["proofs"])

MAX_SIZE = 2**53


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str  # base64
    second_root: str  # base64
    hashes: list[str]  # base64, RFC 9162 §2.1.4 order


class InclusionHashes(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    hashes: list[str]


def _size(log_size: int, value: int | None, name: str) -> int:
    if value is None:
        return log_size
    if value > log_size:
        raise BadParameter(name, f"exceeds the current tree size {log_size}")
    return value


@router.get("/consistency", response_model=ConsistencyProof, summary="Consistency proof")
def consistency(
    request: Request,
    principal: AnyPrincipal,
    log: AuditLogDep,
    first: Annotated[int, Query(ge=0, le=MAX_SIZE, description="Older tree size")],
    second: Annotated[
        int | None, Query(ge=0, le=MAX_SIZE, description="Newer tree size (default: current)")
    ] = None,
) -> ConsistencyProof:
    """PROOF(first, D[0:second]) so a verifier holding a checkpoint of size ``first`` can check
    the log only grew."""
    size = log.refresh()
    second_size = _size(size, second, "second")
    if first > second_size:
        raise BadParameter("first", f"must not exceed second ({second_size})")
    return ConsistencyProof(
        first=first,
        second=second_size,
        first_root=b64(log.root(first)),
        second_root=b64(log.root(second_size)),
        hashes=[b64(h) for h in log.consistency_proof(first, second_size)],
    )


@router.get("/inclusion", response_model=InclusionHashes, summary="Inclusion proof (hashes)")
def inclusion(
    request: Request,
    principal: AnyPrincipal,
    log: AuditLogDep,
    index: Annotated[int, Query(ge=0, le=MAX_SIZE, description="Leaf index")],
    tree_size: Annotated[int | None, Query(alias="tree-size", ge=1, le=MAX_SIZE)] = None,
) -> InclusionHashes:
    """PATH(index, D[0:tree-size]) without the entry itself (for services verifying)."""
    size = _size(log.refresh(), tree_size, "tree-size")
    if index >= size:
        raise BadParameter("index", f"must be below the tree size {size}")
    return InclusionHashes(
        leaf_index=index,
        tree_size=size,
        leaf_hash=b64(log.leaf_hash(index)),
        root_hash=b64(log.root(size)),
        hashes=[b64(h) for h in log.inclusion_proof(index, size)],
    )
