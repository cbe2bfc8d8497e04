"""``clinflow serve all`` runs the audit-query API and the scoring endpoints in one process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .test_api_serve import free_port


def test_serve_all_answers_on_both_ports(data_dir: Path) -> None:
    api_port, scoring_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "serve", "all", "--api-port", str(api_port),
         "--scoring-port", str(scoring_port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        for url in (
            f"http://127.0.0.1:{api_port}/health",
            f"http://127.0.0.1:{scoring_port}/healthz",
        ):
            while True:
                try:
                    assert httpx.get(url, timeout=2).status_code == 200
                    break
                except httpx.TransportError:
                    assert server.poll() is None, "server exited"
                    assert time.monotonic() < deadline, "server did not start in 30 s"
                    time.sleep(0.2)
        refused = httpx.get(f"http://127.0.0.1:{api_port}/audit/events", timeout=5)
        assert refused.status_code == 401
    finally:
        server.kill()
        server.wait(timeout=10)
