"""``clinflow serve all`` runs the audit-query API and the scoring endpoints in one process."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from helpers.serving import free_port, serving


def test_serve_all_answers_on_both_ports(data_dir: Path) -> None:
    api_port, scoring_port = free_port(), free_port()
    with serving(
        ["serve", "all", "--api-port", str(api_port), "--scoring-port", str(scoring_port),
         "--data-dir", str(data_dir)],
        [f"http://127.0.0.1:{api_port}/health", f"http://127.0.0.1:{scoring_port}/healthz"],
        stop_signal=signal.SIGKILL, stop_timeout=10,
    ):  # fmt: skip
        refused = httpx.get(f"http://127.0.0.1:{api_port}/audit/events", timeout=5)
        assert refused.status_code == 401
