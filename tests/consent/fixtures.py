"""Hand-written FHIR Consent fixtures (R5 and R4B) in the shape of the spec's examples.

No real people: patients are pseudonyms or synthetic MRNs.
"""

from __future__ import annotations

from typing import Any

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
DCM = "http://dicom.nema.org/resources/ontology/DCM"

PATIENT_A = "PT-00000000000000aa"
PATIENT_B = "PT-00000000000000bb"
PATIENT_C = "PT-00000000000000cc"


def purpose(code: str) -> dict[str, Any]:
    return {"system": ACT_REASON, "code": code}


def resource_class(code: str) -> dict[str, Any]:
    return {"system": RESOURCE_TYPES, "code": code}


def modality(code: str) -> dict[str, Any]:
    return {"system": DCM, "code": code}


def r5_consent(
    consent_id: str,
    patient: str,
    decision: str = "permit",
    provisions: list[dict[str, Any]] | None = None,
    *,
    status: str = "active",
    period: dict[str, str] | None = None,
    date: str | None = "2024-01-01",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": consent_id,
        "status": status,
        "subject": {"reference": f"Patient/{patient}"},
        "decision": decision,
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
    }
    if date:
        resource["date"] = date
    if provisions:
        resource["provision"] = provisions
    if period:
        resource["period"] = period
    return resource


def r4b_consent(
    consent_id: str,
    patient: str,
    provision: dict[str, Any],
    *,
    status: str = "active",
    date_time: str | None = "2024-01-01T00:00:00Z",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": consent_id,
        "status": status,
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                 "code": "research"}
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "provision": provision,
    }
    if date_time:
        resource["dateTime"] = date_time
    return resource


def research_opt_in_r5(patient: str, consent_id: str = "research-optin") -> dict[str, Any]:
    """R5: deny by default, an exception permits research and treatment."""
    return r5_consent(
        consent_id,
        patient,
        "deny",
        [{"purpose": [purpose("HRESCH"), purpose("TREAT")]}],
    )
