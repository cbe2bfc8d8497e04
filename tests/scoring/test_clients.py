"""In-process and HTTP clients give the same documents (same service code behind both)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from clinflow.errors import InputRejected
from clinflow.scoring.app import create_app
from clinflow.scoring.client import HttpClient, InProcessClient, ScoringClient
from clinflow.scoring.service import ScoringService
from helpers.tokens import scratch_access
from helpers.vitals import PATIENT, bundle, later, vital_set


def asgi_bridge(service: ScoringService) -> httpx.Client:
    """A sync httpx client whose transport hands each request to the ASGI app in process."""
    app = create_app(service, authenticator=scratch_access(PATIENT).authenticator)

    def handle(request: httpx.Request) -> httpx.Response:
        async def forward() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as c:
                response = await c.request(
                    request.method, str(request.url), content=request.content,
                    headers=dict(request.headers),
                )  # fmt: skip
                await response.aread()
                return httpx.Response(
                    response.status_code, headers=response.headers, content=response.content
                )

        return asyncio.run(forward())

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://scoring")


def run_session(client: ScoringClient) -> list[object]:
    return [
        client.icu_risk_assessment(bundle(vital_set("a", when=later(0)))),
        client.icu_risk_assessment(vital_set("b", rr=26, spo2=90, o2_flow=2, when=later(15))),
        client.icu_risk_assessment(vital_set("c", spo2=90, when=later(30)), spo2_scale2=True),
        client.icu_score(
            {"patient": PATIENT, "observed_at": "2026-01-05T09:00:00Z", "heart_rate": 131}
        ),
        client.triage_score(
            {"patient": PATIENT, "observed_at": "2026-01-05T09:00:00Z", "age_years": 30,
             "chief_complaint": "laceration", "expected_resources": 1}
        ),
        client.triage_risk_assessment(
            {"patient": PATIENT, "age_years": 5, "chief_complaint": "fever",
             "expected_resources": 2, "observations": vital_set("d", rr=35)}
        ),
        client.retract_patient(PATIENT),
    ]  # fmt: skip


def test_in_process_and_http_clients_agree() -> None:
    in_process = run_session(InProcessClient(ScoringService()))
    tokens = scratch_access(PATIENT).tokens
    http_client = HttpClient(
        "http://scoring",
        asgi_bridge(ScoringService()),
        token=tokens["scoring"],
        service_token=tokens["deployment"],
    )
    try:
        over_http = run_session(http_client)
    finally:
        http_client.close()
    assert over_http == in_process
    receipt = in_process[-1]
    assert isinstance(receipt, dict)
    assert (receipt["status"], receipt["patient"]) == ("retracted", PATIENT)
    assert receipt["derived_deleted"] == 4 + 1 + 2  # ICU scores, the alert, triage results


def test_http_client_raises_input_rejected_naming_field() -> None:
    token = scratch_access(PATIENT).tokens["scoring"]
    client = HttpClient("http://scoring", asgi_bridge(ScoringService()), token=token)
    with pytest.raises(InputRejected) as info:
        client.icu_score({"patient": PATIENT, "ethnicity": "2135-2"})
    assert info.value.location == "ethnicity" and "2135-2" not in str(info.value)
    client.close()
