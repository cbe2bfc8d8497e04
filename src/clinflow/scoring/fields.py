"""The field catalog: every field a scoring endpoint *may* be allowed to receive.

``FIELD_CATALOG`` maps a field name to its pydantic definition (type, bounds, meaning). The
endpoints policy (``clinflow.scoring.policy``) checks its field lists against these names; the
request models (``clinflow.scoring.models``) are built from them. Kept apart from both so
neither has to import the other.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from clinflow.patient_ids import PSEUDONYM_RE
from clinflow.scoring.triage import ChiefComplaint
from clinflow.scoring.vitals import Consciousness, Parameter

PSEUDONYM_PATTERN = PSEUDONYM_RE.pattern  # clinflow pseudonyms (PT-<hex>)


def _optional(
    annotation: Any, description: str, *, ge: float | None = None, le: float | None = None
) -> tuple[Any, Any]:
    """A field the caller may leave out (``None``), within ``ge``/``le`` when given."""
    return (annotation, Field(default=None, ge=ge, le=le, description=description))


def _measured(ge: float, le: float, description: str) -> tuple[Any, Any]:
    """An optional measurement (vital sign or lab value) within physiological bounds."""
    return _optional(float | None, description, ge=ge, le=le)


def _flag(description: str) -> tuple[Any, Any]:
    """A yes/no field that is off unless the caller sets it."""
    return (bool, Field(default=False, description=description))


# name -> (annotation, Field(...)). Only names in here may appear in the policy.
FIELD_CATALOG: dict[str, tuple[Any, Any]] = {
    "patient": (
        str,
        Field(pattern=PSEUDONYM_PATTERN, description="Patient pseudonym (never a source id)."),
    ),
    "observed_at": _optional(AwareDatetime | None, "When the vitals were taken (default: now)."),
    "respiratory_rate": _measured(0, 120, "/min"),
    "spo2": _measured(0, 100, "SpO2 %"),
    "spo2_scale2": _flag("Use NEWS2 SpO2 scale 2 (hypercapnic, target 88-92%)."),
    "supplemental_oxygen": _optional(bool | None, "On supplemental oxygen (True) or air (False)."),
    "systolic_bp": _measured(0, 400, "mmHg"),
    "heart_rate": _measured(0, 400, "/min"),
    "consciousness": _optional(Consciousness | None, "ACVPU: A, C (new confusion), V, P or U."),
    "gcs": _optional(int | None, "Glasgow Coma Scale total", ge=3, le=15),
    "temperature_c": _measured(15, 46, "°C"),
    "lactate_mmol_per_l": _measured(0, 40, "Lactate, mmol/L (LOINC 2524-7)"),
    "creatinine_mg_per_dl": _measured(0, 40, "Creatinine, mg/dL (LOINC 2160-0)"),
    "bilirubin_mg_per_dl": _measured(0, 80, "Total bilirubin, mg/dL (LOINC 1975-2)"),
    "platelets_k_per_ul": _measured(0, 5000, "Platelets, 10^3/uL (LOINC 777-3)"),
    "wbc_k_per_ul": _measured(0, 1000, "Leukocytes, 10^3/uL (LOINC 6690-2)"),
    "age_years": (
        float,
        Field(ge=0, le=90, description="Age in years (fractions for infants; 90 means 90+)."),
    ),
    "chief_complaint": (ChiefComplaint, Field(description="Chief-complaint category.")),
    "expected_resources": (
        int,
        Field(ge=0, le=20, description="Expected number of different ED resources (ESI)."),
    ),
    "pain_score": _optional(int | None, "0-10", ge=0, le=10),
    "requires_immediate_intervention": _flag("ESI decision point A: immediate life-saving need."),
    "high_risk_situation": _flag("ESI decision point B: high-risk situation."),
}

# Plain-JSON vital-sign field -> parameter (temperature always °C in the plain variant).
JSON_VITALS: dict[str, Parameter] = {
    "respiratory_rate": Parameter.RESPIRATORY_RATE,
    "spo2": Parameter.SPO2,
    "supplemental_oxygen": Parameter.SUPPLEMENTAL_OXYGEN,
    "systolic_bp": Parameter.SYSTOLIC_BP,
    "heart_rate": Parameter.HEART_RATE,
    "consciousness": Parameter.CONSCIOUSNESS,
    "gcs": Parameter.GCS,
    "temperature_c": Parameter.TEMPERATURE,
}
# Plain-JSON lab field -> parameter (canonical units, see clinflow.scoring.vitals.LAB_UNITS).
JSON_LABS: dict[str, Parameter] = {
    "lactate_mmol_per_l": Parameter.LACTATE,
    "creatinine_mg_per_dl": Parameter.CREATININE,
    "bilirubin_mg_per_dl": Parameter.BILIRUBIN,
    "platelets_k_per_ul": Parameter.PLATELETS,
    "wbc_k_per_ul": Parameter.WBC,
}
JSON_FIELDS: dict[str, Parameter] = {**JSON_VITALS, **JSON_LABS}
