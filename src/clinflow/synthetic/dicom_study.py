"""Patient- and study-level DICOM content: who, when, where, and the phrasings that leak it.

``PatientContext`` holds what every file of a patient shares (names, clinicians, character
set, the UID source); ``build_study_template`` fills the Patient, General Study, Equipment
modules, nested request/reference sequences, a ContentSequence-like observer tree and a
private block, recording each planted identifier.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from pydicom.dataset import Dataset

from clinflow.synthetic.dicom_modalities import ModalitySpec
from clinflow.synthetic.dicom_phi import Mention, Node, Planted
from clinflow.synthetic.manifest import PhiKind, Subject
from clinflow.synthetic.model import Clinician, Patient, Person, Relative

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


def us_date(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def long_date(value: date) -> str:
    return f"{value.strftime('%B')} {value.day}, {value.year}"


def dicom_age(birth: date, on: date, years: int) -> str:
    """Age String (AS): ``nnnY``, or months for infants."""
    if years >= 1:
        return f"{min(years, 999):03d}Y"
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    return f"{max(months, 0):03d}M"


def _needs_charset(texts: list[str], rng: random.Random) -> str | None:
    """None for pure ASCII; ISO_IR 100 (Latin-1) or ISO_IR 192 (UTF-8) otherwise."""
    joined = "".join(texts)
    if joined.isascii():
        return None
    try:
        joined.encode("latin-1")
    except UnicodeEncodeError:
        return "ISO_IR 192"
    return "ISO_IR 100" if rng.random() < 0.5 else "ISO_IR 192"


def _person_texts(person: Person) -> list[str]:
    return [*person.given, person.family, person.prefix]


@dataclass(slots=True)
class PatientContext:
    """Everything a patient's files share, drawn once per patient."""

    patient: Patient
    rng: random.Random
    charset: str | None
    referring: Clinician | None
    radiologist: Clinician | None
    performing: Clinician | None
    operator: Clinician | None
    mother: Relative | None
    contact: Relative | None

    @classmethod
    def of(cls, patient: Patient, rng: random.Random) -> PatientContext:
        texts = _person_texts(patient.person)
        for relative in patient.relatives:
            texts += _person_texts(relative.person)
        for clinician in patient.clinicians:
            texts += _person_texts(clinician.person)
        inst = patient.institution
        texts += [inst.name, inst.department, inst.address.line, inst.address.city]
        texts += [patient.address.line, patient.address.city]

        def by_role(*roles: str) -> Clinician | None:
            for role in roles:
                for clinician in patient.clinicians:
                    if clinician.role == role:
                        return clinician
            return patient.clinicians[0] if patient.clinicians else None

        mother = next((r for r in patient.relatives if r.relationship == "MTH"), None)
        contact = next((r for r in patient.relatives if r.relationship != "MTH"), mother)
        return cls(
            patient=patient,
            rng=rng,
            charset=_needs_charset(texts, rng),
            referring=by_role("referring", "attending"),
            radiologist=by_role("radiologist", "attending"),
            performing=by_role("attending", "radiologist"),
            operator=by_role("technologist", "nurse"),
            mother=mother,
            contact=contact,
        )

    def new_uid(self) -> str:
        """A fresh UID ``2.25.<128-bit int>`` (PS3.5 B.2) drawn from the patient's rng."""
        return f"2.25.{self.rng.getrandbits(128)}"

    @property
    def comma_name(self) -> str:
        """``FAMILY, GIVEN`` as printed on films and screens."""
        person = self.patient.person
        return f"{person.family}, {person.given[0]}".upper()

    def plant_series_text(
        self, node: Node, description: str, plan: StudyPlan, rng: random.Random
    ) -> None:
        """SeriesDescription, sometimes stamped with the study date or the MRN."""
        draw = rng.random()
        if draw < 0.2:
            text = f"{description} {us_date(plan.started.date())}"
            mention = Mention(us_date(plan.started.date()), PhiKind.DATE, Subject.PATIENT,
                              "study_date")
            node.plant_text("SeriesDescription", text, [mention])
        elif draw < 0.3:
            mrn = self.patient.mrn
            node.plant_text("SeriesDescription", f"{description} MRN{mrn}",
                            [Mention(mrn, PhiKind.MRN, Subject.PATIENT)])
        else:
            node.put("SeriesDescription", description)

    def plant_series_staff(self, node: Node) -> None:
        if self.performing is not None:
            node.plant("PerformingPhysicianName", self.performing.person.dicom_name,
                       PhiKind.NAME, Subject.CLINICIAN, f"clinician:{self.performing.role}")
        if self.operator is not None:
            node.plant("OperatorsName", self.operator.person.dicom_name, PhiKind.NAME,
                       Subject.CLINICIAN, f"clinician:{self.operator.role}")

    def plant_image_comment(self, node: Node, plan: StudyPlan, rng: random.Random) -> None:
        """ImageComments on about a third of instances, quoting name, MRN or a prior date."""
        draw = rng.random()
        person = self.patient.person
        if draw < 0.12:
            text = f"Pt {person.full_name} repositioned, arms up."
            node.plant_text("ImageComments", text,
                            [Mention(person.full_name, PhiKind.NAME, Subject.PATIENT)])
        elif draw < 0.24:
            prior = us_date(plan.prior_date)
            text = f"Compare with prior of {prior}, MRN {self.patient.mrn}."
            node.plant_text("ImageComments", text, [
                Mention(prior, PhiKind.DATE, Subject.PATIENT, "prior_study_date"),
                Mention(self.patient.mrn, PhiKind.MRN, Subject.PATIENT),
            ])
        elif draw < 0.33:
            node.put("ImageComments", "Motion artefact, repeated.")

    def burned_in_lines(self, plan: StudyPlan) -> list[tuple[str, PhiKind, str]]:
        """Text for burned-in annotation: (line, kind, detail), one identifier per line."""
        return [
            (self.comma_name, PhiKind.NAME, "patient_name"),
            (self.patient.mrn, PhiKind.MRN, "mrn"),
            (us_date(plan.started.date()), PhiKind.DATE, "study_date"),
            (us_date(self.patient.birth_date), PhiKind.DATE, "birth_date"),
        ]


