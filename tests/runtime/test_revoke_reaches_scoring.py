"""Issue 12's user story on real processes: the demo's data is the deployment's, a CLI revoke
reaches the running scoring service, and an unreachable one makes the receipt incomplete
until ``--retry`` finishes it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from clinflow.api.auth import TokenStore, api_tokens_path
from clinflow.config import DataDir
from clinflow.runtime.deployment import Deployment
from helpers.serving import free_port, serving

pytestmark = pytest.mark.slow


def clinflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clinflow", *args], capture_output=True, text=True, timeout=180
    )


def _serve_all(data_dir: Path, api_port: int, scoring_port: int, stop: signal.Signals):
    return serving(
        ["serve", "all", "--api-port", str(api_port), "--scoring-port", str(scoring_port),
         "--data-dir", str(data_dir)],
        [f"http://127.0.0.1:{api_port}/health", f"http://127.0.0.1:{scoring_port}/healthz"],
        stop_signal=stop, stop_timeout=15,
    )  # fmt: skip


def test_demo_then_revoke_through_the_running_scoring_service(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    demo = clinflow("demo", "--data-dir", str(data_dir), "--patients", "4", "--seed", "3",
                    "--json")  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    status = clinflow("consent", "status", "--data-dir", str(data_dir), "--json")
    assert status.returncode == 0, status.stderr
    patients = [row["patient"] for row in orjson.loads(status.stdout)]
    assert len(patients) == 4  # the demo's patients are the deployment's
    with Deployment.open(DataDir.open(data_dir)) as deployment:
        scored = [p for p in patients if deployment.scoring_store.count(p) > 0]
    first, second = scored[0], scored[1]
    store = TokenStore(api_tokens_path(DataDir.open(data_dir)))
    client = {"Authorization": f"Bearer {store.create('scoring')[1]}"}  # an EHR client
    store.close()

    def read(url: str) -> int:
        return httpx.get(url, timeout=10, headers=client).status_code

    api_port, scoring_port = free_port(), free_port()
    scoring = f"http://127.0.0.1:{scoring_port}"
    with _serve_all(data_dir, api_port, scoring_port, signal.SIGTERM):
        # restored from scoring.db: the running service answers for the demo's patients
        assert httpx.get(f"{scoring}/patients/{first}/features", timeout=10).status_code == 401
        assert read(f"{scoring}/patients/{first}/features") == 200
        anonymous = httpx.delete(f"{scoring}/patients/{first}", timeout=10)
        assert anonymous.status_code == 401  # retraction needs the service token
        revoke = clinflow("consent", "revoke", first, "--data-dir", str(data_dir), "--json")
        assert revoke.returncode == 0, revoke.stdout + revoke.stderr
        receipt = orjson.loads(revoke.stdout)
        assert receipt["complete"] is True
        action = {a["target"]: a for a in receipt["actions"]}["scoring"]
        assert action["error"] is None and action["deleted"] > 0
        for path in ("features", "alerts"):
            assert read(f"{scoring}/patients/{first}/{path}") == 404, path
        assert read(f"{scoring}/patients/{second}/features") == 200

    # the service is stopped: its state cannot be reached, the receipt says so
    revoke = clinflow("consent", "revoke", second, "--data-dir", str(data_dir), "--json")
    assert revoke.returncode == 1
    receipt = orjson.loads(revoke.stdout)
    assert receipt["complete"] is False
    failed = {a["target"]: a["error"] for a in receipt["actions"] if a["error"]}
    assert list(failed) == ["scoring"]
    with Deployment.open(DataDir.open(data_dir)) as deployment:
        assert deployment.scoring_store.count(second) > 0  # nothing edited behind its back

    api_port, scoring_port = free_port(), free_port()
    scoring = f"http://127.0.0.1:{scoring_port}"
    with _serve_all(data_dir, api_port, scoring_port, signal.SIGKILL):
        assert read(f"{scoring}/patients/{second}/features") == 200
        retry = clinflow("consent", "revoke", "--retry", receipt["receipt_id"],
                         "--data-dir", str(data_dir), "--json")  # fmt: skip
        assert retry.returncode == 0, retry.stdout + retry.stderr
        finished = orjson.loads(retry.stdout)
        assert finished["complete"] is True and finished["patient"] == second
        assert read(f"{scoring}/patients/{second}/features") == 404
    with Deployment.open(DataDir.open(data_dir)) as deployment:
        assert deployment.scoring_store.count(first) == deployment.scoring_store.count(second) == 0
    verify = clinflow("audit", "verify", "--data-dir", str(data_dir))
    assert verify.returncode == 0, verify.stdout + verify.stderr
