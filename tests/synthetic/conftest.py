"""Small cohorts built once per session (fixed seeds) for the generator tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import SAMPLE, build


@pytest.fixture(scope="session", params=["R5", "R4B", "committed-sample"])
def small_cohort(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh small cohort per FHIR version, and the committed ``synthetic/sample`` (read only)."""
    if request.param == "committed-sample":
        return SAMPLE
    out = tmp_path_factory.mktemp(f"cohort-{request.param}")
    build(out, fhir_version=request.param)
    return out
