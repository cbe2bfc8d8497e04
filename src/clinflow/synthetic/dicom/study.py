"""The study template: every element the files of one study share, with planted PHI.

``build_study_template`` fills the Patient, General Study, Equipment
modules, nested request/reference sequences, a ContentSequence-like observer tree and a
private block, recording each planted identifier.
"""

from __future__ import annotations

import random

from pydicom.dataset import Dataset

from clinflow.synthetic.dicom.context import (
    PatientContext,
    StudyPlan,
    dicom_age,
    long_date,
    us_date,
)
from clinflow.synthetic.dicom.phi import Mention, Node, Planted
from clinflow.synthetic.manifest import PhiKind, Subject
from clinflow.synthetic.model import Patient

PRIVATE_CREATOR = "CLINFLOW SYNTH 1.0"
PRIVATE_GROUP = 0x0011
LO_MAX = 64  # PS3.5 6.2: LO and PN component groups hold at most 64 characters

_SEX = {"male": "M", "female": "F", "other": "O"}
# v3 RoleCode -> (words used in text, ResponsiblePersonRole defined term, PS3.3 C.7.1.1)
_RELATIONSHIP = {
    "MTH": ("mother", "PARENT"),
    "FTH": ("father", "PARENT"),
    "SPS": ("spouse", "SPOUSE"),
    "CHILD": ("child", "CHILD"),
    "SIB": ("sibling", "SIBLING"),
    "DAU": ("daughter", "CHILD"),
    "SON": ("son", "CHILD"),
    "SIS": ("sister", "SIBLING"),
    "BRO": ("brother", "SIBLING"),
}
_DETACHED_STUDY_SOP_CLASS = "1.2.840.10008.3.1.2.3.1"  # PS3.4: referenced study (retired)


def build_study_template(context: PatientContext, plan: StudyPlan, rng: random.Random) -> Node:
    """The elements every file of the study shares, with their planted PHI."""
    study_phi: list[Planted] = []
    node = Node(Dataset(), "", study_phi)
    if context.charset:
        node.put("SpecificCharacterSet", context.charset)
    _plant_patient(node, context, plan)
    _plant_study(node, context, plan, rng)
    _plant_equipment(node, context, plan)
    _plant_private_block(node, context)
    return node


def _plant_patient(node: Node, context: PatientContext, plan: StudyPlan) -> None:
    patient = context.patient
    node.plant("PatientName", patient.person.dicom_name, PhiKind.NAME, Subject.PATIENT)
    node.plant("PatientID", patient.mrn, PhiKind.MRN, Subject.PATIENT)
    other_ids = node.sequence("OtherPatientIDsSequence", 2)
    other_ids[0].plant("PatientID", patient.ssn, PhiKind.SSN, Subject.PATIENT)
    other_ids[0].put("IssuerOfPatientID", "US SSA")
    other_ids[0].put("TypeOfPatientID", "TEXT")
    other_ids[1].plant("PatientID", patient.health_plan_id, PhiKind.HEALTH_PLAN,
                       Subject.PATIENT)
    other_ids[1].put("IssuerOfPatientID", "HEALTH PLAN")
    other_ids[1].put("TypeOfPatientID", "TEXT")
    node.plant("PatientBirthDate", patient.birth_date.strftime("%Y%m%d"), PhiKind.DATE,
               Subject.PATIENT, "birth_date")
    node.put("PatientSex", _SEX.get(patient.sex, ""))
    study_day = plan.started.date()
    years = patient.age_at(study_day)
    age = dicom_age(patient.birth_date, study_day, years)
    if years > 89:
        node.plant("PatientAge", age, PhiKind.AGE_OVER_89, Subject.PATIENT)
    else:
        node.put("PatientAge", age)
    address = patient.address
    full = f"{address.line}, {address.city}, {address.state} {address.postal_code}"
    if len(full) <= LO_MAX:
        node.plant("PatientAddress", full, PhiKind.GEOGRAPHIC, Subject.PATIENT, "address")
        # the parts too, so a scanner or de-identifier is judged on partial leaks
        for part, value in (("line", address.line), ("city", address.city),
                            ("zip", address.postal_code)):
            node.phi.append(Planted("(0010,1040)", value, PhiKind.GEOGRAPHIC, Subject.PATIENT,
                                    f"part_of_value;address.{part}"))
    if patient.person.phone:
        node.plant("PatientTelephoneNumbers", patient.person.phone, PhiKind.PHONE,
                   Subject.PATIENT)
    if context.mother is not None:
        node.plant("PatientMotherBirthName", context.mother.person.dicom_name, PhiKind.NAME,
                   Subject.RELATIVE, "relative:mother")
    contact = context.contact
    if contact is not None:
        words, role = _RELATIONSHIP.get(contact.relationship, ("relative", "RELATIVE"))
        node.plant("ResponsiblePerson", contact.person.dicom_name, PhiKind.NAME,
                   Subject.RELATIVE, f"relative:{words}")
        node.put("ResponsiblePersonRole", role)
        patient_name = patient.person.full_name
        mentions = [
            Mention(patient_name, PhiKind.NAME, Subject.PATIENT),
            Mention(contact.person.full_name, PhiKind.NAME, Subject.RELATIVE,
                    f"relative:{words}"),
        ]
        text = f"{patient_name}: emergency contact {contact.person.full_name} ({words})"
        if contact.person.phone:
            text += f", tel {contact.person.phone}"
            mentions.append(Mention(contact.person.phone, PhiKind.PHONE, Subject.RELATIVE,
                                    f"relative:{words}"))
        text += f". Portal e-mail {patient.email}."
        mentions.append(Mention(patient.email, PhiKind.EMAIL, Subject.PATIENT))
        node.plant_text("PatientComments", text, mentions)
    history = (
        f"DOB {long_date(patient.birth_date)}. Prior imaging {us_date(plan.prior_date)} "
        f"at {patient.institution.name}, MRN {patient.mrn}."
    )
    node.plant_text("AdditionalPatientHistory", history, [
        Mention(long_date(patient.birth_date), PhiKind.DATE, Subject.PATIENT, "birth_date"),
        Mention(us_date(plan.prior_date), PhiKind.DATE, Subject.PATIENT, "prior_study_date"),
        Mention(patient.institution.name, PhiKind.INSTITUTION, Subject.INSTITUTION),
        Mention(patient.mrn, PhiKind.MRN, Subject.PATIENT),
    ])


