"""Hand-written FHIR vital-sign Observations for the scoring and consent tests (synthetic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

PATIENT = "PT-0123456789abcdef"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


def _observation(
    obs_id: str, system: str, code: str, when: datetime, patient: str, **value: Any
) -> dict[str, Any]:
    """The fields every test Observation shares, followed by its value fields."""
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when.isoformat(),
        **value,
    }


def quantity_obs(
    obs_id: str, code: str, value: float, unit: str, when: datetime = T0, patient: str = PATIENT
) -> dict[str, Any]:
    return _observation(
        obs_id,
        LOINC,
        code,
        when,
        patient,
        category=[
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        valueQuantity={
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    )


def bp_obs(
    obs_id: str, systolic: float, when: datetime = T0, patient: str = PATIENT
) -> dict[str, Any]:
    return _observation(
        obs_id,
        LOINC,
        "85354-9",
        when,
        patient,
        component=[
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": systolic, "unit": "mm[Hg]", "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 70, "unit": "mm[Hg]", "code": "mm[Hg]"},
            },
        ],
    )


def acvpu_obs(
    obs_id: str, level: str, when: datetime = T0, patient: str = PATIENT
) -> dict[str, Any]:
    return _observation(
        obs_id,
        SNOMED,
        "1104441000000107",
        when,
        patient,
        valueCodeableConcept={"coding": [{"system": SNOMED, "code": level}], "text": level},
    )


def vital_set(
    prefix: str = "o",
    *,
    rr: float = 16,
    spo2: float = 97,
    o2_flow: float | None = 0,
    sbp: float = 120,
    hr: float = 70,
    acvpu: str = "A",
    temp: float = 37.0,
    temp_unit: str = "Cel",
    when: datetime = T0,
    patient: str = PATIENT,
) -> list[dict[str, Any]]:
    """A complete set of NEWS2 vital signs (defaults score 0)."""
    observations = [
        quantity_obs(f"{prefix}-rr", "9279-1", rr, "/min", when, patient),
        quantity_obs(f"{prefix}-spo2", "59408-5", spo2, "%", when, patient),
        bp_obs(f"{prefix}-bp", sbp, when, patient),
        quantity_obs(f"{prefix}-hr", "8867-4", hr, "/min", when, patient),
        acvpu_obs(f"{prefix}-acvpu", acvpu, when, patient),
        quantity_obs(f"{prefix}-temp", "8310-5", temp, temp_unit, when, patient),
    ]
    if o2_flow is not None:
        observations.append(quantity_obs(f"{prefix}-o2", "3151-8", o2_flow, "L/min", when, patient))
    return observations


def bundle(observations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{o['id']}", "resource": o} for o in observations],
    }


def later(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)
