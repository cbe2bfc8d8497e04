from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clinflow.config import DataDir
from clinflow.consent.policy import ConsentPolicy, default_policy
from clinflow.consent.service import ConsentService
from clinflow.runtime.deployment import Deployment
from helpers.fakes import RecordingAuditSink


@pytest.fixture()
def policy() -> ConsentPolicy:
    return default_policy()


@pytest.fixture()
def audit() -> RecordingAuditSink:
    return RecordingAuditSink()


@pytest.fixture()
def service(data_dir: Path, audit: RecordingAuditSink) -> Iterator[ConsentService]:
    """The consent service as the composition root builds it (stores of one data dir)."""
    with Deployment.open(DataDir.open(data_dir), audit=audit) as deployment:
        yield deployment.consent
