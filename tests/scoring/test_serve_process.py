"""``clinflow serve scoring`` as a real process on loopback (slow: starts a server)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clinflow.api.auth import TokenStore, api_tokens_path
from clinflow.config import DataDir
from clinflow.services import read_registration
from helpers.serving import free_port, serving
from helpers.vitals import PATIENT, bundle, vital_set


@pytest.mark.slow
def test_serve_scoring_process_scores_refuses_and_audits(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    base = f"http://127.0.0.1:{port}"
    store = TokenStore(api_tokens_path(DataDir.open(data_dir)))
    client = {"Authorization": f"Bearer {store.create('scoring')[1]}"}
    store.close()
    with serving(
        ["serve", "scoring", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir)],
        [f"{base}/healthz"], start_timeout=60, stop_signal=signal.SIGINT, stop_timeout=20,
    ):  # fmt: skip
        anonymous = httpx.post(f"{base}/icu/risk-assessment", json=bundle(vital_set()), timeout=10)
        assert anonymous.status_code == 401
        scored = httpx.post(
            f"{base}/icu/risk-assessment", json=bundle(vital_set(rr=26)), timeout=10, headers=client
        )
        assert scored.status_code == 200 and scored.json()["resourceType"] == "RiskAssessment"
        refused = httpx.post(
            f"{base}/icu/score", json={"patient": PATIENT, "race": "2106-3"}, timeout=10,
            headers=client,
        )  # fmt: skip
        assert refused.status_code == 422 and "2106-3" not in refused.text
        anonymous = httpx.delete(f"{base}/patients/{PATIENT}", timeout=10)
        assert anonymous.status_code == 401  # deleting data needs the service token
        as_client = httpx.delete(f"{base}/patients/{PATIENT}", timeout=10, headers=client)
        assert as_client.status_code == 403  # a scoring client may not delete either
        registration = read_registration(DataDir.open(data_dir), "scoring")
        assert registration is not None and registration.url == base
        assert (data_dir / "services" / "scoring.json").stat().st_mode & 0o077 == 0
        receipt = httpx.delete(
            f"{base}/patients/{PATIENT}", timeout=10,
            headers={"Authorization": f"Bearer {registration.token}"},
        ).json()  # fmt: skip
        assert receipt["status"] == "retracted" and receipt["remaining"]["readings"] == 0
    assert (data_dir / "audit.db").exists()
    verify = subprocess.run(
        [sys.executable, "-m", "clinflow", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
