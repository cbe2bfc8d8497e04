"""HTTP app for the mock scoring endpoints: thin routes over ``ScoringService`` (same code).

``create_app`` returns a ``ScoringApp``: FastAPI with every route and the OpenAPI docs, behind
an ASGI fast path for the streaming hot route ``POST /icu/risk-assessment`` (ADR 0050).

No ``from __future__ import annotations`` here on purpose: the request models are built at
run time from ``policies/endpoints.yaml`` and FastAPI must see them as real classes.

Access: the same token store and roles as the audit API (``clinflow.api.auth``), enforced
by the access gate (``clinflow.api.gate``) in front of both the fast path and FastAPI: role
``scoring`` posts assessments and reads features/alerts (audited, with the principal), a
``patient`` token reads its own; retraction needs the deployment's registered service token;
bodies are bounded before they are parsed (ADR 0080, 0081).

Errors: request-model failures and ``InputRejected`` → 422 with ``detail[].loc`` naming the
field and never echoing its value; unknown alert → 404. Every response carrying a score says
it is a mock.
"""

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, TypeAdapter
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:  # the access gate is the application layer's (imported where used)
    from clinflow.api.auth import Authenticator
    from clinflow.api.gate import GateControl
    from clinflow.api.settings import Limits

from clinflow.asgi import send_json as _send_json
from clinflow.audit.buffer import RequestAudit, request_audit
from clinflow.errors import AuditUnavailable, ClinflowError, InputRejected
from clinflow.interfaces import AuditSink, RetractionRequest
from clinflow.scoring.identifiers import check_patient
from clinflow.scoring.models import AcknowledgeRequest, RetractionBody
from clinflow.scoring.news2 import MOCK_LABEL
from clinflow.scoring.service import ScoringService
from clinflow.scoring.triage import TRIAGE_MOCK_LABEL

FHIR_JSON = "application/fhir+json"

DESCRIPTION = f"""
**{MOCK_LABEL}**

Mock ICU deterioration (NEWS2 per RCP 2017, qSOFA per Seymour 2016) and ER triage
(**{TRIAGE_MOCK_LABEL}**) endpoints for the clinflow pipeline simulator.

Minimum necessary: each request model lists exactly the fields allowed by
`policies/endpoints.yaml` and forbids all others — race, ethnicity or any unlisted field is
refused with 422 naming the field. Outputs are FHIR R5 RiskAssessment resources (or plain
JSON), each carrying its lineage (the input Observation ids).
"""


class FastJSONResponse(Response):
    """orjson-rendered JSON (datetimes, dataclass-free dicts)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class FhirResponse(FastJSONResponse):
    media_type = FHIR_JSON


def rejected_content(exc: InputRejected) -> dict[str, Any]:
    """422 body for a refused input: where and why, never the value."""
    loc = ["body", *[p for p in exc.location.split(".") if p]]
    return {
        "message": f"request refused: {exc.location}: {exc.reason}",
        "detail": [{"loc": loc, "msg": exc.reason, "type": "input_rejected"}],
    }


def _errors_without_input(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors minus ``input``/``ctx`` (a refused field's value may be PHI)."""
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


ICU_FHIR_PATH = "/icu/risk-assessment"
# A score is released only with its audit trail durable: when the log cannot store it (full
# disk, lost database) the request fails with this, and succeeds again once the fault clears.
AUDIT_UNAVAILABLE = {"message": "audit trail unavailable: result not released, retry later"}


