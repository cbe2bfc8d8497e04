"""The audit-query FastAPI app: routers, one error handler, behind the access gate.

The gate (``clinflow.api.gate``) authenticates, checks role and patient scope from the
access table, bounds the body and audits every ``/audit`` and ``/consent`` call with the
caller's principal, before any route runs.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request

from clinflow.api import dashboard, errors
from clinflow.api.access import AUDIT_APP
from clinflow.api.auth import Authenticator, Principal, Role, TokenStore, api_tokens_path
from clinflow.api.deps import AnyPrincipal, get_log, open_log
from clinflow.api.errors import Forbidden
from clinflow.api.gate import AccessGate, GateControl
from clinflow.api.routes import checkpoints, disclosures, events, proofs, stow
from clinflow.api.settings import Settings
from clinflow.interfaces import AuditSink

if TYPE_CHECKING:
    from clinflow.runtime.deployment import Deployment

_consent_lock = threading.Lock()


def create_app(settings: Settings, deployment: Deployment | None = None) -> FastAPI:
    """Build the API for one deployment (tests build one per data directory).

    ``deployment``: the composition root's open stores, shared with other services of the
    same process (``serve all``: one AuditLog for both); the caller closes it. Without it
    the app opens what it needs on first use and closes it at shutdown.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        close_app(app)

    app = FastAPI(
        title="clinflow audit-query API",
        version="0.1.0",
        description=(
            "Search the tamper-evident audit log (FHIR R5 AuditEvents), fetch inclusion and "
            "consistency proofs (RFC 9162) and signed checkpoints (C2SP), and a patient's "
            "accounting of disclosures. Bearer tokens from `clinflow audit token create`. "
            "Synthetic data only."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.log = None
    app.state.shared = deployment is not None
    if deployment is not None:
        app.state.log = deployment.audit
    app.state.tokens = TokenStore(api_tokens_path(settings.data_dir))
    app.state.authenticator = Authenticator(app.state.tokens)
    errors.install(app)
    for module in (events, proofs, checkpoints, disclosures, stow):
        app.include_router(module.router)
    _include_consent(app)
    app.state.consent = deployment

    @app.get("/health", tags=["health"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    def audit_sink() -> AuditSink | None:
        return open_log(app.state) if settings.audit_queries else None

    app.state.gate = GateControl(
        AUDIT_APP, lambda: app.router.routes, app.state.authenticator, settings.limits, audit_sink
    )
    app.add_middleware(AccessGate, control=app.state.gate)
    dashboard.install(app)  # after the gate: its headers wrap the gate's refusals too

    return app


def _include_consent(app: FastAPI) -> None:
    """Mount the consent helper's router (``clinflow.consent.api.router``) behind our auth.

    Auditors read; privacy officers and patients (their own record only) may also revoke;
    service tokens may not touch consent. The ConsentService shares this app's AuditLog.
    """
    from clinflow.audit.events import Agent
    from clinflow.consent.api import get_consent_service, get_requester
    from clinflow.consent.api import router as consent_router
    from clinflow.consent.service import ConsentService

    def consent_access(request: Request, principal: AnyPrincipal) -> Principal:
        if principal.role is Role.SERVICE:
            raise Forbidden("role service may not use the consent endpoints")
        if request.method != "GET" and principal.role is Role.AUDITOR:
            raise Forbidden("role auditor is read-only")
        patient = request.path_params.get("patient")
        if principal.role is Role.PATIENT and patient != principal.patient:
            raise Forbidden("this token is scoped to another patient")
        request.state.audit_patient = patient
        return principal

    def consent_service(request: Request) -> ConsentService:
        service: ConsentService = deployment_of(request).consent
        return service

    def requester(principal: AnyPrincipal) -> Agent:
        """A revocation through the API is attributed to the calling token (id and role)."""
        return Agent(principal.agent, role=principal.role.value)

    app.dependency_overrides[get_consent_service] = consent_service
    app.dependency_overrides[get_requester] = requester
    app.include_router(consent_router, dependencies=[Depends(consent_access)])


def deployment_of(request: Request) -> Deployment:
    """The app's deployment: the one it was built with, else opened on first use (sharing
    the app's AuditLog) and closed with the app."""
    with _consent_lock:
        deployment: Deployment | None = request.app.state.consent
        if deployment is None:
            from clinflow.runtime.deployment import Deployment

            settings: Settings = request.app.state.settings
            deployment = Deployment.open(settings.data_dir, audit=get_log(request))
            request.app.state.consent = deployment
    return deployment


def close_app(app: FastAPI) -> None:
    """Write the coalesced refusals still open, close the log (signing a final checkpoint)
    and the token store."""
    gate: GateControl | None = getattr(app.state, "gate", None)
    if gate is not None:
        gate.flush()
    if getattr(app.state, "shared", False):  # the deployment's owner closes it
        app.state.consent = app.state.log = None
    if getattr(app.state, "consent", None) is not None:
        app.state.consent.close()
        app.state.consent = None
    if app.state.log is not None:
        app.state.log.close()
        app.state.log = None
    app.state.tokens.close()
