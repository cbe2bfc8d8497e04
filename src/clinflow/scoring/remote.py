"""The running scoring service as a retraction target, reached over HTTP with its token.

Registered by the composition root when ``<data-dir>/services/scoring.json`` says a
``clinflow serve scoring|all`` owns the deployment's scoring state. Any failure to reach it
(connection refused, timeout, a non-2xx answer) raises, so the revocation receipt marks the
target failed and stays incomplete until ``consent revoke --retry`` reaches it.
"""

from __future__ import annotations

import httpx

from clinflow.interfaces import RetractionReport, RetractionRequest
from clinflow.scoring.store import SCORING_SINKS, TARGET_NAME
from clinflow.services import ServiceRegistration

TIMEOUT_S = 5.0


class RemoteScoringTarget:
    name = TARGET_NAME
    covers = SCORING_SINKS

    def __init__(
        self, registration: ServiceRegistration, client: httpx.Client | None = None
    ) -> None:
        self.registration = registration
        self._client = client

    def retract(self, request: RetractionRequest) -> RetractionReport:
        body = {
            "purposes": list(request.purposes),
            "message_ids": list(request.message_ids),
            "reason": request.reason,
        }
        headers = {"Authorization": f"Bearer {self.registration.token}"}
        url = f"{self.registration.url.rstrip('/')}/patients/{request.patient}/retractions"
        if self._client is not None:
            response = self._client.post(url, json=body, headers=headers)
        else:
            with httpx.Client(timeout=TIMEOUT_S) as client:
                response = client.post(url, json=body, headers=headers)
        response.raise_for_status()
        receipt = response.json()
        return RetractionReport(
            self.name,
            int(receipt.get("deleted", 0)),
            int(receipt.get("derived_deleted", 0)),
            (f"via {self.registration.url}", *map(str, receipt.get("details", ()))),
        )