@dataclass(frozen=True, slots=True)
class StudyPlan:
    """The identifiers and times of one study."""

    index: int
    spec: ModalitySpec
    started: datetime
    study_uid: str
    accession_number: str
    study_id: str
    requested_procedure_id: str
    scheduled_step_id: str
    station_name: str
    device_serial: str
    description: str  # clean procedure name (no PHI): what StudyRecord reports
    prior_date: date

    @property
    def date_text(self) -> str:
        return self.started.strftime("%Y%m%d")

    @classmethod
    def draw(
        cls, context: PatientContext, spec: ModalitySpec, index: int, started: datetime
    ) -> StudyPlan:
        rng = context.rng
        accession = f"A{rng.randint(10**8, 10**9 - 1)}"
        return cls(
            index=index,
            spec=spec,
            started=started,
            study_uid=context.new_uid(),
            accession_number=accession,
            study_id=f"{rng.randint(1, 99999)}",
            requested_procedure_id=f"RP{rng.randint(10**6, 10**7 - 1)}",
            scheduled_step_id=f"SPS{rng.randint(10**6, 10**7 - 1)}",
            station_name=f"{spec.modality}{rng.randint(1, 9)}-{rng.choice(['ED', 'MAIN', 'ICU'])}",
            device_serial=f"SN-{rng.randint(10**7, 10**8 - 1)}",
            description=rng.choice(spec.study_descriptions),
            prior_date=date.fromordinal(started.date().toordinal() - rng.randint(30, 900)),
        )


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
        mentions = [Mention(contact.person.full_name, PhiKind.NAME, Subject.RELATIVE,
                            f"relative:{words}")]
        text = f"Emergency contact: {contact.person.full_name} ({words})"
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
    node.plant("StudyTime", plan.started.strftime("%H%M%S"), PhiKind.DATE, Subject.PATIENT,
               "study_time")
    node.plant("AccessionNumber", plan.accession_number, PhiKind.OTHER_ID, Subject.PATIENT,
               "accession_number")
    node.plant("StudyID", plan.study_id, PhiKind.OTHER_ID, Subject.PATIENT, "study_id")
    if context.referring is not None:
        node.plant("ReferringPhysicianName", context.referring.person.dicom_name, PhiKind.NAME,
                   Subject.CLINICIAN, f"clinician:{context.referring.role}")
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
