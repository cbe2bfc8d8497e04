"""Lab tests share one workspace per test run; lab 1's demo run is copied for labs 4 and 5."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import Transcript, run_blocks

# Files only lab 1 makes: not copied into the labs that reuse its demo run.
LAB1_ONLY = ("answers.yaml", "raw-leaks.json", "gen-a", "gen-b")
TOOLS = ("jq", "sqlite3", "curl")


@pytest.fixture(scope="package", autouse=True)
def no_clinflow_environment() -> Iterator[None]:
    """Keys and data directories come from the labs' folders, never from the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("CLINFLOW_")]:
            patch.delenv(name)
        yield


@pytest.fixture(scope="package")
def after_steps(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[int], tuple[Path, Transcript]]:
    """``after_steps(N)``: a folder where lab N's steps ran as written (once per session)."""
    from clinflow.labs.catalog import find_lab

    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:  # Debian packages the labs' commands use, as a student's machine has them
        reason = f"the labs need {', '.join(missing)}: apt-get install {' '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    done: dict[int, tuple[Path, Transcript]] = {}

    def prepare(number: int) -> tuple[Path, Transcript]:
        if number not in done:
            folder = tmp_path_factory.mktemp(f"lab{number}")
            if number in (4, 5):  # lab start reuses a demo run it finds
                source = prepare(1)[0] / "lab1"
                shutil.copytree(
                    source, folder / f"lab{number}", ignore=shutil.ignore_patterns(*LAB1_ONLY)
                )
            done[number] = folder, run_blocks(find_lab(number).steps, folder)
        return done[number]

    return prepare
