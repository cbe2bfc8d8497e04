"""Shared fixtures: isolated data directories and keys from the environment, never from code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.postgres import require_postgres


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh deployment data directory; keys are created in it on first use."""
    root = tmp_path / "data"
    monkeypatch.setenv("CLINFLOW_DATA_DIR", str(root))
    from clinflow.crypto.keys import ENV_VARS

    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    yield root


@pytest.fixture()
def postgres_dsn() -> str:
    """A reachable PostgreSQL's DSN; fails under CI=true and skips elsewhere when there is none."""
    return require_postgres()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest -n 2 --dist loadgroup`` (``make test``) the broker tests share one
    worker, one at a time: each starts its own broker and consumer groups, and two at once on
    a 2-core machine only lengthen their group joins."""
    for item in items:
        if item.get_closest_marker("broker") is not None:
            item.add_marker(pytest.mark.xdist_group("broker"))
