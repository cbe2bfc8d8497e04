"""``clinflow serve scoring`` as a real process on loopback (slow: starts a server)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .vitals_fixtures import PATIENT, bundle, vital_set


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_scoring_process_scores_refuses_and_audits(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    server = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "serve", "scoring", "--host", "127.0.0.1",
         "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start in 60 s"
            time.sleep(0.2)
        scored = httpx.post(
            f"{base}/icu/risk-assessment", json=bundle(vital_set(rr=26)), timeout=10
        )
        assert scored.status_code == 200 and scored.json()["resourceType"] == "RiskAssessment"
        refused = httpx.post(
            f"{base}/icu/score", json={"patient": PATIENT, "race": "2106-3"}, timeout=10
        )
        assert refused.status_code == 422 and "2106-3" not in refused.text
        receipt = httpx.delete(f"{base}/patients/{PATIENT}", timeout=10).json()
        assert receipt["status"] == "retracted" and receipt["remaining"]["readings"] == 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    assert (data_dir / "audit.db").exists()
    verify = subprocess.run(
        [sys.executable, "-m", "clinflow", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
