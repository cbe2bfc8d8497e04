"""Who may call which route, for every clinflow HTTP app: the declared access table.

One rule per (app, method, route template). ``clinflow.api.gate`` enforces it in front of
each app (authentication, role and patient scope are checked before the body is read), and
``tests/api/test_api_access_matrix.py`` enumerates the routes of each app from the app itself:
a route without a rule fails that test, and a route without a rule answers 403 at run time
(deny by default). ADR 0080.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from starlette.routing import BaseRoute

from clinflow.api.auth import Role

AUDIT_APP = "audit-api"
SCORING_APP = "scoring"


class Scope(StrEnum):
    """How a ``patient`` token is limited on a route."""

    NONE = "none"  # the route is not about one patient (or patients may not call it)
    PATH = "path"  # {patient} in the path must be the token's patient (else 403)
    FILTER = "filter"  # the route itself narrows results to the token's patient


@dataclass(frozen=True, slots=True)
class Rule:
    """Roles allowed (empty + ``public``: no token needed), patient scoping, auditing, body."""

    roles: frozenset[Role] = frozenset()
    public: bool = False
    scope: Scope = Scope.NONE
    audited: bool = True  # every call (any outcome) is an api-query AuditEvent
    max_body: int | None = None  # bytes; None: the app's Limits (max_body_bytes or, streamed,
    # max_streamed_bytes)
    streamed: bool = False  # the body reaches the route as it arrives (counted, not buffered)
    audit_template: bool = False  # audit the route template: the path holds identifiers


def _rule(
    *roles: Role,
    scope: Scope = Scope.NONE,
    audited: bool = True,
    max_body: int | None = None,
    streamed: bool = False,
    audit_template: bool = False,
) -> Rule:
    return Rule(
        frozenset(roles), scope=scope, audited=audited, max_body=max_body, streamed=streamed,
        audit_template=audit_template,
    )  # fmt: skip


PUBLIC = Rule(public=True, audited=False)
A, PO, SVC, PT = Role.AUDITOR, Role.PRIVACY_OFFICER, Role.SERVICE, Role.PATIENT
SC, DEP = Role.SCORING, Role.DEPLOYMENT

_DOCS = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
}

# The browser dashboard of the audit app (docs/adr/0101): page shells and static files hold no
# data (public, like /docs); every fragment with data is gated and audited like the API.
_DASHBOARD = {
    **{
        ("GET", path): PUBLIC
        for path in (
            "/dashboard",
            "/dashboard/pipeline",
            "/dashboard/patient",
            "/dashboard/audit",
            "/dashboard/consent",
            "/dashboard/replays",
            "/dashboard/static/dashboard.js",
            "/dashboard/static/proof.js",
            "/dashboard/static/dashboard.css",
        )
    },  # fmt: skip
    ("GET", "/dashboard/fragments/whoami"): _rule(A, PO, PT),
    ("GET", "/dashboard/fragments/pipeline"): _rule(A, PO),
    ("GET", "/dashboard/fragments/patients/{patient}"): _rule(A, PO, PT, scope=Scope.PATH),
    ("GET", "/dashboard/fragments/audit"): _rule(A, PO, PT, scope=Scope.FILTER),
    ("GET", "/dashboard/fragments/consent/{patient}"): _rule(A, PO, PT, scope=Scope.PATH),
    ("POST", "/dashboard/fragments/consent/{patient}/revoke"): _rule(PO, PT, scope=Scope.PATH),
    ("GET", "/dashboard/fragments/replays"): _rule(A, PO),
    ("GET", "/dashboard/fragments/replays/{index}"): _rule(A, PO),
}

# Keys: (method, route template exactly as the app declares it).
TABLE: dict[str, dict[tuple[str, str], Rule]] = {
    AUDIT_APP: {
        **_DOCS,
        ("GET", "/health"): PUBLIC,
        ("GET", "/audit/events"): _rule(A, PO, PT, scope=Scope.FILTER),
        ("GET", "/audit/events/{index}"): _rule(A, PO, PT, scope=Scope.FILTER),
        ("GET", "/audit/proofs/consistency"): _rule(A, PO, SVC, PT, SC),
        ("GET", "/audit/proofs/inclusion"): _rule(A, PO, SVC, PT, SC),
        ("GET", "/audit/checkpoint"): _rule(A, PO, SVC, PT, SC),
        ("GET", "/audit/pubkey"): _rule(A, PO, SVC, PT, SC),
        ("GET", "/audit/patients/{patient}/disclosures"): _rule(A, PO, PT, scope=Scope.PATH),
        ("GET", "/consent/{patient}"): _rule(A, PO, PT, scope=Scope.PATH),
        ("POST", "/consent/{patient}/revoke"): _rule(PO, PT, scope=Scope.PATH),
        ("GET", "/consent/{patient}/receipts"): _rule(A, PO, PT, scope=Scope.PATH),
        **_DASHBOARD,
        # DICOMweb STOW-RS (ADR 0026): machines (a PACS, a modality gateway) push studies
        ("POST", "/dicomweb/studies"): _rule(SVC, streamed=True),
        ("POST", "/dicomweb/studies/{study}"): _rule(SVC, streamed=True, audit_template=True),
    },
    SCORING_APP: {
        **_DOCS,
        ("GET", "/healthz"): PUBLIC,
        # Scoring requests are audited by the service itself (score/alert events); a
        # per-request api-query event would double the hot path's cost. Refusals are audited.
        ("POST", "/icu/risk-assessment"): _rule(SC, audited=False, max_body=4 * 1024 * 1024),
        ("POST", "/icu/score"): _rule(SC, audited=False),
        ("POST", "/triage/risk-assessment"): _rule(SC, audited=False),
        ("POST", "/triage/score"): _rule(SC, audited=False),
        ("GET", "/patients/{patient}/features"): _rule(SC, PT, scope=Scope.PATH),
        ("GET", "/patients/{patient}/alerts"): _rule(SC, PT, scope=Scope.PATH),
        ("POST", "/alerts/{alert_id}/acknowledge"): _rule(SC),
        ("DELETE", "/patients/{patient}"): _rule(DEP),
        ("POST", "/patients/{patient}/retractions"): _rule(DEP),
    },
}


def rule_for(app: str, method: str, path: str) -> Rule | None:
    """The declared rule (HEAD is answered like GET), or None: not declared, deny."""
    table = TABLE[app]
    return table.get((method, path)) or (table.get(("GET", path)) if method == "HEAD" else None)


def app_routes(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, frozenset[str]]]:
    """(template, methods) of every route an app serves, in matching order, routers included
    through ``include_router`` expanded (FastAPI >= 0.16x includes them lazily)."""
    for route in routes:
        expand = getattr(route, "effective_route_contexts", None)
        if callable(expand):
            for context in expand():
                methods = getattr(context.original_route, "methods", None) or ()
                yield str(context.path), frozenset(methods)
            continue
        path = getattr(route, "path", None)
        if isinstance(path, str):
            yield path, frozenset(getattr(route, "methods", None) or ())


def endpoints(routes: Iterable[BaseRoute]) -> list[tuple[str, str]]:
    """Every (method, template) pair an app answers (HEAD, answered like GET, left out)."""
    return [
        (method, path)
        for path, methods in app_routes(routes)
        for method in sorted(methods)
        if method != "HEAD"
    ]
