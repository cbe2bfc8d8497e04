"""Claim and ExplanationOfBenefit (R5 and R4B) for a stay, with their planted identifiers.

An institutional claim as a hospital sends it after discharge: the claim number, the
patient control number (the hospital account number, UB-04 form locator 3a), the member id
of the coverage, the billable period and service dates, the billing hospital. The payer's
EOB repeats the member id and dates and adds its own control number and the payment date.
"""

from __future__ import annotations

import hashlib

from clinflow.synthetic.clinical import ClinicalPlan, Service
from clinflow.synthetic.fhir.clinical import ICD10CM
from clinflow.synthetic.fhir.resources import (
    BASE_URL,
    PatientFhir,
    fhir_coding,
    fhir_identifier,
    iso,
)
from clinflow.synthetic.manifest import PhiKind, Subject

CPT = "http://www.ama-assn.org/go/cpt"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"


NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
PAYER_SYSTEM = f"{BASE_URL}/sid/payer-id"


def _organization(name: str, system: str) -> dict[str, object]:
    """A reference to an organization by its (not patient-related) identifier and its name.

    The identifier is what survives de-identification (R4B requires ``provider`` and
    ``insurer``); the display, a planted institution name, is redacted.
    """
    digits = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 10**9
    value = f"1{digits:09d}" if system == NPI_SYSTEM else f"PAYER{digits % 10**5:05d}"
    return {"identifier": {"system": system, "value": value}, "display": name}


def _money(value: float) -> dict[str, object]:
    return {"value": round(value, 2), "currency": "USD"}


def _coverage(out: PatientFhir, sequence: bool) -> dict[str, object]:
    """The patient's coverage, referenced by member id (what a claim actually carries)."""
    member = {
        "system": f"{BASE_URL}/sid/health-plan-member",
        "value": out.patient.health_plan_id,
    }
    insurance: dict[str, object] = {"focal": True, "coverage": {"identifier": member}}
    return {"sequence": 1, **insurance} if sequence else insurance


def _common(out: PatientFhir, plan: ClinicalPlan, discharged_iso: str) -> dict[str, object]:
    p = out.patient
    return {
        "status": "active",
        "type": {"coding": [fhir_coding(CLAIM_TYPE, "institutional", "Institutional")]},
        "use": "claim",
        "patient": {"reference": f"Patient/{p.fhir_id}"},
        "billablePeriod": {"start": iso(p.admitted_at), "end": discharged_iso},
    }


def _diagnoses(plan: ClinicalPlan) -> list[dict[str, object]]:
    return [
        {
            "sequence": number,
            "diagnosisCodeableConcept": {
                "coding": [fhir_coding(ICD10CM, diagnosis.icd10, diagnosis.display)]
            },
            "type": [{"coding": [fhir_coding(DIAGNOSIS_TYPE, role)]}],
        }
        for number, diagnosis in enumerate(plan.diagnoses, start=1)
        for role in ["admitting" if number == 1 else "clinical"]
    ]


def _item(number: int, service: Service, served: str) -> dict[str, object]:
    return {
        "sequence": number,
        "productOrService": {"coding": [fhir_coding(CPT, service.cpt, service.display)]},
        "servicedDate": served,
        "unitPrice": _money(service.price),
        "net": _money(service.price),
    }


def _plant_shared(out: PatientFhir, ref: str, discharged_iso: str, items: int) -> None:
    p = out.patient
    pat = Subject.PATIENT
    out.plant(ref, "billablePeriod.start", iso(p.admitted_at), PhiKind.DATE, pat, "admission")
    out.plant(ref, "billablePeriod.end", discharged_iso, PhiKind.DATE, pat, "discharge")
    out.plant(ref, "insurance[0].coverage.identifier.value", p.health_plan_id,
              PhiKind.HEALTH_PLAN, pat, "member id")
    out.plant(ref, "provider.display", p.institution.name, PhiKind.INSTITUTION,
              Subject.INSTITUTION)
    served = p.admitted_at.date().isoformat()
    for number in range(items):
        out.plant(ref, f"item[{number}].servicedDate", served, PhiKind.DATE, pat, "service date")


