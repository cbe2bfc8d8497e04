"""Helpers for the API tests: two patients, a client wrapper, and the seeded audit events."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

with warnings.catch_warnings():
    # Starlette >= 1.x warns at import when its TestClient runs on httpx rather than httpx2;
    # behaviour is the same, and we do not add httpx2 to the shared environment for a warning.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

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
