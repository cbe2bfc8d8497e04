"""API fixtures: a deployment with a small audit log and one token per role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinflow.api.app import create_app
from clinflow.api.auth import TokenStore, api_tokens_path
from clinflow.api.settings import Settings
from clinflow.audit import AuditLog
from clinflow.config import DataDir

from .helpers import ALICE, Api, TestClient, seed_events


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
