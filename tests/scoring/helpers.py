"""Helpers for the scoring tests: NEWS2 readings, US Core extensions, an in-process client."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from clinflow.scoring.app import create_app
from clinflow.scoring.service import ScoringService
from clinflow.scoring.vitals import Consciousness, Parameter, Reading
from helpers.tokens import scratch_access
from helpers.vitals import PATIENT, T0


def readings(
    rr: float | None = 16,
    spo2: float | None = 97,
    oxygen: bool | None = False,
    sbp: float | None = 120,
    hr: float | None = 70,
    acvpu: str | None = "A",
    temp: float | None = 37.0,
    gcs: float | None = None,
    age_minutes: float = 0,
) -> dict[Parameter, Reading]:
    when = T0 - timedelta(minutes=age_minutes)
    values: dict[Parameter, float | bool | Consciousness | None] = {
        Parameter.RESPIRATORY_RATE: rr,
        Parameter.SPO2: spo2,
        Parameter.SUPPLEMENTAL_OXYGEN: oxygen,
        Parameter.SYSTOLIC_BP: sbp,
        Parameter.HEART_RATE: hr,
        Parameter.CONSCIOUSNESS: Consciousness(acvpu) if acvpu else None,
        Parameter.TEMPERATURE: temp,
        Parameter.GCS: gcs,
    }
    return {p: Reading(p, v, when, f"obs-{p.value}") for p, v in values.items() if v is not None}


def us_core_extensions(race: str, ethnicity: str) -> list[dict[str, Any]]:
    base = "http://hl7.org/fhir/us/core/StructureDefinition/"
    return [
        {"url": base + "us-core-race", "extension": [{"url": "text", "valueString": race}]},
        {
            "url": base + "us-core-ethnicity",
            "extension": [{"url": "text", "valueString": ethnicity}],
        },
    ]


class Client:
    """Synchronous calls into the ASGI app (httpx in-process transport, no sockets), with a
    ``scoring`` token unless ``who`` names another (``deployment`` for retraction).

    ``fast=False`` bypasses the hot-route fast path (the gate, then the FastAPI route).
    """

    def __init__(self, service: ScoringService | None = None, fast: bool = True) -> None:
        self.service = service or ScoringService()
        self.access = scratch_access(PATIENT)
        scoring_app = create_app(self.service, authenticator=self.access.authenticator)
        self.app: Any = scoring_app if fast else _gate_only(scoring_app)

    def request(
        self, method: str, url: str, who: str | None = "scoring", **kwargs: Any
    ) -> httpx.Response:
        kwargs["headers"] = {**self.access.headers(who), **kwargs.get("headers", {})}

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(call())


def _gate_only(scoring_app: Any) -> Any:
    """The app with the fast path off: every request goes through the gate to FastAPI."""
    scoring_app.fast_path = False
    return scoring_app