def _plant_study(node: Node, context: PatientContext, plan: StudyPlan, rng: random.Random) -> None:
    patient = context.patient
    node.plant("StudyInstanceUID", plan.study_uid, PhiKind.UID, Subject.PATIENT, "study")
    node.plant("StudyDate", plan.date_text, PhiKind.DATE, Subject.PATIENT, "study_date")
    node.plant("StudyTime", plan.time_text, PhiKind.DATE, Subject.PATIENT,
               "study_time")
    node.plant("AccessionNumber", plan.accession_number, PhiKind.OTHER_ID, Subject.PATIENT,
               "accession_number")
    node.plant("StudyID", plan.study_id, PhiKind.OTHER_ID, Subject.PATIENT, "study_id")
    if context.referring is not None:
        node.plant("ReferringPhysicianName", context.referring.person.dicom_name, PhiKind.NAME,
                   Subject.CLINICIAN, f"clinician:{context.referring.role}")
    else:  # Type 2 in General Study (PS3.3 C.7.2.1): present, empty when unknown
        node.put("ReferringPhysicianName", "")
    if context.radiologist is not None:
        node.plant("NameOfPhysiciansReadingStudy", context.radiologist.person.dicom_name,
                   PhiKind.NAME, Subject.CLINICIAN, f"clinician:{context.radiologist.role}")
    described = f"{plan.description} - {context.comma_name}"
    if rng.random() < 0.3 and len(described) <= LO_MAX:
        node.plant_text("StudyDescription", described,
                        [Mention(context.comma_name, PhiKind.NAME, Subject.PATIENT)])
    else:
        node.put("StudyDescription", plan.description)

    referenced = node.sequence("ReferencedStudySequence", 1)[0]
    referenced.put("ReferencedSOPClassUID", _DETACHED_STUDY_SOP_CLASS)
    referenced.plant("ReferencedSOPInstanceUID", plan.study_uid, PhiKind.UID, Subject.PATIENT,
                     "study")
    request = node.sequence("RequestAttributesSequence", 1)[0]
    request.plant("RequestedProcedureID", plan.requested_procedure_id, PhiKind.OTHER_ID,
                  Subject.PATIENT, "requested_procedure_id")
    request.plant("ScheduledProcedureStepID", plan.scheduled_step_id, PhiKind.OTHER_ID,
                  Subject.PATIENT, "scheduled_procedure_step_id")
    request.plant("AccessionNumber", plan.accession_number, PhiKind.OTHER_ID, Subject.PATIENT,
                  "accession_number")
    request.put("RequestedProcedureDescription", plan.description)
    nested = request.sequence("ReferencedStudySequence", 1)[0]
    nested.put("ReferencedSOPClassUID", _DETACHED_STUDY_SOP_CLASS)
    nested.plant("ReferencedSOPInstanceUID", plan.study_uid, PhiKind.UID, Subject.PATIENT,
                 "study")
    _plant_observer_tree(node, context, plan, patient)


