"""The dashboard's data: server-rendered HTML fragments behind the access gate.

Each fragment is a route of the audit-query app, declared in ``clinflow.api.access`` with its
roles and patient scope, called by the page's script with ``Authorization: Bearer`` (the token
of this browser tab), and audited by the gate like every API call (an ``api-query``
AuditEvent with the caller's token id, indexed under the patient it served). They reuse the
API's own route functions (search, accounting of disclosures) and the deployment's services,
so the dashboard shows exactly what the API would.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from clinflow.api.dashboard import views
from clinflow.api.dashboard.templating import render
from clinflow.api.deps import AnyPrincipal, AuditLogDep, ContentReader, SettingsDep
from clinflow.api.errors import Forbidden, NotFound
from clinflow.api.routes._common import check_patient_param, scope_patient
from clinflow.api.routes.disclosures import accounting_of_disclosures
from clinflow.api.routes.events import OutputFormat, SortOrder, search_events
from clinflow.audit.events import Action, Agent, EventCode, Outcome
from clinflow.audit.search_fields import index_fields
from clinflow.consent.api import RevokeRequest
from clinflow.patient_ids import PSEUDONYM_PATTERN

if TYPE_CHECKING:
    from clinflow.runtime.deployment import Deployment
    from clinflow.scoring.service import ScoringService

router = APIRouter(prefix="/dashboard/fragments", include_in_schema=False)

PatientPath = Annotated[str, Path(pattern=PSEUDONYM_PATTERN, description="PT-<hex>")]
SAME_SITE = ("same-origin", "none")  # Sec-Fetch-Site values of the dashboard's own calls


def _deployment(request: Request) -> Deployment:
    from clinflow.api.app import deployment_of  # the app module includes this router

    return deployment_of(request)


def _scoring(request: Request, deployment: Deployment) -> ScoringService | None:
    """The scoring state to show: this process's service (``serve all``; or ``serve api``
    with no scoring service registered). With a scoring service running in another process,
    None: a second copy here would take over its retractions."""
    if request.app.state.shared or deployment.scoring_registration() is None:
        return deployment.scoring()
    return None


def _sampler(request: Request) -> views.RateSampler:
    sampler: views.RateSampler | None = getattr(request.app.state, "dashboard_rates", None)
    if sampler is None:
        sampler = request.app.state.dashboard_rates = views.RateSampler()
    return sampler


@router.get("/whoami")
def whoami(principal: AnyPrincipal) -> HTMLResponse:
    """Who this tab is signed in as: token id, role, patient scope (never the token)."""
    return render("_whoami.html", principal=principal)


@router.get("/pipeline")
def pipeline(request: Request, principal: AnyPrincipal, log: AuditLogDep) -> HTMLResponse:
    view = views.pipeline_view(_deployment(request), log.refresh(), _sampler(request))
    request.state.result_count = len(view.hops)
    return render("_pipeline.html", view=view)


@router.get("/patients/{patient}")
def patient(
    request: Request, principal: ContentReader, log: AuditLogDep, patient: PatientPath
) -> HTMLResponse:
    """Scores, alerts, consent state and accounting of disclosures of one pseudonym."""
    scoped = scope_patient(principal, check_patient_param(patient))
    assert scoped is not None
    deployment = _deployment(request)
    service = _scoring(request, deployment)
    scores = views.scores_view(service, deployment.scoring_store, scoped)
    consent = deployment.consent.status(scoped)
    accounting = accounting_of_disclosures(request, principal, log, scoped)
    request.state.audit_patient = scoped
    return render(
        "_patient.html",
        patient=scoped,
        scores=scores,
        consent=consent,
        disclosures=accounting.disclosures,
    )


@router.get("/audit")
def audit_search(
    request: Request,
    principal: ContentReader,
    log: AuditLogDep,
    settings: SettingsDep,
    patient: Annotated[str | None, Query(max_length=80)] = None,
    agent: Annotated[str | None, Query(max_length=200)] = None,
    action: Action | None = None,
    code: EventCode | None = None,
    outcome: Outcome | None = None,
    date_from: Annotated[datetime | None, Query(alias="date-from")] = None,
    date_to: Annotated[datetime | None, Query(alias="date-to")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    sort: SortOrder = SortOrder.DESC,
) -> HTMLResponse:
    """The audit search of ``GET /audit/events`` as a table, each row verifiable in the page."""
    answer = search_events(
        request, principal, log, settings, patient=patient or None, agent=agent or None,
        action=action, code=code, outcome=outcome, date_from=date_from, date_to=date_to,
        cursor=cursor, limit=limit, sort=sort, output=OutputFormat.JSON,
    )  # fmt: skip
    found: dict[str, Any] = orjson.loads(answer.body)
    rows = []
    for item in found["items"]:
        fields = index_fields(item["event"])
        rows.append({"index": item["index"], "fields": fields})
    return render("_audit.html", rows=rows, next_cursor=found["next_cursor"])


@router.get("/consent/{patient}")
def consent(request: Request, principal: AnyPrincipal, patient: PatientPath) -> HTMLResponse:
    """Consent state, receipts so far, and the revoke form (the server decides who may)."""
    deployment = _deployment(request)
    request.state.audit_patient = patient
    receipts = [r.to_dict() for r in deployment.consent.revocations.receipts(patient)]
    return render(
        "_consent.html",
        patient=patient,
        consent=deployment.consent.status(patient),
        receipts=receipts,
        purposes=sorted(deployment.consent.policy.purposes),
    )


@router.post("/consent/{patient}/revoke")
def revoke(
    request: Request, principal: AnyPrincipal, patient: PatientPath, body: RevokeRequest
) -> HTMLResponse:
    """Revoke (``POST /consent/{patient}/revoke``'s service call) and show the receipt.

    Only a bearer token authorises this (no cookie: a cross-site form cannot carry it), and a
    request a browser marks as cross-site is refused as well (defence in depth)."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if (site is not None and site not in SAME_SITE) or (origin is not None and origin != expected):
        raise Forbidden("cross-site request refused")
    deployment = _deployment(request)
    request.state.audit_patient = patient
    receipt = deployment.consent.revoke(
        patient, body.purposes or None, retroactive=body.retroactive,
        requested_by=Agent(principal.agent, role=principal.role.value),
    )  # fmt: skip
    return render("_receipt.html", receipt=receipt.to_dict())


@router.get("/replays")
def replays(request: Request, principal: AnyPrincipal, settings: SettingsDep) -> HTMLResponse:
    reports = views.replay_reports(settings.data_dir.root)
    request.state.result_count = len(reports)
    return render("_replays.html", reports=reports, root=settings.data_dir.root.name)


@router.get("/replays/{index}")
def replay_report(
    request: Request,
    principal: AnyPrincipal,
    settings: SettingsDep,
    index: Annotated[int, Path(ge=0, le=10_000)],
) -> HTMLResponse:
    """The ``index``-th report.html, shown by the page in a sandboxed frame (no scripts)."""
    path = views.report_path(settings.data_dir.root, index)
    if path is None:
        raise NotFound(f"replay report {index} not found")
    request.state.result_count = 1
    return HTMLResponse(path.read_text(encoding="utf-8", errors="replace"))
