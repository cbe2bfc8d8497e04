"""Issue 13 findings on the audit-query API, each reproduced: body limits and auth before the
body (2), cursor bounds and auditing of requests that raise (3), attribution (6), and the
anonymous flood (7)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from clinflow.api.app import create_app
from clinflow.api.settings import MIB, Limits, Settings
from clinflow.audit import AuditLog
from clinflow.audit.store import SearchQuery
from clinflow.cli import app as cli
from clinflow.config import DataDir
from helpers.asgi import call
from helpers.cli import run_cli

from .helpers import ALICE, BOB, Api, TestClient, report_figures


def api_queries(data_dir: DataDir, **filters: Any) -> list[dict[str, Any]]:
    """The api-query (or other ``code``) AuditEvents in the deployment's log."""
    query = {"code": "api-query", **filters}
    with AuditLog.open(data_dir, batch_wait=0) as log:
        return [orjson.loads(entry) for _, entry in log.search(SearchQuery(limit=10_000, **query))]


def detail(event: dict[str, Any], name: str) -> Any:
    for item in event["entity"][0].get("detail", []):
        if item["type"]["coding"][0]["code"] == name:
            return next(v for k, v in item.items() if k.startswith("value"))
    return None


def bearer(api: Api, role: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {api.tokens[role]}")


# ---- finding 2: body limits, checked before parsing; auth before body -----------------------


def test_anonymous_56_mb_revoke_is_401_without_reading_the_body(api: Api) -> None:
    answer = call(
        api.client.app, "POST", f"/consent/{ALICE}/revoke",
        headers=[("content-type", "application/json"), ("content-length", str(56 * MIB))],
        chunk=b" " * MIB, chunk_count=56,
    )  # fmt: skip
    assert answer.status == 401 and answer.pulled == 0


def test_declared_oversized_body_is_413_before_reading(api: Api) -> None:
    answer = call(
        api.client.app, "POST", f"/consent/{ALICE}/revoke",
        headers=[bearer(api, "privacy_officer"), ("content-length", str(56 * MIB))],
        chunk=b" " * MIB, chunk_count=56,
    )  # fmt: skip
    assert answer.status == 413 and answer.pulled == 0
    assert answer.json() == {"detail": f"request body exceeds {MIB} bytes"}


def test_streamed_oversized_body_is_cut_at_the_limit_and_nothing_is_revoked(api: Api) -> None:
    answer = call(
        api.client.app, "POST", f"/consent/{ALICE}/revoke",
        headers=[bearer(api, "privacy_officer"), ("content-type", "application/json")],
        chunk=b" " * (64 * 1024), chunk_count=40,  # 2.5 MiB, no Content-Length
    )  # fmt: skip
    assert answer.status == 413
    assert answer.pulled <= MIB + 64 * 1024  # stopped reading right after the limit
    state = api.get(f"/consent/{ALICE}", "privacy_officer").json()
    assert state["revocations"] == []


# ---- finding 3: cursor bounds; a request that raises is still audited -----------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"after": 9223372036854775808, "desc": false}',  # 2**63: SQLite's OverflowError
        b'{"after": 18446744073709551615, "desc": false}',
        b'{"after": 100000000000000000000000000000, "desc": false}',
        b'{"after": -1, "desc": false}',
        b'{"after": 1.5, "desc": false}',
        b'{"after": "7", "desc": false}',
    ],
)
def test_cursor_out_of_range_is_422(api: Api, raw: bytes) -> None:
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = api.get("/audit/events", "auditor", cursor=cursor)
    assert response.status_code == 422, response.text
    assert "cursor" in response.json()["detail"]


