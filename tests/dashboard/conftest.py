"""Dashboard fixtures: a small demo deployment (module scope, for the browser tests) and a
quick seeded one (function scope, for the TestClient tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinflow.api.auth import Role, TokenStore, api_tokens_path
from clinflow.config import DataDir

from .helpers import Demo, clean_env


def create_tokens(root: Path) -> dict[str, str]:
    store = TokenStore(api_tokens_path(DataDir.open(root)))
    try:
        return {
            role.value: store.create(role)[1]
            for role in (Role.AUDITOR, Role.PRIVACY_OFFICER, Role.SERVICE, Role.SCORING)
        }
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """``clinflow demo --patients 4 --seed 3`` into a fresh data directory, plus tokens and
    one replay report under it."""
    root = tmp_path_factory.mktemp("dashboard") / "data"
    subprocess.run(
        [sys.executable, "-m", "clinflow", "demo", "--patients", "4", "--seed", "3",
         "--data-dir", str(root)],
        check=True, capture_output=True, timeout=240, env=clean_env(),
    )  # fmt: skip
    from clinflow.scoring.store import ScoringStore

    scoring = ScoringStore(DataDir.open(root).scoring_db)
    try:
        patients = scoring.patients()
    finally:
        scoring.close()
    phi = []
    for line in (root / "cohort" / "manifest.ndjson").read_text(encoding="utf-8").splitlines():
        planted = json.loads(line)
        # Dates are left out: the treatment path (scoring, and so the patient view's NEWS2
        # plot) works on clinical times, as the scoring API does; identities are checked.
        if planted["kind"] != "date" and len(planted["value"]) >= 5:
            phi.append(planted["value"])
    report = root / "replays" / "sample"
    report.mkdir(parents=True)
    (report / "report.html").write_text(
        "<!doctype html><html><head><title>clinflow replay: sample</title>"
        "<style>h1{color:#1f5fbf}</style></head><body><h1 id='replay-title'>Replay sample</h1>"
        "<script>document.title='scripts must not run here'</script></body></html>",
        encoding="utf-8",
    )
    (report / "report.json").write_text(
        json.dumps({"source": "generator", "rate": "max", "inputs": {"fed": 12},
                    "run": {"achieved_per_s": 250.0}}),
        encoding="utf-8",
    )  # fmt: skip
    return Demo(root, create_tokens(root), patients, phi)


@pytest.fixture()
def artifacts(tmp_path: Path) -> Iterator[Path]:
    """Where screenshots go: CLINFLOW_TEST_ARTIFACTS/dashboard when set, else tmp_path."""
    target = os.environ.get("CLINFLOW_TEST_ARTIFACTS")
    folder = Path(target) / "dashboard" if target else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