def claim_resource(
    out: PatientFhir, claim_id: str, plan: ClinicalPlan, discharged_iso: str
) -> None:
    p = out.patient
    served = p.admitted_at.date().isoformat()
    resource: dict[str, object] = {
        "resourceType": "Claim",
        "id": claim_id,
        "identifier": [
            {"system": f"{BASE_URL}/sid/claim", "value": plan.claim_number},
            fhir_identifier("AN", f"{BASE_URL}/sid/account", p.account_number),
        ],
        **_common(out, plan, discharged_iso),
        "created": iso(plan.claim_created),
        "provider": _organization(p.institution.name, NPI_SYSTEM),
        "priority": {"coding": [fhir_coding(PROCESS_PRIORITY, "normal")]},
        "insurance": [_coverage(out, sequence=True)],
        "diagnosis": _diagnoses(plan),
        "item": [
            _item(number, service, served) for number, service in enumerate(plan.services, 1)
        ],
        "total": _money(plan.total),
    }
    out.add(resource)
    ref = f"Claim/{claim_id}"
    pat = Subject.PATIENT
    out.plant(ref, "identifier[0].value", plan.claim_number, PhiKind.OTHER_ID, pat, "claim number")
    out.plant(ref, "identifier[1].value", p.account_number, PhiKind.ACCOUNT, pat,
              "patient control number")
    out.plant(ref, "created", iso(plan.claim_created), PhiKind.DATE, pat, "claim created")
    _plant_shared(out, ref, discharged_iso, len(plan.services))


def explanation_of_benefit(
    out: PatientFhir, eob_id: str, claim_id: str, plan: ClinicalPlan, discharged_iso: str
) -> None:
    p = out.patient
    served = p.admitted_at.date().isoformat()
    paid = round(plan.total * plan.paid_share, 2)

    def adjudication(submitted: float, benefit: float) -> list[dict[str, object]]:
        return [
            {"category": {"coding": [fhir_coding(ADJUDICATION, "submitted")]},
             "amount": _money(submitted)},
            {"category": {"coding": [fhir_coding(ADJUDICATION, "benefit")]},
             "amount": _money(benefit)},
        ]

    items = []
    for number, service in enumerate(plan.services, 1):
        item = _item(number, service, served)
        del item["unitPrice"]
        item["adjudication"] = adjudication(service.price, service.price * plan.paid_share)
        items.append(item)
    resource: dict[str, object] = {
        "resourceType": "ExplanationOfBenefit",
        "id": eob_id,
        "identifier": [
            {"system": f"{BASE_URL}/sid/payer-control-number", "value": plan.payer_control_number}
        ],
        **_common(out, plan, discharged_iso),
        "created": iso(plan.eob_created),
        "insurer": _organization(plan.payer, PAYER_SYSTEM),
        "provider": _organization(p.institution.name, NPI_SYSTEM),
        "claim": {"reference": f"Claim/{claim_id}"},
        "outcome": "complete",
        "insurance": [_coverage(out, sequence=False)],
        "diagnosis": _diagnoses(plan),
        "item": items,
        "total": [
            {"category": entry["category"], "amount": entry["amount"]}
            for entry in adjudication(plan.total, paid)
        ],
        "payment": {"date": plan.eob_created.date().isoformat(), "amount": _money(paid)},
    }
    out.add(resource)
    ref = f"ExplanationOfBenefit/{eob_id}"
    pat = Subject.PATIENT
    out.plant(ref, "identifier[0].value", plan.payer_control_number, PhiKind.OTHER_ID, pat,
              "payer claim control number")
    out.plant(ref, "created", iso(plan.eob_created), PhiKind.DATE, pat, "adjudicated")
    out.plant(ref, "payment.date", plan.eob_created.date().isoformat(), PhiKind.DATE, pat,
              "payment date")
    _plant_shared(out, ref, discharged_iso, len(plan.services))
