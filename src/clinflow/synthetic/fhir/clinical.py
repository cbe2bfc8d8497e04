"""Condition, MedicationRequest and DiagnosticReport (R5 and R4B) from a ``ClinicalPlan``.

Each resource carries planted identifiers recorded in the manifest like the other builders'
(``ResourceType/id#path``): the EHR's problem-list, order and report numbers, dates, the
clinicians who recorded, ordered or interpreted, the performing hospital, and the report's
free text (``presentedForm`` base64 note and ``conclusion``, with character spans).
"""

from __future__ import annotations

import base64
import random

from clinflow.synthetic.clinical import ClinicalPlan
from clinflow.synthetic.fhir.resources import (
    BASE_URL,
    PatientFhir,
    fhir_coding,
    fhir_identifier,
    iso,
)
from clinflow.synthetic.manifest import PhiKind, Subject
from clinflow.synthetic.model import Person
from clinflow.synthetic.notes import NoteBuilder, format_date, write_note

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"


def _who(person: Person) -> str:
    return f"{person.prefix} {person.full_name}" if person.prefix else person.full_name


def _context(out: PatientFhir, encounter_id: str) -> dict[str, object]:
    return {
        "subject": {"reference": f"Patient/{out.patient.fhir_id}"},
        "encounter": {"reference": f"Encounter/{encounter_id}"},
    }


