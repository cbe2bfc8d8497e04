"""The dashboard over HTTP without a browser (FastAPI TestClient): security headers on every
answer (the gate's refusals included), pages with no data and no inline script, refusals of
every credential but a bearer token, roles, CSRF-safe revocation, every fragment audited,
error bodies that echo nothing."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from clinflow.api.access import AUDIT_APP, TABLE
from clinflow.api.app import close_app, create_app
from clinflow.api.auth import Role, TokenStore, api_tokens_path
from clinflow.api.dashboard.headers import HEADERS
from clinflow.api.settings import Settings
from clinflow.audit import events
from clinflow.audit.log import AuditLog
from clinflow.audit.search_fields import index_fields
from clinflow.config import DataDir

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

ALICE = "PT-00000000000000a1"
BOB = "PT-00000000000000b2"
TEMPLATES = Path(__file__).parents[2] / "src" / "clinflow" / "api" / "dashboard" / "templates"
DASHBOARD = {key: rule for key, rule in TABLE[AUDIT_APP].items() if key[1].startswith("/dashboard")}
SHELLS = sorted(path for (method, path), rule in DASHBOARD.items() if rule.public)
FRAGMENTS = sorted(key for key, rule in DASHBOARD.items() if not rule.public)


@dataclass
class Site:
    client: TestClient
    tokens: dict[str, str]
    root: DataDir

    def get(self, path: str, who: str | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.client.get(path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, who: str | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.client.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]


@pytest.fixture()
def site(data_dir: Path) -> Iterator[Site]:
    root = DataDir.open(data_dir)
    with AuditLog.open(root, batch_wait=0) as log:
        for i in range(6):
            patient = ALICE if i % 2 == 0 else BOB
            log.append(events.ingest(patient=patient, message_id=f"m{i}", source_kind="fhir"))
        log.append(events.disclosure(patient=ALICE, recipient="triage", purpose="TREAT",
                                     message_ids=["m0"], data_categories=["vitals"]))  # fmt: skip
    store = TokenStore(api_tokens_path(root))
    tokens = {r.value: store.create(r)[1] for r in (Role.AUDITOR, Role.PRIVACY_OFFICER,
                                                     Role.SERVICE, Role.SCORING)}  # fmt: skip
    tokens["patient"] = store.create(Role.PATIENT, ALICE)[1]
    revoked_id, tokens["revoked"] = store.create(Role.AUDITOR)
    store.revoke(revoked_id)
    store.close()
    app = create_app(Settings(data_dir=root))
    with TestClient(app, base_url="http://dashboard.test") as client:
        yield Site(client, tokens, root)
    close_app(app)


def _path(template: str) -> str:
    return template.replace("{patient}", ALICE).replace("{index}", "0")


def _check_headers(answer: object, where: str) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    for name, value in HEADERS.items():
        assert headers.get(name) == value, f"{where}: {name}"
    script_src = re.search(r"script-src ([^;]*)", headers["content-security-policy"])
    assert script_src is not None and script_src.group(1) == "'self'", where
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_every_dashboard_answer_carries_the_security_headers(site: Site) -> None:
    for path in SHELLS:
        answer = site.get(path)
        assert answer.status_code == 200, path
        _check_headers(answer, path)
    for method, template in FRAGMENTS:
        if method != "GET":
            continue
        for who, status in ((None, 401), ("revoked", 401), ("service", 403)):
            refused = site.get(_path(template), who)
            assert refused.status_code == status, (template, who)
            _check_headers(refused, f"{template} as {who}")
        served = site.get(_path(template), "privacy_officer")
        assert served.status_code in (200, 404), template  # 404: no replay report 0
        _check_headers(served, template)
    assert "content-security-policy" not in site.get("/health").headers  # the API is JSON


def test_page_shells_hold_no_data_and_no_inline_script(site: Site) -> None:
    assert len(SHELLS) == 9
    for path in SHELLS:
        answer = site.get(path)
        body = answer.text
        if path.endswith(".js"):
            assert answer.headers["content-type"].startswith("text/javascript")
            assert "eval(" not in body and "new Function" not in body
            continue
        if path.endswith(".css"):
            continue
        assert "PT-0" not in body and "token:" not in body, path
        for tag in re.findall(r"<script[^>]*>", body):
            assert 'src="/dashboard/static/' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", body), path  # no inline event handlers
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "| safe" not in text and "|safe" not in text, template.name  # all escaped


@pytest.mark.parametrize(
    "credential",
    [
        {"cookies": {"Authorization": "Bearer {token}"}},
        {"cookies": {"token": "{token}"}},
        {"params": {"token": "{token}"}},
        {"headers": {"Authorization": "Basic {token}"}},
        {"headers": {"X-Api-Token": "{token}"}},
    ],
    ids=["cookie-bearer", "cookie", "query", "basic", "other-header"],
)
def test_only_a_bearer_header_authenticates(
    site: Site, credential: dict[str, dict[str, str]]
) -> None:
    token = site.tokens["privacy_officer"]
    filled = {k: {n: v.format(token=token) for n, v in d.items()} for k, d in credential.items()}
    for name, value in filled.pop("cookies", {}).items():
        site.client.cookies.set(name, value)
    for method, template in FRAGMENTS:
        if method == "GET":
            answer = site.client.get(_path(template), **filled)  # type: ignore[arg-type]
        else:
            answer = site.client.post(_path(template), json={}, **filled)  # type: ignore[arg-type]
        assert answer.status_code == 401, (template, credential)
        assert token not in answer.text


def test_roles_and_patient_scope_of_the_fragments(site: Site) -> None:
    for who in ("service", "scoring"):
        for method, template in FRAGMENTS:
            call = site.get if method == "GET" else site.post
            assert call(_path(template), who).status_code == 403, (who, template)
    assert site.get("/dashboard/fragments/pipeline", "patient").status_code == 403
    assert site.get("/dashboard/fragments/replays", "patient").status_code == 403
    assert site.get(f"/dashboard/fragments/patients/{BOB}", "patient").status_code == 403
    own = site.get(f"/dashboard/fragments/patients/{ALICE}", "patient")
    assert own.status_code == 200 and ALICE in own.text
    mine = site.get("/dashboard/fragments/audit", "patient", params={"limit": 50})
    assert mine.status_code == 200 and ALICE in mine.text and BOB not in mine.text
    refused = site.post(f"/dashboard/fragments/consent/{ALICE}/revoke", "auditor", json={})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "role auditor may not use this endpoint"


def test_revocation_is_csrf_safe(site: Site) -> None:
    url = f"/dashboard/fragments/consent/{BOB}/revoke"
    body = {"purposes": ["HRESCH"]}
    hostile = [
        {"json": body, "headers": {"Origin": "https://evil.example"}},
        {"json": body, "headers": {"Sec-Fetch-Site": "cross-site"}},
        {"json": body, "headers": {"Sec-Fetch-Site": "same-site"}},
    ]
    for attempt in hostile:
        assert site.post(url, "privacy_officer", **attempt).status_code == 403, attempt
    # the bodies a cross-site form can send without a preflight are not JSON: refused
    for content_type, raw in (
        ("application/x-www-form-urlencoded", b"purposes=HRESCH"),
        ("text/plain", b'{"purposes": ["HRESCH"]}'),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--"),
    ):
        answer = site.post(url, "privacy_officer", content=raw,
                           headers={"Content-Type": content_type})  # fmt: skip
        assert answer.status_code == 422, content_type
    state = site.get(f"/consent/{BOB}", "auditor").json()
    assert state["revocations"] == []  # none of the refused calls revoked anything
    done = site.post(url, "privacy_officer", json=body, headers={
        "Origin": "http://dashboard.test", "Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert done.status_code == 200, done.text
    assert 'id="receipt"' in done.text and BOB in done.text
    assert len(site.get(f"/consent/{BOB}", "auditor").json()["revocations"]) == 1


def test_every_fragment_call_is_audited_with_its_caller(site: Site) -> None:
    who = site.get("/dashboard/fragments/whoami", "auditor")
    token_id = re.search(r"token ([0-9a-f]{12})", who.text)
    assert token_id is not None
    calls = [
        "/dashboard/fragments/pipeline",
        f"/dashboard/fragments/patients/{ALICE}",
        "/dashboard/fragments/audit",
        f"/dashboard/fragments/consent/{ALICE}",
        "/dashboard/fragments/replays",
    ]
    for path in calls:
        assert site.get(path, "auditor").status_code == 200, path
    found = site.get(
        "/audit/events", "auditor", params={"code": "api-query", "format": "json", "limit": 500}
    ).json()["items"]
    seen = {}
    for item in found:
        fields = index_fields(item["event"])
        text = orjson.dumps(item["event"]).decode()
        for path in calls:
            if path in text and fields.agent == f"token:{token_id.group(1)}":
                seen[path] = fields.patient
    assert set(seen) == set(calls)
    assert seen[f"/dashboard/fragments/patients/{ALICE}"] == ALICE  # in ALICE's accounting
    assert seen["/dashboard/fragments/pipeline"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/fragments/patients/Jane%20Doe-1957",
        "/dashboard/fragments/consent/MRN-4471920",
        "/dashboard/fragments/audit?patient=Jane%20Doe-1957",
        "/dashboard/fragments/audit?date-from=1957-03-04",
        "/dashboard/fragments/replays/99",
    ],
)
def test_error_bodies_echo_nothing_the_caller_sent(site: Site, path: str) -> None:
    answer = site.get(path, "privacy_officer")
    assert 400 <= answer.status_code < 500
    for planted in ("Jane", "Doe", "1957", "4471920"):
        assert planted not in answer.text
