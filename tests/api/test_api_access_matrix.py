"""The access matrix: every route of every app, enumerated from the app itself, has a declared
rule in ``clinflow.api.access``, and each caller (anonymous, a revoked token, each role, a
patient token of another patient, the deployment token) gets what the rule says.

Apps: the audit-query API (with consent), the scoring service, and the two apps of
``clinflow serve all`` built by ``serve_all_apps`` over one deployment.

Figures for docs/reliability.md (routes per app, routes without a rule, probes, mismatches;
schemathesis cases and 5xx per app and caller; the anonymous flood) are merged into the JSON
file named by ``CLINFLOW_RELIABILITY_OUT``:

    CLINFLOW_RELIABILITY_OUT=figures.json CLINFLOW_SCHEMATHESIS_EXAMPLES=30 \
        pytest -p no:cacheprovider -m "slow or not slow" tests/api/test_api_access_matrix.py \
        tests/api/test_api_schemathesis.py tests/api/test_api_security.py
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from clinflow.api.access import AUDIT_APP, TABLE, endpoints, rule_for
from clinflow.api.app import close_app, create_app
from clinflow.api.settings import Settings
from clinflow.config import DataDir
from helpers.asgi import call
from helpers.tokens import make_access

from .helpers import (
    ALICE,
    CALLERS,
    SAMPLE_BODIES,
    SAMPLE_PARAMS,
    actual_outcome,
    expected_outcome,
    report_figures,
)


def undeclared(table: str, fastapi: FastAPI) -> list[tuple[str, str]]:
    return [e for e in endpoints(fastapi.routes) if rule_for(table, *e) is None]


def test_every_route_of_every_app_has_a_declared_rule(apps: Any) -> None:
    _, found = apps
    figures: dict[str, dict[str, int]] = {}
    for name, (table, _, fastapi) in found.items():
        served = endpoints(fastapi.routes)
        in_schema = {
            (method.upper(), path)
            for path, item in fastapi.openapi()["paths"].items()
            for method in item
        }
        assert in_schema <= set(served), f"{name}: routes the walk missed"
        assert undeclared(table, fastapi) == [], f"{name}: routes without a declared rule"
        assert set(TABLE[table]) == set(served), f"{name}: rules for routes that do not exist"
        figures[name] = {"routes": len(served), "without_rule": len(undeclared(table, fastapi))}
    report_figures("access_routes", figures)


def test_a_new_route_without_a_rule_fails_the_check_and_is_denied(deployment: DataDir) -> None:
    access = make_access(deployment.root, ALICE)
    app = create_app(Settings(data_dir=deployment))

    @app.get("/audit/new-report")
    def new_report() -> dict[str, str]:
        return {"leaked": "yes"}

    first = call(app, "GET", "/audit/pubkey", headers=list(access.headers("auditor").items()))
    assert first.status == 200  # the gate has compiled the routes declared so far

    @app.get("/audit/late-report")
    def late_report() -> dict[str, str]:
        return {"leaked": "yes"}

    try:
        assert undeclared(AUDIT_APP, app) == [
            ("GET", "/audit/new-report"),
            ("GET", "/audit/late-report"),
        ]
        for caller in ("auditor", "privacy_officer"):
            answer = call(
                app, "GET", "/audit/new-report", headers=list(access.headers(caller).items())
            )
            assert answer.status == 403 and b"leaked" not in answer.body
    finally:
        close_app(app)


def test_every_caller_gets_what_the_table_declares(apps: Any) -> None:
    access, found = apps
    mismatches: list[str] = []
    figures: dict[str, int] = {}
    for name, (table, app, fastapi) in found.items():
        probes = 0
        for method, template in endpoints(fastapi.routes):
            rule = rule_for(table, method, template)
            assert rule is not None
            path = template.format(**{k: v for k, v in SAMPLE_PARAMS.items() if k in template})
            body = SAMPLE_BODIES.get((method, template), b"{}" if method == "POST" else b"")
            for caller in CALLERS:
                headers = [*access.headers(caller).items(), ("content-type", "application/json")]
                answer = call(app, method, path, headers=headers, chunks=[body] if body else ())
                probes += 1
                want, got = expected_outcome(rule, caller, table), actual_outcome(answer.status)
                if want != got:
                    mismatches.append(
                        f"{name} {method} {path} as {caller}: {answer.status}, want {want}"
                    )
        figures[name] = probes
    report_figures("access_matrix_probes", {**figures, "mismatches": len(mismatches)})
    assert mismatches == []