def condition_resource(
    out: PatientFhir, condition_id: str, encounter_id: str, plan: ClinicalPlan, number: int
) -> None:
    """A diagnosis of the stay (``number`` 0 is the admission diagnosis)."""
    diagnosis = plan.diagnoses[number]
    recorder = _who(out.patient.clinicians[0].person)
    resource: dict[str, object] = {
        "resourceType": "Condition",
        "id": condition_id,
        "identifier": [{"system": f"{BASE_URL}/sid/problem", "value": plan.problem_ids[number]}],
        "clinicalStatus": {"coding": [fhir_coding(CONDITION_CLINICAL, "active")]},
        "verificationStatus": {"coding": [fhir_coding(CONDITION_VERIFICATION, "confirmed")]},
        "category": [
            {
                "coding": [
                    fhir_coding(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")
                ]
            }
        ],
        "code": {
            "coding": [
                fhir_coding(SNOMED, diagnosis.snomed, diagnosis.display),
                fhir_coding(ICD10CM, diagnosis.icd10),
            ],
            "text": diagnosis.display,
        },
        **_context(out, encounter_id),
        "onsetDateTime": iso(plan.onset),
        "recordedDate": iso(plan.recorded[number]),
    }
    if out.version == "R5":
        resource["participant"] = [
            {
                "function": {"coding": [fhir_coding(PARTICIPANT_TYPE, "author")]},
                "actor": {"display": recorder},
            }
        ]
        recorder_path = "participant[0].actor.display"
    else:
        resource["recorder"] = {"display": recorder}
        recorder_path = "recorder.display"
    out.add(resource)
    ref = f"Condition/{condition_id}"
    pat = Subject.PATIENT
    out.plant(ref, "identifier[0].value", plan.problem_ids[number], PhiKind.OTHER_ID, pat,
              "problem list id")
    out.plant(ref, "onsetDateTime", iso(plan.onset), PhiKind.DATE, pat, "symptom onset")
    out.plant(ref, "recordedDate", iso(plan.recorded[number]), PhiKind.DATE, pat, "recorded")
    out.plant(ref, recorder_path, recorder, PhiKind.NAME, Subject.CLINICIAN,
              "clinician:attending")


def medication_request(
    out: PatientFhir,
    request_id: str,
    encounter_id: str,
    plan: ClinicalPlan,
    number: int,
    condition_id: str,
) -> None:
    """An inpatient medication order for the admission diagnosis ``condition_id``."""
    medication = plan.medications[number]
    requester = _who(out.patient.clinicians[0].person)
    concept = {
        "coding": [fhir_coding(RXNORM, medication.rxnorm, medication.display)],
        "text": medication.display,
    }
    resource: dict[str, object] = {
        "resourceType": "MedicationRequest",
        "id": request_id,
        "identifier": [
            fhir_identifier("PLAC", f"{BASE_URL}/sid/order", plan.order_numbers[number])
        ],
        "status": "active",
        "intent": "order",
        **_context(out, encounter_id),
        "authoredOn": iso(plan.ordered[number]),
        "requester": {"display": requester},
        "dosageInstruction": [{"text": medication.dosage}],
    }
    reason = {"reference": f"Condition/{condition_id}"}
    if out.version == "R5":
        resource["medication"] = {"concept": concept}
        resource["reason"] = [{"reference": reason}]
    else:
        resource["medicationCodeableConcept"] = concept
        resource["reasonReference"] = [reason]
    out.add(resource)
    ref = f"MedicationRequest/{request_id}"
    pat = Subject.PATIENT
    out.plant(ref, "identifier[0].value", plan.order_numbers[number], PhiKind.OTHER_ID, pat,
              "order number")
    out.plant(ref, "authoredOn", iso(plan.ordered[number]), PhiKind.DATE, pat, "order date")
    out.plant(ref, "requester.display", requester, PhiKind.NAME, Subject.CLINICIAN,
              "clinician:attending")


def _conclusion(out: PatientFhir, plan: ClinicalPlan, rng: random.Random) -> NoteBuilder:
    """One line of findings that names the attending and the date, as reports often do."""
    attending = out.patient.clinicians[0].person
    note = NoteBuilder()
    note.text(rng.choice(("No acute findings. ", "Findings as above. ", "Abnormal, see text. ")))
    note.text("Discussed with Dr. ")
    note.phi(attending.family, PhiKind.NAME, Subject.CLINICIAN, "clinician:attending")
    note.text(" on ")
    spoken = format_date(plan.report_issued.date(), rng.randrange(5))
    note.phi(spoken, PhiKind.DATE, Subject.PATIENT, "report date")
    note.text(".")
    return note


def diagnostic_report(
    out: PatientFhir, report_id: str, encounter_id: str, plan: ClinicalPlan, rng: random.Random
) -> None:
    """A final report whose text (``presentedForm``) is a clinical note with planted PHI."""
    p = out.patient
    code, display, section, section_display = plan.report
    interpreter = _who(p.clinicians[3].person)  # the radiologist / pathologist
    _, note = write_note(p, rng, plan.report_effective)
    text = note.build()
    conclusion = _conclusion(out, plan, rng)
    resource: dict[str, object] = {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "identifier": [
            fhir_identifier("ACSN", f"{BASE_URL}/sid/report", plan.report_accession)
        ],
        "status": "final",
        "category": [{"coding": [fhir_coding(V2_0074, section, section_display)]}],
        "code": {"coding": [fhir_coding(LOINC, code, display)]},
        **_context(out, encounter_id),
        "effectiveDateTime": iso(plan.report_effective),
        "issued": iso(plan.report_issued),
        "performer": [{"display": p.institution.name}],
        "resultsInterpreter": [{"display": interpreter}],
        "conclusion": conclusion.build(),
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "language": "en",
                "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
            }
        ],
    }
    out.add(resource)
    ref = f"DiagnosticReport/{report_id}"
    pat = Subject.PATIENT
    out.plant(ref, "identifier[0].value", plan.report_accession, PhiKind.OTHER_ID, pat,
              "report accession")
    out.plant(ref, "effectiveDateTime", iso(plan.report_effective), PhiKind.DATE, pat,
              "specimen or study time")
    out.plant(ref, "issued", iso(plan.report_issued), PhiKind.DATE, pat, "report issued")
    out.plant(ref, "performer[0].display", p.institution.name, PhiKind.INSTITUTION,
              Subject.INSTITUTION)
    out.plant(ref, "resultsInterpreter[0].display", interpreter, PhiKind.NAME, Subject.CLINICIAN,
              f"clinician:{p.clinicians[3].role}")
    for path, builder in (("conclusion", conclusion), ("presentedForm[0].data", note)):
        for span in builder.spans:
            out.plant(ref, f"{path}@{span.start}-{span.end}", span.value, span.kind,
                      span.subject, span.detail)