def test_a_request_that_raises_is_audited_as_a_failure(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.get("/audit/events", "auditor").status_code == 200  # opens the app's log
    log = api.client.app.state.log

    def broken(query: SearchQuery) -> list[tuple[int, bytes]]:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(log, "search", broken)
    with pytest.raises(OverflowError):
        call(api.client.app, "GET", "/audit/events", headers=[bearer(api, "auditor")])
    monkeypatch.undo()
    failed = [e for e in api_queries(api.data_dir) if detail(e, "status") == 500]
    assert len(failed) == 1
    assert failed[0]["outcome"]["code"]["code"] == "8"  # serious failure
    assert failed[0]["agent"][0]["role"] == [{"text": "auditor"}]


# ---- finding 6: attribution -------------------------------------------------------------------


def test_api_revocation_is_attributed_to_the_calling_token(api: Api) -> None:
    response = api.client.post(
        f"/consent/{ALICE}/revoke", json={}, headers=dict([bearer(api, "privacy_officer")])
    )
    assert response.status_code == 200, response.text
    [revoked] = api_queries(api.data_dir, code="consent-revoke")
    agent = revoked["agent"][0]
    token_id = agent["who"]["identifier"]["value"].removeprefix("token:")
    assert agent["who"]["identifier"]["value"] != "clinflow-api"
    assert agent["role"] == [{"text": "privacy_officer"}]
    assert api.tokens["privacy_officer"] not in str(revoked)
    listed = CliRunner().invoke(
        cli, ["audit", "token", "list", "--data-dir", str(api.data_dir.root)]
    )
    assert f"{token_id}\tprivacy_officer" in listed.stdout


def test_token_create_and_revoke_are_audited(data_dir: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli, ["audit", "token", "create", "--role", "scoring", "--data-dir", str(data_dir)]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    listed = runner.invoke(cli, ["audit", "token", "list", "--data-dir", str(data_dir)])
    token_id = listed.stdout.split("\t")[0]
    revoked = runner.invoke(
        cli, ["audit", "token", "revoke", token_id, "--data-dir", str(data_dir)]
    )
    assert revoked.exit_code == 0, revoked.output
    events = api_queries(DataDir.open(data_dir), code="api-token")
    assert [e["action"] for e in events] == ["C", "D"]
    for event in events:
        assert event["entity"][0]["what"]["identifier"]["value"] == token_id
        assert detail(event, "role") == "scoring"
        assert event["agent"][0]["who"]["identifier"]["value"].startswith("cli:")
        assert token not in str(event)


def test_patient_tokens_refused_probe_is_indexed_under_its_own_patient(api: Api) -> None:
    bob_entry = api.get("/audit/events", "auditor", patient=BOB, format="json").json()
    index = bob_entry["items"][0]["index"]
    assert api.get(f"/audit/events/{index}", "patient").status_code == 404
    assert api.get(f"/audit/patients/{BOB}/disclosures", "patient").status_code == 403
    assert api.get("/audit/events", "patient", patient=BOB).status_code == 403
    by_patient_tokens = [
        e
        for e in api_queries(api.data_dir, patient=BOB)
        if e["agent"][0]["role"][0]["text"] != "auditor"
    ]
    assert by_patient_tokens == []  # nothing about BOB was disclosed to ALICE's token
    probes = api_queries(api.data_dir, patient=ALICE)
    assert sorted(detail(e, "status") for e in probes) == [403, 403, 404]


# ---- finding 7: the anonymous flood ------------------------------------------------------------


def test_anonymous_flood_is_rate_limited_and_audited_coalesced(deployment: DataDir) -> None:
    from clinflow.api.auth import TokenStore, api_tokens_path

    store = TokenStore(api_tokens_path(deployment))
    token = store.create("auditor")[1]
    store.close()
    limits = Limits(refused_per_second=1.0, refused_burst=5, refusal_window_s=600)
    before = len(api_queries(deployment))
    app = create_app(Settings(data_dir=deployment, limits=limits))
    with TestClient(app) as client:
        statuses = [client.get("/audit/events").status_code for _ in range(300)]
        authorised = [
            client.get("/audit/pubkey", headers={"Authorization": f"Bearer {token}"}).status_code
            for _ in range(10)
        ]
    assert statuses[:5] == [401] * 5 and statuses.count(429) >= 290
    assert authorised == [200] * 10  # a valid token is never rate-limited
    events = api_queries(deployment)[before:]
    anonymous = [e for e in events if e["agent"][0]["who"]["identifier"]["value"] == "anonymous"]
    assert [detail(e, "count") for e in anonymous] == [1, 299]  # first at once, the rest summed
    assert len(events) - len(anonymous) == 10  # authenticated: one event each
    report_figures(
        "anonymous_flood",
        {
            "anonymous_requests": len(statuses),
            "answered_401": statuses.count(401),
            "answered_429": statuses.count(429),
            "audit_events_for_them": len(anonymous),
            "authenticated_requests": 10,
            "audit_events_for_those": len(events) - len(anonymous),
        },
    )


def test_the_deployment_role_cannot_be_issued(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the running service's registered token holds it (retraction stays behind
    ``consent revoke`` and its receipt)."""
    code, out, err = run_cli(
        capsys, "audit", "token", "create", "--role", "deployment", "--data-dir", str(data_dir)
    )
    assert code == 2 and "deployment is reserved" in err and "Traceback" not in err
    assert out == ""
    assert api_queries(DataDir.open(data_dir), code="api-token") == []


def test_an_anonymous_callers_path_is_logged_as_the_route_template(api: Api) -> None:
    mrn = "33144716"
    assert api.client.get(f"/consent/{mrn}").status_code == 401
    anonymous = [
        e
        for e in api_queries(api.data_dir)
        if e["agent"][0]["who"]["identifier"]["value"] == "anonymous"
    ]
    assert [e["entity"][0]["what"]["identifier"]["value"] for e in anonymous] == [
        "/consent/{patient}"
    ]
    assert all(mrn not in str(e) for e in anonymous)
