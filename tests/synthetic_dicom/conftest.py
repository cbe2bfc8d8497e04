"""A small generated DICOM cohort shared by the tests of this folder."""

from __future__ import annotations

import pytest

from .helpers import Generated, generate


@pytest.fixture(scope="package")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("dicom-cohort"), seed=11)
