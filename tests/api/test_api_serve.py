"""``clinflow serve api`` starts uvicorn with the audit-query API."""

from __future__ import annotations

from pathlib import Path

import httpx

from helpers.serving import free_port, serving


def test_serve_api_answers_health_and_refuses_anonymous_search(data_dir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving(
        ["serve", "api", "--port", str(port), "--data-dir", str(data_dir)], [f"{base}/health"]
    ) as (health,):
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"{base}/audit/events", timeout=5).status_code == 401
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
