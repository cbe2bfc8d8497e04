"""The consent helper's router is mounted behind the audit API's tokens and auditing."""

from __future__ import annotations

from .helpers import ALICE, BOB, Api


def test_consent_routes_require_a_token_and_respect_roles(api: Api) -> None:
    assert api.client.get(f"/consent/{ALICE}").status_code == 401
    assert api.get(f"/consent/{ALICE}", "service").status_code == 403
    assert api.get(f"/consent/{BOB}", "patient").status_code == 403
    for role in ("auditor", "privacy_officer", "patient"):
        response = api.get(f"/consent/{ALICE}", role)
        assert response.status_code == 200, response.text
        assert response.json()["patient"] == ALICE
    auditor = {"Authorization": f"Bearer {api.tokens['auditor']}"}
    refused = api.client.post(f"/consent/{ALICE}/revoke", json={}, headers=auditor)
    assert refused.status_code == 403 and "auditor may not" in refused.json()["detail"]


def test_consent_queries_are_audited(api: Api) -> None:
    api.get(f"/consent/{ALICE}", "privacy_officer")
    logged = api.get("/audit/events", "auditor", code="api-query", format="json").json()
    paths = [item["event"]["entity"][0]["what"]["identifier"]["value"] for item in logged["items"]]
    assert f"/consent/{ALICE}" in paths
