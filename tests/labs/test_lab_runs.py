"""CI runs every lab's steps as written, then `clinflow lab check N`: the unsolved start
fails naming what is wrong (with a hint, no identifier, no traceback), the instructor's
expected solution passes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clinflow.labs.catalog import find_lab

from .helpers import Transcript, assert_no_phi, check, run_blocks

# Each runs pipelines, servers or replays (seconds each). One xdist worker runs them all: the
# labs' servers listen on the fixed ports their text names (8705, 8706), and the package-scoped
# ``after_steps`` would otherwise run a lab's steps on both workers at once -- two lab-5 API
# servers on one port, one student's curl reaching the other's server (a 401, no proof).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("labs")]

# What `lab check N` must name right after the steps (before the exercise is done).
UNSOLVED = {
    1: "'raw_residual' is not filled in",
    2: "lab2/site-policy.yaml still leaks",
    3: "lab3/site-text.yaml: recall",
    4: "lab4/receipt.json is missing",
    5: "verify_proof.py rejects a valid proof of entry 0",
    6: "lab6/refused.json is missing",
    7: "lab7/faults/report.json is missing",
}
# Where each lab's ground truth is (the check's output must not contain its identifiers).
MANIFEST = {1: "cohort", 2: "cohort", 3: "cohort", 4: "cohort", 5: "cohort"}

Prepared = Callable[[int], tuple[Path, Transcript]]


def manifest_of(folder: Path, number: int) -> Path | None:
    where = MANIFEST.get(number)
    return folder / f"lab{number}" / where / "manifest.ndjson" if where else None


@pytest.mark.parametrize("number", sorted(UNSOLVED))
def test_unsolved_start_fails_naming_what_is_wrong(after_steps: Prepared, number: int) -> None:
    folder, _ = after_steps(number)
    code, printed = check(number, folder)
    assert code == 1, printed
    assert UNSOLVED[number] in " ".join(printed.split()), printed
    assert "hint:" in printed and "Traceback" not in printed
    manifest = manifest_of(folder, number)
    if manifest is not None:
        assert_no_phi(printed, manifest)


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5, 6, 7])
def test_expected_solution_passes(after_steps: Prepared, number: int) -> None:
    # The guide's solution ends with `clinflow lab check N`, which must exit 0 (run_blocks
    # fails on any command that exits non-zero without `|| echo`).
    folder, _ = after_steps(number)
    lab = find_lab(number)
    assert lab.solution[-1].splitlines()[-1] == f"clinflow lab check {number}"
    transcript = run_blocks(lab.solution, folder)
    assert f"Lab {number} ({lab.title}): passed" in transcript.text


def test_lab_steps_show_what_they_teach(after_steps: Prepared) -> None:
    # The steps' own output: the raw cohort leaks, the weak site policies fail their
    # measurement, the append-only log refuses an UPDATE and a tampered copy fails verify.
    lab1 = after_steps(1)[1].text
    assert "residual PHI found in the raw input, as expected" in lab1
    assert "same seed, same bytes" in lab1
    assert "the site policy leaks" in after_steps(2)[1].text
    assert "below target" in after_steps(3)[1].text
    lab5 = after_steps(5)[1].text
    assert "append-only: UPDATE refused on audit_entries" in lab5
    assert "content does not match its stored leaf hash (altered)" in lab5
    assert "tampering detected" in lab5
