"""Helpers shared by routes: cursors, instants, patient scoping, proof encoding."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import orjson

from clinflow.api.auth import Principal, Role
from clinflow.api.errors import BadParameter, Forbidden
from clinflow.audit.events import format_instant
from clinflow.patient_ids import PSEUDONYM_RE

MAX_INDEX = 2**53  # the largest leaf index any route accepts


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encode_cursor(index: int, descending: bool) -> str:
    raw = orjson.dumps({"after": index, "desc": descending})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, descending: bool) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
        after = data["after"]
        same_order = data["desc"] is descending
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise BadParameter("cursor", "not a cursor returned by this API") from exc
    # Leaf indices are below 2**53 (the proofs' bound): a larger ``after`` (SQLite integers
    # stop at 2**63 - 1) was not issued by this API.
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_INDEX:
        raise BadParameter("cursor", "not a cursor returned by this API")
    if not same_order:
        raise BadParameter("cursor", "was issued for the other sort order")
    return after


def instant(value: datetime | None, parameter: str) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise BadParameter(parameter, "needs a timezone (e.g. 2026-01-31T00:00:00Z)")
    try:
        return format_instant(value)
    except (ValueError, OverflowError) as exc:
        raise BadParameter(parameter, "not a valid instant") from exc


def check_patient_param(patient: str | None) -> str | None:
    if patient is not None and not PSEUDONYM_RE.match(patient):
        raise BadParameter("patient", "must be a patient pseudonym like PT-<hex>")
    return patient


def scope_patient(principal: Principal, patient: str | None) -> str | None:
    """A patient-scoped token sees only its patient; others see what they ask for."""
    if principal.role is Role.PATIENT:
        if patient is not None and patient != principal.patient:
            raise Forbidden("this token is scoped to another patient")
        return principal.patient
    return patient
