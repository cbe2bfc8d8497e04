"""Issue 13 finding 1 (and 2 on this app): the scoring service authenticates with the
deployment's token store and roles, audits reads of a patient's data with the principal,
bounds request bodies before parsing, and compose publishes it on loopback only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from clinflow.api.settings import MIB
from clinflow.errors import AuditUnavailable
from clinflow.scoring.app import create_app
from clinflow.scoring.service import ScoringService
from helpers.asgi import Answer, call
from helpers.fakes import RecordingAuditSink
from helpers.tokens import Access, make_access
from helpers.vitals import PATIENT, vital_set

COMPOSE = Path(__file__).parents[2] / "docker" / "compose.yml"


@pytest.fixture()
def access(tmp_path: Path) -> Access:
    return make_access(tmp_path / "data", PATIENT)


def scored_service(access: Access, audited: bool = True) -> tuple[Any, ScoringService]:
    """An app whose service holds one scored patient (``PATIENT``)."""
    service = ScoringService(audit=RecordingAuditSink() if audited else None)
    app = create_app(service, authenticator=access.authenticator)
    sick = orjson.dumps(vital_set("a", rr=26, spo2=91, o2_flow=2))
    answer = request(app, access, "scoring", "POST", "/icu/risk-assessment", sick)
    assert answer.status == 200 and service.latest_score(PATIENT) is not None
    return app, service


def request(
    app: Any, access: Access, who: str | None, method: str, path: str, body: bytes = b""
) -> Answer:
    headers = [*access.headers(who).items(), ("content-type", "application/json")]
    if body:
        headers.append(("content-length", str(len(body))))
    return call(app, method, path, headers=headers, chunks=[body] if body else ())


@pytest.mark.parametrize("audited", [True, False], ids=["threadpool", "fast-path"])
@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("revoked", 401), ("scoring", 403), ("privacy_officer", 403),
     ("patient", 403), ("service", 403)],
)  # fmt: skip
def test_retraction_refused_without_the_deployment_token_deletes_nothing(
    access: Access, audited: bool, who: str | None, status: int
) -> None:
    app, service = scored_service(access, audited)
    for path, method, body in [
        (f"/patients/{PATIENT}", "DELETE", b""),
        (f"/patients/{PATIENT}/retractions", "POST", b'{"reason": "x"}'),
    ]:
        assert request(app, access, who, method, path, body).status == status
    assert service.latest_score(PATIENT) is not None and service.alerts(PATIENT)
    done = request(app, access, "deployment", "DELETE", f"/patients/{PATIENT}")
    assert done.status == 200 and service.latest_score(PATIENT) is None


@pytest.mark.parametrize("path", ["features", "alerts"])
def test_reading_a_patients_data_needs_a_role_and_is_audited(access: Access, path: str) -> None:
    app, service = scored_service(access)
    sink = service.audit
    assert isinstance(sink, RecordingAuditSink)
    url = f"/patients/{PATIENT}/{path}"
    assert request(app, access, None, "GET", url).status == 401
    for refused in ("auditor", "privacy_officer", "service", "other_patient"):
        assert request(app, access, refused, "GET", url).status == 403, refused
    before = len(sink.events)
    for allowed in ("scoring", "patient"):
        answer = request(app, access, allowed, "GET", url)
        assert answer.status == 200, (allowed, answer.body)
    reads = sink.events[before:]
    assert [e["agent"][0]["role"] for e in reads] == [[{"text": "scoring"}], [{"text": "patient"}]]
    for event in reads:
        assert event["patient"]["reference"] == f"Patient/{PATIENT}"
        assert event["agent"][0]["who"]["identifier"]["value"].startswith("token:")
        assert event["entity"][0]["what"]["identifier"]["value"] == url
        assert all(token not in str(event) for token in access.tokens.values())


def test_scoring_needs_the_scoring_role(access: Access) -> None:
    app = create_app(ScoringService(), authenticator=access.authenticator)
    body = orjson.dumps(vital_set())
    for route in ("/icu/risk-assessment", "/icu/score", "/triage/score"):
        assert request(app, access, None, "POST", route, body).status == 401
        assert request(app, access, "auditor", "POST", route, body).status == 403


@pytest.mark.parametrize("audited", [True, False], ids=["threadpool", "fast-path"])
def test_anonymous_60_mb_assessment_is_401_without_reading_it(
    access: Access, audited: bool
) -> None:
    service = ScoringService(audit=RecordingAuditSink() if audited else None)
    app = create_app(service, authenticator=access.authenticator)
    answer = call(
        app, "POST", "/icu/risk-assessment",
        headers=[("content-type", "application/json"), ("content-length", str(60 * MIB))],
        chunk=b" " * MIB, chunk_count=60,
    )  # fmt: skip
    assert answer.status == 401 and answer.pulled == 0


@pytest.mark.parametrize(
    ("route", "limit"), [("/icu/risk-assessment", 4 * MIB), ("/icu/score", MIB)]
)
def test_streamed_body_over_the_routes_limit_is_413(access: Access, route: str, limit: int) -> None:
    app = create_app(ScoringService(), authenticator=access.authenticator)
    chunk = b" " * (64 * 1024)
    answer = call(
        app, "POST", route, headers=list(access.headers("scoring").items()),
        chunk=chunk, chunk_count=limit // len(chunk) + 8,
    )  # fmt: skip
    assert answer.status == 413 and limit < answer.pulled <= limit + len(chunk)
    assert answer.json() == {"detail": f"request body exceeds {limit} bytes"}


def test_compose_publishes_every_port_on_loopback_only() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    published = [(name, port) for name, s in services.items() for port in s.get("ports", [])]
    assert {name for name, _ in published} >= {"api", "scoring"}
    assert all(str(port).startswith("127.0.0.1:") for _, port in published), published


def test_access_is_audited_even_when_scores_are_not(access: Access) -> None:
    """``serve scoring --no-audit`` (the benchmark's setting) stops auditing scores only."""
    access_log = RecordingAuditSink()
    service = ScoringService()  # no audit sink: scores and alerts are not audited
    app = create_app(service, authenticator=access.authenticator, access_audit=access_log)
    sick = orjson.dumps(vital_set("a", rr=26, spo2=91, o2_flow=2))
    assert request(app, access, "scoring", "POST", "/icu/risk-assessment", sick).status == 200
    assert access_log.events == []  # the fast path stays unaudited per request
    assert request(app, access, "patient", "GET", f"/patients/{PATIENT}/alerts").status == 200
    assert request(app, access, None, "GET", f"/patients/{PATIENT}/alerts").status == 401
    assert access_log.codes() == ["api-query", "api-query"]
    assert [e["agent"][0]["who"]["identifier"]["value"] for e in access_log.events][1] == (
        "anonymous"
    )


class FailingSink:
    """An audit log that cannot store anything (full disk)."""

    def append(self, event: Any) -> int:
        raise AuditUnavailable("disk full")


def test_no_read_is_released_without_its_audit_record(access: Access) -> None:
    service = ScoringService()
    app = create_app(service, authenticator=access.authenticator, access_audit=FailingSink())
    sick = orjson.dumps(vital_set("a", rr=26, spo2=91, o2_flow=2))
    assert request(app, access, "scoring", "POST", "/icu/risk-assessment", sick).status == 200
    withheld = request(app, access, "scoring", "GET", f"/patients/{PATIENT}/features")
    assert withheld.status == 503 and b"respiratory" not in withheld.body
    assert withheld.json() == {
        "detail": "audit trail unavailable: response not released, retry later"
    }
    # refusals are still answered when their record cannot be written
    assert request(app, access, None, "GET", f"/patients/{PATIENT}/features").status == 401
    assert request(app, access, "auditor", "GET", f"/patients/{PATIENT}/features").status == 403