class ScoringApp:
    """The FastAPI app behind a fast path for the streaming hot route.

    ``POST /icu/risk-assessment`` is answered directly — same ``ScoringService`` call, same
    refusals and 422 body as the FastAPI route — skipping the framework's middleware and
    dependency machinery, which cost as much CPU as the scoring itself (ADR 0050). Every other
    request, ``/docs`` and ``/openapi.json`` go to ``fastapi``. With the AuditLog attached the
    request's entries are awaited durable (group commit) before the response; with another
    sink (appends may block) everything goes through FastAPI's threadpool. The access gate
    is in front of both: the fast path sees only authorised requests with bounded bodies.
    """

    def __init__(self, fastapi: FastAPI, service: ScoringService, control: "GateControl") -> None:
        from clinflow.api.gate import AccessGate

        self.fastapi = fastapi
        self.service = service
        self.control = control
        # With the AuditLog attached the fast path commits the request's entries with
        # ``append_many_async`` before responding (ADR 0015); a plain sink blocks: FastAPI.
        self.fast_path = service.audit is None or isinstance(service.audit, RequestAudit)
        self._store_saved: asyncio.Future[None] | None = None  # see _inputs_stored
        self._gate = AccessGate(self._dispatch, control)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._gate(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.fast_path
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == ICU_FHIR_PATH
        ):
            await self._icu_fhir(scope, receive, send)
        else:
            await self.fastapi(scope, receive, send)

    async def _icu_fhir(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))  # bounded by the gate
            if not message.get("more_body", False):
                break
        try:
            scale2 = _scale2_flag(scope.get("query_string", b""))
            try:
                body = orjson.loads(b"".join(chunks))
            except orjson.JSONDecodeError as exc:
                raise InputRejected("body is not JSON", "body") from exc
            audit = self.service.audit
            if isinstance(audit, RequestAudit):
                with audit.collect() as pending:
                    score = self.service.score_icu_fhir(
                        body, spo2_scale2=scale2, defer_store=True
                    )
                stored = self._inputs_stored()
                await audit.commit(pending)  # respond once the entries are durable
            else:
                score = self.service.score_icu_fhir(body, spo2_scale2=scale2, defer_store=True)
                stored = self._inputs_stored()
            await asyncio.shield(stored)  # ... and the inputs are in the scoring store
        except InputRejected as exc:
            await _send_json(send, 422, rejected_content(exc))
            return
        except AuditUnavailable:
            await _send_json(send, 503, AUDIT_UNAVAILABLE)
            return
        except ClinflowError as exc:
            await _send_json(send, 500, {"message": type(exc).__name__})
            return
        await _send_json(send, 200, score.risk_assessment(), FHIR_JSON)


    def _inputs_stored(self) -> "asyncio.Future[None]":
        """A future done once the inputs scored so far are in the scoring store.

        The requests scored in one turn of the event loop share one store transaction (a
        callback queued behind them writes every remembered input at once), instead of one
        transaction each on the loop thread: a request still responds only after its inputs
        are stored, as before, and a failed write fails every request of that turn."""
        saved = self._store_saved
        if saved is None:
            loop = asyncio.get_running_loop()
            saved = self._store_saved = loop.create_future()
            loop.call_soon(self._store_inputs, saved)
        return saved

    def _store_inputs(self, saved: "asyncio.Future[None]") -> None:
        self._store_saved = None
        try:
            self.service.save_remembered()
        except Exception as exc:  # noqa: BLE001 - handed to every request of this turn
            saved.set_exception(exc)
        else:
            saved.set_result(None)


def _scale2_flag(query: bytes) -> bool | None:
    for name, value in parse_qsl(query.decode("latin-1")):
        if name == "spo2_scale2":
            lowered = value.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise InputRejected("spo2_scale2 must be true or false", "query.spo2_scale2")
    return None


def create_app(
    service: ScoringService | None = None,
    *,
    authenticator: "Authenticator",
    limits: "Limits | None" = None,
    access_audit: AuditSink | None = None,
) -> ScoringApp:
    """The HTTP app over ``service`` (a fresh one from the default policy if not given).

    ``authenticator``: the deployment's token store, plus the service token ``clinflow serve``
    registers for the deployment's other processes (retraction). Reads of a patient's
    features and alerts, and every refusal, are audited to ``access_audit`` (default: the
    service's audit sink; ``serve scoring --no-audit`` stops auditing scores, not access).
    """
    from clinflow.api.access import SCORING_APP
    from clinflow.api.gate import GateControl
    from clinflow.api.settings import Limits

    svc = service or ScoringService()
    svc.audit = request_audit(svc.audit)  # entries committed per request, off the state lock
    fastapi = create_fastapi(svc)
    control = GateControl(
        SCORING_APP,
        lambda: fastapi.router.routes,
        authenticator,
        limits or Limits(),
        lambda: access_audit if access_audit is not None else svc.audit,
        source="clinflow/scoring",
    )
    fastapi.state.gate = control
    return ScoringApp(fastapi, svc, control)


