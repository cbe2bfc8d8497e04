"""MedicationAdministration of a norepinephrine infusion (RxNorm 7512), one per pump record.

Ids are ``<patient>-ma-<nnn>``; the rate is ``dosage.rateQuantity`` in UCUM ``ug/kg/min``;
R5 writes ``medication.concept`` and ``occurenceDateTime``, R4B ``medicationCodeableConcept``
and ``effectiveDateTime``. Each record is ``in-progress`` but the stay's last (``completed``).
"""

from __future__ import annotations

from clinflow.synthetic.fhir.resources import PatientFhir, iso
from clinflow.synthetic.infusions import RateRecord
from clinflow.synthetic.manifest import PhiKind, Subject

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
NOREPINEPHRINE = ("7512", "norepinephrine")
RATE_UNIT = "ug/kg/min"


def administration_id(patient_id: str, number: int) -> str:
    return f"{patient_id}-ma-{number:03d}"


def norepinephrine_administration(
    out: PatientFhir, encounter_id: str, record: RateRecord, plant_date: bool
) -> str:
    """Add one MedicationAdministration for ``record``; plant its date when asked (the first
    record of a day). Returns the id."""
    p = out.patient
    code, display = NOREPINEPHRINE
    concept = {"coding": [{"system": RXNORM, "code": code, "display": display}],
               "text": display}  # fmt: skip
    at = iso(record.at)
    resource: dict[str, object] = {
        "resourceType": "MedicationAdministration",
        "id": administration_id(p.fhir_id, record.number),
        "status": "completed" if record.last else "in-progress",
        "subject": {"reference": f"Patient/{p.fhir_id}"},
    }
    time_field = "occurenceDateTime" if out.version == "R5" else "effectiveDateTime"
    if out.version == "R5":
        resource["medication"] = {"concept": concept}
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    else:
        resource["medicationCodeableConcept"] = concept
        resource["context"] = {"reference": f"Encounter/{encounter_id}"}
    resource[time_field] = at
    resource["dosage"] = {
        "route": {"text": "intravenous"},
        "rateQuantity": {"value": record.rate, "unit": RATE_UNIT, "system": UCUM,
                         "code": RATE_UNIT},
    }  # fmt: skip
    admin_id = out.add(resource)
    if plant_date:
        out.plant(
            f"MedicationAdministration/{admin_id}",
            time_field,
            at,
            PhiKind.DATE,
            Subject.PATIENT,
            "first infusion record of the day",
        )
    return admin_id
