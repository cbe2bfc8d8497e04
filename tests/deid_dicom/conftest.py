"""Fixtures for DICOM de-identification tests: a small generated corpus and engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.deid.dicom.profile import compile_policy
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.synthetic.dicom.corpus import build_corpus

from .helpers import KEY_A


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, int]]:
    """Two patients with every modality: (dicom folder, manifest, file count)."""
    root = tmp_path_factory.mktemp("corpus")
    manifest, files = build_corpus(root, patients=2, seed=11)
    yield root / "dicom", manifest, files


@pytest.fixture(scope="session")
def engine() -> DicomDeidentifier:
    return DicomDeidentifier(compile_policy(), Pseudonymizer(KEY_A))
