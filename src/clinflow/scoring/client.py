"""Clients of the scoring endpoints: in process (embedded runtime) or over HTTP, one interface.

Both return the same JSON documents (FHIR RiskAssessment dicts, plain-JSON scores, retraction
receipts) because the HTTP routes and the in-process client call the same ``ScoringService``
methods. A runtime picks one at start-up and never knows which it has.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from clinflow.errors import InputRejected
from clinflow.interfaces import RetractionRequest
from clinflow.scoring.service import ScoringService


class ScoringClient(Protocol):
    def icu_risk_assessment(self, body: Any, *, spo2_scale2: bool | None = None) -> Any: ...
    def icu_score(self, request: dict[str, Any]) -> Any: ...
    def triage_risk_assessment(self, request: dict[str, Any]) -> Any: ...
    def triage_score(self, request: dict[str, Any]) -> Any: ...
    def retract_patient(self, patient: str) -> Any: ...


class InProcessClient:
    """The endpoints as function calls (embedded runtime): no sockets, no serialization."""

    def __init__(self, service: ScoringService | None = None) -> None:
        self.service = service or ScoringService()

    def icu_risk_assessment(self, body: Any, *, spo2_scale2: bool | None = None) -> Any:
        return self.service.score_icu_fhir(body, spo2_scale2=spo2_scale2).risk_assessment()

    def icu_score(self, request: dict[str, Any]) -> Any:
        return self.service.score_icu_json(request).to_json()

    def triage_risk_assessment(self, request: dict[str, Any]) -> Any:
        return self.service.triage_fhir(request).risk_assessment()

    def triage_score(self, request: dict[str, Any]) -> Any:
        return self.service.triage_json(request).to_json()

    def retract_patient(self, patient: str) -> Any:
        report = self.service.retract(RetractionRequest(patient=patient))
        return {
            "status": "retracted",
            "target": report.target,
            "patient": patient,
            "deleted": report.deleted,
            "derived_deleted": report.derived_deleted,
        }


class HttpClient:
    """The same calls against ``clinflow serve scoring``; 422s become ``InputRejected``.

    ``token``: a bearer token of role ``scoring`` (``clinflow audit token create --role
    scoring``) for the scoring calls; ``service_token``: the deployment's registered service
    token (``<data-dir>/services/scoring.json``), which ``retract_patient`` needs instead.
    """

    def __init__(
        self,
        base_url: str,
        client: httpx.Client | None = None,
        *,
        token: str | None = None,
        service_token: str | None = None,
    ) -> None:
        self._http = client or httpx.Client(base_url=base_url, timeout=10.0)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._retract_headers = (
            {"Authorization": f"Bearer {service_token}"} if service_token else {}
        )

    def close(self) -> None:
        self._http.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code == 422:
            detail = response.json().get("detail") or [{}]
            loc = ".".join(str(p) for p in detail[0].get("loc", [])[1:])
            raise InputRejected(str(detail[0].get("msg", "refused")), loc)
        response.raise_for_status()
        return response.json()

    def icu_risk_assessment(self, body: Any, *, spo2_scale2: bool | None = None) -> Any:
        params = {} if spo2_scale2 is None else {"spo2_scale2": str(spo2_scale2).lower()}
        return self._json(
            self._http.post("/icu/risk-assessment", json=body, params=params, headers=self._headers)
        )

    def icu_score(self, request: dict[str, Any]) -> Any:
        return self._json(self._http.post("/icu/score", json=request, headers=self._headers))

    def triage_risk_assessment(self, request: dict[str, Any]) -> Any:
        return self._json(
            self._http.post("/triage/risk-assessment", json=request, headers=self._headers)
        )

    def triage_score(self, request: dict[str, Any]) -> Any:
        return self._json(self._http.post("/triage/score", json=request, headers=self._headers))

    def retract_patient(self, patient: str) -> Any:
        receipt = self._json(
            self._http.delete(f"/patients/{patient}", headers=self._retract_headers)
        )
        return {
            k: receipt[k] for k in ("status", "target", "patient", "deleted", "derived_deleted")
        }
