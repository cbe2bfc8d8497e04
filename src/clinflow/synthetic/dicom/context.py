"""What every DICOM file of a patient shares, and the identifiers of each study.

``PatientContext`` picks the clinicians, relatives and character set once per patient and
holds the phrasings that quote identifiers in free text; ``StudyPlan`` draws one study's
UIDs, accession number, procedure ids, station and device serial from the patient's rng.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from clinflow.synthetic.dicom.modalities import ModalitySpec
from clinflow.synthetic.dicom.phi import Mention, Node
from clinflow.synthetic.manifest import PhiKind, Subject
from clinflow.synthetic.model import Clinician, Patient, Person, Relative


def us_date(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def dicom_time(moment: datetime, microseconds: int) -> str:
    """TM ``HHMMSS.FFFFFF`` (PS3.5 6.2). The fraction keeps planted times distinctive: a bare
    ``113100`` also reads as a DCM code (CID 7050: 113100 Basic Application Confidentiality
    Profile).
    """
    return f"{moment:%H%M%S}.{microseconds:06d}"


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
    time_text: str  # StudyTime

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
            study_id=f"S{rng.randint(10**5, 10**6 - 1)}",  # distinctive, SH <= 16
            requested_procedure_id=f"RP{rng.randint(10**6, 10**7 - 1)}",
            scheduled_step_id=f"SPS{rng.randint(10**6, 10**7 - 1)}",
            station_name=f"{spec.modality}{rng.randint(1, 9)}-{rng.choice(['ED', 'MAIN', 'ICU'])}",
            device_serial=f"SN-{rng.randint(10**7, 10**8 - 1)}",
            description=rng.choice(spec.study_descriptions),
            prior_date=date.fromordinal(started.date().toordinal() - rng.randint(30, 900)),
            time_text=dicom_time(started, rng.randint(0, 999_999)),
        )
