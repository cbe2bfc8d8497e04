"""API fixtures: a deployment with a small audit log and one token per role."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # Starlette >= 1.x warns at import when its TestClient runs on httpx rather than httpx2;
    # behaviour is the same, and we do not add httpx2 to the shared environment for a warning.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

from clinflow.api.app import create_app
from clinflow.api.auth import TokenStore, api_tokens_path
from clinflow.api.settings import Settings
from clinflow.audit import AuditLog, events
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


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the seeded log once (41 fsynced appends); each test gets a copy."""
    root = tmp_path_factory.mktemp("audit-template") / "data"
    template = DataDir.open(root)
    seeded = seed_events()
    with AuditLog.open(template, checkpoint_every=16, batch_wait=0) as log:
        log.append_many(seeded[:16])
        log.append_many(seeded[16:32])
        log.append_many(seeded[32:])
    return root


@pytest.fixture()
def deployment(data_dir: Path, seeded_template: Path) -> DataDir:
    shutil.copytree(seeded_template, data_dir)
    return DataDir.open(data_dir)


@pytest.fixture()
def api(deployment: DataDir) -> Iterator[Api]:
    store = TokenStore(api_tokens_path(deployment))
    tokens = {
        "auditor": store.create("auditor")[1],
        "privacy_officer": store.create("privacy_officer")[1],
        "service": store.create("service")[1],
        "patient": store.create("patient", ALICE)[1],
    }
    revoked_id, tokens["revoked"] = store.create("auditor")
    store.revoke(revoked_id)
    store.close()
    app = create_app(Settings(data_dir=deployment))
    with TestClient(app) as client:
        yield Api(client, tokens, deployment)
