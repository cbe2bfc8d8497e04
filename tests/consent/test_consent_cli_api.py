"""``clinflow consent`` commands and the ``/consent`` API router."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from clinflow.cli import app
from clinflow.consent.api import get_consent_service, router
from clinflow.consent.service import ConsentService

from .helpers import PATIENT_A, research_opt_in_r5


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLINFLOW_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "clinflow", *args], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )


def test_cli_load_status_revoke(data_dir: Path, tmp_path: Path) -> None:
    consent_file = tmp_path / "consent.json"
    consent_file.write_bytes(orjson.dumps(research_opt_in_r5(PATIENT_A)))
    runner = CliRunner()
    result = runner.invoke(app, ["consent", "load", str(consent_file), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "loaded 1" in result.output
    result = runner.invoke(app, ["consent", "status", PATIENT_A, "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["decisions"]["HRESCH"]["decision"] == "permit"
    result = runner.invoke(app, ["consent", "revoke", PATIENT_A, "--purpose", "HRESCH", "--json"])
    assert result.exit_code == 0, result.output
    receipt = orjson.loads(result.output)
    assert receipt["purposes"] == ["HRESCH"] and receipt["complete"] is True
    result = runner.invoke(app, ["consent", "revoke", PATIENT_A, "--purpose", "HRESCH"])
    assert result.exit_code == 0 and "Revocation receipt" in result.output
    assert "already in force" in result.output
    result = runner.invoke(app, ["consent", "status"])
    assert PATIENT_A in result.output


def test_cli_errors_are_one_line_with_exit_codes(data_dir: Path) -> None:
    result = run_cli("consent", "revoke", "not-a-pseudonym", data_dir=data_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    result = run_cli("consent", "load", "/nonexistent/consents.json", data_dir=data_dir)
    assert result.returncode == 2 and "no such file" in result.stderr
    runner = CliRunner()
    result = runner.invoke(
        app, ["consent", "revoke", "MRN-SYN-7", "--mrn", "--json", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0
    assert "MRN-SYN-7" not in result.output  # pseudonymized, never echoed


class Client:
    """Synchronous calls through httpx's ASGI transport (no server, no network)."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.api)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.request(method, url, **kwargs)

        return asyncio.run(call())

    def get(self, url: str) -> httpx.Response:
        return self.request("GET", url)

    def post(self, url: str, json: object) -> httpx.Response:
        return self.request("POST", url, json=json)


@pytest.fixture()
def client(service: ConsentService) -> Iterator[Client]:
    api = FastAPI()
    api.include_router(router)
    api.dependency_overrides[get_consent_service] = lambda: service
    yield Client(api)


def test_api_state_and_revoke(client: Client, service: ConsentService) -> None:
    from clinflow.consent.model import parse_consent

    service.revocations.apply_consent(PATIENT_A, parse_consent(research_opt_in_r5(PATIENT_A)))
    state = client.get(f"/consent/{PATIENT_A}").json()
    assert state["decisions"]["HRESCH"]["decision"] == "permit"
    response = client.post(f"/consent/{PATIENT_A}/revoke", json={"purposes": ["HRESCH"]})
    assert response.status_code == 200
    receipt = response.json()
    assert receipt["patient"] == PATIENT_A and receipt["complete"]
    assert client.get(f"/consent/{PATIENT_A}").json()["decisions"]["HRESCH"]["decision"] == "deny"
    receipts = client.get(f"/consent/{PATIENT_A}/receipts").json()
    assert [r["receipt_id"] for r in receipts] == [receipt["receipt_id"]]
    assert client.get("/consent/Jane%20Doe").status_code == 422
    bad = client.post(f"/consent/{PATIENT_A}/revoke", json={"purposes": ["NOPE"]})
    assert bad.status_code == 422
    extra = client.post(f"/consent/{PATIENT_A}/revoke", json={"purposes": [], "x": 1})
    assert extra.status_code == 422