def _plant_observer_tree(
    node: Node, context: PatientContext, plan: StudyPlan, patient: Patient
) -> None:
    """A ContentSequence (SR-style) with person names two levels down (PS3.3 C.17.3)."""
    reader = context.radiologist or context.referring
    if reader is None:
        return
    root = node.sequence("ContentSequence", 1)[0]
    root.put("RelationshipType", "HAS OBS CONTEXT")
    root.put("ValueType", "PNAME")
    _concept(root, "121008", "Person Observer Name")
    root.plant("PersonName", reader.person.dicom_name, PhiKind.NAME, Subject.CLINICIAN,
               f"clinician:{reader.role}")
    children = root.sequence("ContentSequence", 2)
    note = children[0]
    note.put("RelationshipType", "CONTAINS")
    note.put("ValueType", "TEXT")
    _concept(note, "121106", "Comment")
    called = (context.referring or reader).person
    when = us_date(plan.started.date())
    note.plant_text("TextValue", f"Findings called to Dr. {called.full_name} on {when}.", [
        Mention(called.full_name, PhiKind.NAME, Subject.CLINICIAN, "clinician"),
        Mention(when, PhiKind.DATE, Subject.PATIENT, "study_date"),
    ])
    subject = children[1]
    subject.put("RelationshipType", "HAS OBS CONTEXT")
    subject.put("ValueType", "PNAME")
    _concept(subject, "121029", "Subject Name")
    subject.plant("PersonName", patient.person.dicom_name, PhiKind.NAME, Subject.PATIENT)


def _concept(node: Node, code: str, meaning: str) -> None:
    concept = node.sequence("ConceptNameCodeSequence", 1)[0]
    concept.put("CodeValue", code)
    concept.put("CodingSchemeDesignator", "DCM")
    concept.put("CodeMeaning", meaning)


def _plant_equipment(node: Node, context: PatientContext, plan: StudyPlan) -> None:
    institution = context.patient.institution
    node.put("Manufacturer", "CLINFLOW SYNTHETIC")
    node.put("ManufacturerModelName", f"SYNTH-{plan.spec.modality}")
    node.put("SoftwareVersions", "0.1")
    node.plant("InstitutionName", institution.name, PhiKind.INSTITUTION, Subject.INSTITUTION)
    address = institution.address
    node.plant("InstitutionAddress",
               f"{address.line}, {address.city}, {address.state} {address.postal_code}",
               PhiKind.GEOGRAPHIC, Subject.INSTITUTION, "institution_address")
    node.plant("InstitutionalDepartmentName", institution.department, PhiKind.INSTITUTION,
               Subject.INSTITUTION, "department")
    node.plant("StationName", plan.station_name, PhiKind.DEVICE, Subject.DEVICE, "station_name")
    node.plant("DeviceSerialNumber", plan.device_serial, PhiKind.DEVICE, Subject.DEVICE,
               "device_serial")


def _plant_private_block(node: Node, context: PatientContext) -> None:
    """A private block with a creator (PS3.5 7.8.1) repeating name, MRN and birth date."""
    patient = context.patient
    block = node.ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    base = (PRIVATE_GROUP << 16) | (block.block_start)
    node.plant_private(base | 0x10, "LO", patient.mrn, PhiKind.MRN, Subject.PATIENT,
                       PRIVATE_CREATOR)
    node.plant_private(base | 0x11, "PN", patient.person.dicom_name, PhiKind.NAME,
                       Subject.PATIENT, PRIVATE_CREATOR)
    node.plant_private(base | 0x12, "DA", patient.birth_date.strftime("%Y%m%d"), PhiKind.DATE,
                       Subject.PATIENT, PRIVATE_CREATOR)