def create_fastapi(svc: ScoringService) -> FastAPI:
    """The FastAPI app (every route; OpenAPI docs) over ``svc``; the gate is added by
    ``create_app``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        control: GateControl | None = getattr(app.state, "gate", None)
        if control is not None:
            control.flush()  # coalesced refusals still open

    app = FastAPI(
        title="clinflow mock scoring endpoints",
        description=DESCRIPTION,
        version="0.1.0",
        default_response_class=FastJSONResponse,
        lifespan=lifespan,
    )
    app.state.scoring = svc

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _errors_without_input(exc.errors())
        fields = ", ".join(".".join(str(p) for p in d["loc"]) for d in detail[:5])
        return JSONResponse(
            status_code=422, content={"message": f"request refused: {fields}", "detail": detail}
        )

    @app.exception_handler(InputRejected)
    async def _rejected(request: Request, exc: InputRejected) -> JSONResponse:
        return JSONResponse(status_code=422, content=rejected_content(exc))

    @app.exception_handler(LookupError)
    async def _missing(request: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"message": str(exc)})

    @app.exception_handler(AuditUnavailable)
    async def _audit_unavailable(request: Request, exc: AuditUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content=AUDIT_UNAVAILABLE)

    @app.exception_handler(ClinflowError)
    async def _clinflow(request: Request, exc: ClinflowError) -> JSONResponse:
        return JSONResponse(status_code=500, content={"message": type(exc).__name__})

    def route(handler: Callable[..., Any]) -> Callable[..., Any]:
        """Scoring is CPU-only and short: run it on the event loop (no threadpool hop). With
        the AuditLog its entries are collected and awaited durable before the response; a
        plain audit sink may block on its append — then use the threadpool."""
        audit = svc.audit
        if isinstance(audit, RequestAudit):

            @functools.wraps(handler)
            async def audited_on_loop(*args: Any, **kwargs: Any) -> Any:
                with audit.collect() as pending:
                    result = handler(*args, **kwargs)
                await audit.commit(pending)  # AuditUnavailable: 503, nothing released
                return result

            return audited_on_loop
        if audit is not None:
            return handler

        @functools.wraps(handler)
        async def on_loop(*args: Any, **kwargs: Any) -> Any:
            return handler(*args, **kwargs)

        return on_loop

    IcuRequest = svc.IcuRequest
    TriageRequest = svc.TriageRequest
    TriageFhirRequest = svc.TriageFhirRequest

    icu_body_schema = TypeAdapter(svc.IcuBody).json_schema(
        ref_template="#/components/schemas/{model}"
    )
    icu_defs = icu_body_schema.pop("$defs", {})

    @app.post(
        "/icu/risk-assessment",
        tags=["icu"],
        response_class=FhirResponse,
        summary="NEWS2 + qSOFA from a FHIR Bundle (or array) of vital-sign Observations",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": icu_body_schema}},
            }
        },
    )
    @route
    def icu_fhir(
        body: Annotated[bytes, Depends(_raw_body)],
        spo2_scale2: Annotated[
            bool | None, Query(description="Use SpO2 scale 2 (hypercapnic target 88-92%).")
        ] = None,
    ) -> Any:
        # Raw JSON, checked element by element by the endpoint's minimum-necessary gate
        # (same refusals as the schema, 422 naming the location) — the hot HTTP path.
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InputRejected("body is not JSON", "body") from exc
        return svc.score_icu_fhir(parsed, spo2_scale2=spo2_scale2).risk_assessment()

    @app.post("/icu/score", tags=["icu"], summary="NEWS2 + qSOFA from plain-JSON vitals")
    @route
    def icu_json(body: Annotated[IcuRequest, Body()]) -> Any:  # type: ignore[valid-type]
        return svc.score_icu_json(body).to_json()

    @app.post(
        "/triage/risk-assessment",
        tags=["triage"],
        response_class=FhirResponse,
        summary="ESI-style triage MOCK from FHIR vital signs + age, complaint, resources",
    )
    @route
    def triage_fhir(body: Annotated[TriageFhirRequest, Body()]) -> Any:  # type: ignore[valid-type]
        return svc.triage_fhir(body).risk_assessment()

    @app.post("/triage/score", tags=["triage"], summary="ESI-style triage MOCK, plain JSON")
    @route
    def triage_json(body: Annotated[TriageRequest, Body()]) -> Any:  # type: ignore[valid-type]
        return svc.triage_json(body).to_json()

    @app.get(
        "/patients/{patient}/features",
        tags=["icu"],
        summary="Trend features (1h/4h/24h) and SOFA-style lab components",
    )
    def features(
        patient: str,
        as_of: Annotated[
            AwareDatetime | None,
            Query(description="Default: the patient's latest observation (stream time)."),
        ] = None,
    ) -> Any:
        require_held(patient)
        found = svc.patient_features(patient, as_of)
        return {
            "patient": found.patient,
            "as_of": found.as_of.isoformat(),
            "seconds_since_last_observation": found.seconds_since_last_observation,
            "sofa_labs": svc.lab_scores(patient, found.as_of).to_json(),
            "parameters": {
                p.value: {
                    "last": f.last,
                    "last_time": f.last_time.isoformat(),
                    "seconds_since_last": f.seconds_since_last,
                    "windows": {
                        name: {
                            "count": w.count,
                            "min": w.minimum,
                            "max": w.maximum,
                            "slope_per_hour": w.slope_per_hour,
                        }
                        for name, w in f.windows.items()
                    },
                }
                for p, f in found.parameters.items()
            },
        }

    @app.get("/patients/{patient}/alerts", tags=["alerts"], summary="Alerts raised for a patient")
    def alerts(patient: str) -> Any:
        require_held(patient)
        return [a.to_json() for a in svc.alerts(patient)]

    @app.post("/alerts/{alert_id}/acknowledge", tags=["alerts"], summary="Acknowledge an alert")
    def acknowledge(alert_id: str, body: AcknowledgeRequest) -> Any:
        return svc.acknowledge(alert_id, body.acknowledged_by, body.at).to_json()

    def require_held(patient: str) -> None:
        """404 for a patient the service holds nothing for (never seen, or retracted)."""
        if not svc.holds(check_patient(patient)):
            raise LookupError("no data held for this patient")

    def _receipt(request: RetractionRequest) -> dict[str, Any]:
        report = svc.retract(request)
        return {
            "status": "retracted",
            "target": report.target,
            "patient": request.patient,
            "deleted": report.deleted,
            "derived_deleted": report.derived_deleted,
            "details": list(report.details),
            "remaining": {
                "scores": 1 if svc.latest_score(request.patient) else 0,
                "alerts": len(svc.alerts(request.patient)),
                "readings": svc.features.readings_held(request.patient),
            },
        }

    @app.delete(
        "/patients/{patient}",
        tags=["retraction"],
        summary="Delete everything held for a pseudonymous patient and confirm",
    )
    def retract_patient(patient: str) -> Any:
        return _receipt(RetractionRequest(patient=check_patient(patient)))

    @app.post(
        "/patients/{patient}/retractions",
        tags=["retraction"],
        summary="Retract a patient's data (optionally by purpose or input message ids)",
    )
    def retract_some(patient: str, body: RetractionBody) -> Any:
        return _receipt(
            RetractionRequest(
                patient=check_patient(patient),
                purposes=tuple(body.purposes),
                message_ids=tuple(body.message_ids),
                reason=body.reason,
            )
        )

    @app.get("/healthz", tags=["meta"])
    def healthz() -> Any:
        return {"status": "ok", "policy_sha256": svc.policy.sha256, "label": MOCK_LABEL}

    # The raw-body route's schema refers to these component schemas.
    original_openapi = app.openapi

    def openapi_with_fhir_models() -> dict[str, Any]:
        spec = original_openapi()
        spec.setdefault("components", {}).setdefault("schemas", {}).update(icu_defs)
        return spec

    app.openapi = openapi_with_fhir_models  # type: ignore[method-assign]
    return app
