"""Helpers for the scoring tests: NEWS2 readings and US Core extensions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from clinflow.scoring.vitals import Consciousness, Parameter, Reading
from helpers.vitals import T0


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
