"""API fixtures: a deployment with a small audit log and one token per role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from clinflow.api.access import AUDIT_APP, SCORING_APP
from clinflow.api.app import close_app, create_app
from clinflow.api.auth import TokenStore, api_tokens_path
from clinflow.api.settings import Limits, Settings
from clinflow.audit import AuditLog
from clinflow.config import DataDir
from clinflow.runtime.deployment import Deployment
from clinflow.scoring.app import create_app as create_scoring_app
from clinflow.scoring.service import ScoringService
from clinflow.serve_commands import serve_all_apps
from helpers.tokens import DEPLOYMENT_TOKEN, Access, make_access

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


# The matrix sends ~20 refused calls per app from one address: no rate limit in the way.
UNLIMITED = Limits(refused_burst=1_000_000)


@pytest.fixture()
def apps(deployment: DataDir) -> Iterator[tuple[Access, dict[str, tuple[str, Any, FastAPI]]]]:
    """name -> (table name, ASGI app, its FastAPI app) for every app, tokens for every role."""
    access = make_access(deployment.root, ALICE)
    settings = Settings(data_dir=deployment, limits=UNLIMITED)
    audit_api = create_app(settings)
    scoring = create_scoring_app(
        ScoringService(), authenticator=access.authenticator, limits=UNLIMITED
    )
    with Deployment.open(deployment) as opened:
        all_api, all_scoring = serve_all_apps(settings, opened, DEPLOYMENT_TOKEN)
        yield (
            access,
            {
                "audit-api": (AUDIT_APP, audit_api, audit_api),
                "scoring": (SCORING_APP, scoring, scoring.fastapi),
                "serve-all:audit-api": (AUDIT_APP, all_api, all_api),
                "serve-all:scoring": (SCORING_APP, all_scoring, all_scoring.fastapi),
            },
        )
        close_app(all_api)
    close_app(audit_api)
