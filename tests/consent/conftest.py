from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clinflow.config import DataDir
from clinflow.consent.policy import ConsentPolicy, default_policy
from clinflow.consent.service import ConsentService

from .fixtures import ListAudit


@pytest.fixture()
def policy() -> ConsentPolicy:
    return default_policy()


@pytest.fixture()
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture()
def service(data_dir: Path, audit: ListAudit) -> Iterator[ConsentService]:
    svc = ConsentService(DataDir.open(data_dir), audit=audit)
    yield svc
    svc.close()
