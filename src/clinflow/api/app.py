"""The audit-query FastAPI app: routers, one error handler, and auditing of every query."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from clinflow.api import errors
from clinflow.api.auth import Principal, Role, TokenStore, api_tokens_path
from clinflow.api.deps import AnyPrincipal, get_log
from clinflow.api.errors import Forbidden
from clinflow.api.routes import checkpoints, disclosures, events, proofs
from clinflow.api.settings import Settings
from clinflow.audit import events as audit_events
from clinflow.audit.log import AuditLog
from clinflow.patient_ids import PSEUDONYM_RE

if TYPE_CHECKING:
    from clinflow.runtime.deployment import Deployment

_consent_lock = threading.Lock()


def _record_query(request: Request, response: Response) -> None:
    """Append an api-query AuditEvent for this request (refusals included)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    patient = getattr(request.state, "audit_patient", None)
    if patient is not None and not PSEUDONYM_RE.match(patient):
        patient = None
    event = audit_events.api_query(
        agent=f"token:{principal.token_id}" if principal else "anonymous",
        role=principal.role.value if principal else "none",
        method=request.method,
        path=request.url.path[:200],
        query=request.url.query[:1000],
        status_code=response.status_code,
        patient=patient,
        result_count=getattr(request.state, "result_count", None),
    )
    log: AuditLog = get_log(request)
    log.append(event)


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
    errors.install(app)
    for module in (events, proofs, checkpoints, disclosures):
        app.include_router(module.router)
    _include_consent(app)
    app.state.consent = deployment

    @app.get("/health", tags=["health"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    if settings.audit_queries:

        @app.middleware("http")
        async def audit_every_query(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            response = await call_next(request)
            if request.url.path.startswith("/audit") or request.url.path.startswith("/consent"):
                await run_in_threadpool(_record_query, request, response)
            return response

    return app


def _include_consent(app: FastAPI) -> None:
    """Mount the consent helper's router (``clinflow.consent.api.router``) behind our auth.

    Auditors read; privacy officers and patients (their own record only) may also revoke;
    service tokens may not touch consent. The ConsentService shares this app's AuditLog.
    """
    from clinflow.consent.api import get_consent_service
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
        with _consent_lock:
            deployment = request.app.state.consent
            if deployment is None:
                from clinflow.runtime.deployment import Deployment

                settings: Settings = request.app.state.settings
                deployment = Deployment.open(settings.data_dir, audit=get_log(request))
                request.app.state.consent = deployment
        service: ConsentService = deployment.consent
        return service

    app.dependency_overrides[get_consent_service] = consent_service
    app.include_router(consent_router, dependencies=[Depends(consent_access)])


def close_app(app: FastAPI) -> None:
    """Close the log (signing a final checkpoint) and the token store."""
    if getattr(app.state, "shared", False):  # the deployment's owner closes it
        app.state.consent = app.state.log = None
    if getattr(app.state, "consent", None) is not None:
        app.state.consent.close()
        app.state.consent = None
    if app.state.log is not None:
        app.state.log.close()
        app.state.log = None
    app.state.tokens.close()
