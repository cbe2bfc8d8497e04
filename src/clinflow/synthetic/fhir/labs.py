"""Laboratory Observations (category ``laboratory``, LOINC codes, UCUM units) of a lab set.

Ids are ``<patient>-lab-<nnn>-<analyte>``: the stem is the draw, the suffix the analyte, as
the HL7 v2 mapper names the OBX of one OBR (``clinflow.ehr.hl7.observation_map``), so a
cohort sent as ORU^R01 maps back to the same ids. Codes: lactate 2524-7 mmol/L (REFERENCE.md),
creatinine 2160-0 and total bilirubin 1975-2 mg/dL, leukocytes 6690-2 and platelets 777-3
10*3/uL.
"""

from __future__ import annotations

from clinflow.synthetic.fhir.resources import PatientFhir, iso
from clinflow.synthetic.labs import LabSet
from clinflow.synthetic.manifest import PhiKind, Subject

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "laboratory",
            }
        ]
    }
]
# analyte -> (LOINC code, display, UCUM unit)
LAB_CODES: dict[str, tuple[str, str, str]] = {
    "lactate": ("2524-7", "Lactate [Moles/volume] in Serum or Plasma", "mmol/L"),
    "creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL"),
    "wbc": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL"),
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL"),
    "bilirubin": ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL"),
}


def lab_stem(patient_id: str, number: int) -> str:
    return f"{patient_id}-lab-{number:03d}"


def lab_observations(
    out: PatientFhir, encounter_id: str, labs: LabSet, plant_date: bool
) -> list[str]:
    """Add one Observation per analyte of ``labs``; plant the draw's date when asked (the
    first draw of a day: all results of the patient that day share it). Returns the ids."""
    p = out.patient
    stem = lab_stem(p.fhir_id, labs.number)
    at = iso(labs.at)
    ids = []
    for name, value in labs.values.items():
        code, display, unit = LAB_CODES[name]
        number: int | float = int(value) if name == "platelets" else value  # a count
        resource: dict[str, object] = {
            "resourceType": "Observation",
            "id": f"{stem}-{name}",
            "status": "final",
            "category": CATEGORY,
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": {"reference": f"Patient/{p.fhir_id}"},
            "encounter": {"reference": f"Encounter/{encounter_id}"},
            "effectiveDateTime": at,
            "valueQuantity": {"value": number, "unit": unit, "system": UCUM, "code": unit},
        }
        ids.append(out.add(resource))
    if plant_date and ids:
        out.plant(
            f"Observation/{ids[0]}",
            "effectiveDateTime",
            at,
            PhiKind.DATE,
            Subject.PATIENT,
            "first lab draw of the day (all lab results of the patient that day share it)",
        )
    return ids
