"""A duplicate registration and its merge: the second record of one person, merged later.

Registration desks sometimes miss an existing record and create a new one (a new MRN) for a
patient already admitted; the hospital finds the duplicate and merges it into the patient's
own record (HL7 v2 ADT^A28 then ADT^A40, FHIR ``Patient.link`` type ``replaces``: ADR 0102).
The duplicate carries what a desk records (name, sex, birth date, phone) under a 9-digit MRN
that cannot collide with the cohort's 8-digit ones (a bijection of the patient index, like
theirs). Both resources are stream updates: the record files keep one Patient per patient.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from clinflow.synthetic.fhir.resources import (
    BASE_URL,
    PatientFhir,
    fhir_identifier,
)
from clinflow.synthetic.manifest import PhiKind, Subject

_DUP_MRN_SPAN = 900_000_000  # 9-digit MRNs 100000000..999999999
_DUP_MRN_STEP = 7_919_113  # coprime with the span: index -> MRN is a bijection


@dataclass(frozen=True, slots=True)
class RegistrationPlan:
    """When the duplicate is registered and merged, and what it is called."""

    registered: datetime
    merged: datetime
    duplicate_id: str
    duplicate_mrn: str


def duplicate_mrn(seed: int, index: int) -> str:
    offset = int.from_bytes(hashlib.sha256(f"dup-mrn:{seed}".encode()).digest()[:8], "big")
    return str(100_000_000 + (index * _DUP_MRN_STEP + offset) % _DUP_MRN_SPAN)


def _demographics(out: PatientFhir, patient_id: str, mrn: str) -> dict[str, object]:
    p = out.patient
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [fhir_identifier("MR", f"{BASE_URL}/sid/mrn", mrn)],
        "name": [
            {
                "use": "official",
                "text": p.person.full_name,
                "family": p.person.family,
                "given": list(p.person.given),
            }
        ],
        "telecom": [{"system": "phone", "value": p.person.phone, "use": "home"}],
        "gender": p.sex,
        "birthDate": p.birth_date.isoformat(),
    }


def _plant(out: PatientFhir, patient_id: str, mrn: str, detail: str) -> None:
    p = out.patient
    ref, pat = f"Patient/{patient_id}", Subject.PATIENT
    out.plant(ref, "identifier[0].value", mrn, PhiKind.MRN, pat, detail)
    out.plant(ref, "name[0].text", p.person.full_name, PhiKind.NAME, pat, detail)
    out.plant(ref, "name[0].family", p.person.family, PhiKind.NAME, pat, detail)
    for position, given in enumerate(p.person.given):
        out.plant(ref, f"name[0].given[{position}]", given, PhiKind.NAME, pat, detail)
    out.plant(ref, "telecom[0].value", p.person.phone, PhiKind.PHONE, pat, detail)
    out.plant(ref, "birthDate", p.birth_date.isoformat(), PhiKind.DATE, pat, "birth_date")


def duplicate_patient(out: PatientFhir, plan: RegistrationPlan) -> None:
    """The duplicate record as the desk registered it."""
    out.add(_demographics(out, plan.duplicate_id, plan.duplicate_mrn))
    _plant(out, plan.duplicate_id, plan.duplicate_mrn, "duplicate registration")


def merge_patient(out: PatientFhir, plan: RegistrationPlan) -> None:
    """The patient's own record replacing the duplicate (the merge, ADT^A40)."""
    p = out.patient
    resource = _demographics(out, p.fhir_id, p.mrn)
    resource["link"] = [
        {
            "other": {
                "reference": f"Patient/{plan.duplicate_id}",
                "identifier": fhir_identifier("MR", f"{BASE_URL}/sid/mrn", plan.duplicate_mrn),
            },
            "type": "replaces",
        }
    ]
    out.add(resource)
    _plant(out, p.fhir_id, p.mrn, "patient merge")
    out.plant(
        f"Patient/{p.fhir_id}",
        "link[0].other.identifier.value",
        plan.duplicate_mrn,
        PhiKind.MRN,
        Subject.PATIENT,
        "merged duplicate record",
    )
