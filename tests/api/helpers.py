"""Helpers for the API tests: two patients, a client wrapper, and the seeded audit events."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

with warnings.catch_warnings():
    # Starlette >= 1.x warns at import when its TestClient runs on httpx rather than httpx2;
    # behaviour is the same, and we do not add httpx2 to the shared environment for a warning.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

from clinflow.api.access import SCORING_APP, Rule, Scope
from clinflow.api.auth import Role
from clinflow.audit import events
from clinflow.config import DataDir

ALICE = "PT-00000000000000a1"
BOB = "PT-00000000000000b2"


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]
    data_dir: DataDir

    def get(self, url: str, role: str | None = None, **params: object):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return self.client.get(url, params=params or None, headers=headers)  # type: ignore[arg-type]


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def seed_events() -> list[events.AuditEvent]:
    """41 events, entry k recorded at T0 + k minutes."""
    out: list[events.AuditEvent] = []
    for i in range(30):
        patient = ALICE if i % 2 == 0 else BOB
        out.append(
            events.ingest(
                patient=patient, message_id=f"m{i}", source_kind="fhir", recorded=at(len(out))
            )
        )
        if i % 3 == 0:
            out.append(
                events.disclosure(
                    patient=patient,
                    recipient="research-store" if i % 2 else "triage",
                    purpose="HRESCH" if i % 2 else "TREAT",
                    message_ids=[f"m{i}"],
                    data_categories=["vitals"],
                    recorded=at(len(out)),
                )
            )
    out.append(
        events.consent_decision(
            patient=BOB, decision="deny", purpose="HRESCH", recipient="x", recorded=at(len(out))
        )
    )
    return out


# ---- access matrix and reliability figures -----------------------------------------------------

CALLERS = (
    None, "revoked", "auditor", "privacy_officer", "service", "patient", "other_patient",
    "scoring", "deployment",
)  # fmt: skip
SAMPLE_PARAMS = {
    "patient": ALICE, "index": "0", "alert_id": "alert-unknown", "study": "1.2.826.0.1.3680043.2.1"
}  # fmt: skip
SAMPLE_BODIES: dict[tuple[str, str], bytes] = {
    ("POST", "/consent/{patient}/revoke"): b'{"purposes": ["HRESCH"]}',
    ("POST", "/alerts/{alert_id}/acknowledge"): b'{"acknowledged_by": "rrt-nurse"}',
    ("POST", "/patients/{patient}/retractions"): b'{"reason": "consent-revoked"}',
}


def expected_outcome(rule: Rule, caller: str | None, app: str) -> str:
    """What the declared table says a caller gets: ``allowed`` (the route answers: 2xx, 404,
    422...), ``401`` or ``403``. The deployment token is a credential of the scoring service
    only (the audit API does not know it)."""
    if rule.public:
        return "allowed"
    if caller in (None, "revoked") or (caller == "deployment" and app != SCORING_APP):
        return "401"
    role = Role.PATIENT if caller == "other_patient" else Role(caller)
    if role not in rule.roles:
        return "403"
    if caller == "other_patient" and rule.scope is Scope.PATH:
        return "403"  # SAMPLE_PARAMS name the ``patient`` token's patient
    return "allowed"


def actual_outcome(status: int) -> str:
    return str(status) if status in (401, 403) else "allowed" if status < 500 else str(status)


def report_figures(key: str, figures: object) -> None:
    """Merge ``figures`` under ``key`` into the JSON file named by CLINFLOW_RELIABILITY_OUT
    (docs/reliability.md is regenerated from it); nothing when the variable is unset."""
    target = os.environ.get("CLINFLOW_RELIABILITY_OUT")
    if not target:
        return
    path = Path(target)
    current = orjson.loads(path.read_bytes()) if path.exists() else {}
    current[key] = figures
    path.write_bytes(orjson.dumps(current, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
