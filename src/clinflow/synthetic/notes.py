"""Free-text clinical notes with planted PHI, and the exact character span of every plant.

A note is assembled from sentence templates; each identifier goes in through
``NoteBuilder.phi`` which records (start, end) offsets into the note text (Python string
indices, i.e. code points of the decoded UTF-8). Phrasings vary on purpose: the patient's
name in several forms, relatives and clinicians, dates in several formats, ages (over 89 is
PHI), MRN, SSN, phone, email, address, hospital names and account numbers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from clinflow.synthetic.manifest import PhiKind, Subject
from clinflow.synthetic.model import Patient
from clinflow.synthetic.population import RELATIONSHIP_WORDS

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# (LOINC code, display) of the note types we write
NOTE_TYPES = (
    ("34111-5", "Emergency department note"),
    ("11506-3", "Progress note"),
    ("34117-2", "History and physical note"),
    ("18842-5", "Discharge summary"),
    ("34746-8", "Nurse note"),
)


@dataclass(frozen=True, slots=True)
class NoteSpan:
    start: int
    end: int
    value: str
    kind: PhiKind
    subject: Subject
    detail: str


@dataclass(slots=True)
class NoteBuilder:
    """Accumulates note text and the spans of the identifiers planted in it."""

    parts: list[str] = field(default_factory=list)
    spans: list[NoteSpan] = field(default_factory=list)
    length: int = 0

    def text(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.length += len(chunk)

    def phi(self, value: str, kind: PhiKind, subject: Subject, detail: str) -> None:
        self.spans.append(
            NoteSpan(self.length, self.length + len(value), value, kind, subject, detail)
        )
        self.text(value)

    def build(self) -> str:
        return "".join(self.parts)


def format_date(value: date, style: int) -> str:
    """The date in one of five common clinical spellings."""
    if style == 0:
        return f"{value.month:02d}/{value.day:02d}/{value.year}"
    if style == 1:
        return f"{MONTHS[value.month - 1]} {value.day}, {value.year}"
    if style == 2:
        return f"{value.day:02d} {MONTHS[value.month - 1][:3]} {value.year}"
    if style == 3:
        return value.isoformat()
    return f"{value.month}/{value.day}/{value.year % 100:02d}"


def _name_form(patient: Patient, style: int) -> tuple[str, str]:
    person = patient.person
    honorific = {"female": "Ms.", "male": "Mr."}.get(patient.sex, "Mx.")
    forms = (
        (person.full_name, "full"),
        (f"{honorific} {person.family}", "honorific+family"),
        (f"{person.family.upper()}, {person.given[0]}", "FAMILY, Given"),
        (person.given[0], "given"),
        (f"{person.given[0]} {person.family}", "given family"),
    )
    return forms[style % len(forms)]


_Sentence = Callable[[NoteBuilder, Patient, random.Random, datetime], None]


def _opening(b: NoteBuilder, p: Patient, rng: random.Random, when: datetime) -> None:
    name, form = _name_form(p, rng.randrange(5))
    age = p.age_at(when.date())
    b.phi(name, PhiKind.NAME, Subject.PATIENT, f"patient name ({form})")
    b.text(", a ")
    if age > 89:
        b.phi(str(age), PhiKind.AGE_OVER_89, Subject.PATIENT, "age")
    else:
        b.text(str(age))
    b.text(f"-year-old {'woman' if p.sex == 'female' else 'man' if p.sex == 'male' else 'person'}")
    b.text(" (MRN ")
    b.phi(p.mrn, PhiKind.MRN, Subject.PATIENT, "mrn")
    b.text("), was seen on ")
    b.phi(format_date(when.date(), rng.randrange(5)), PhiKind.DATE, Subject.PATIENT, "visit date")
    b.text(" at ")
    b.phi(p.institution.name, PhiKind.INSTITUTION, Subject.INSTITUTION, "hospital")
    b.text(".\n")


def _birth(b: NoteBuilder, p: Patient, rng: random.Random, when: datetime) -> None:
    b.text("DOB: ")
    b.phi(format_date(p.birth_date, rng.randrange(5)), PhiKind.DATE, Subject.PATIENT, "birth date")
    age = p.age_at(when.date())
    if age > 89:
        b.text(". Patient is ")
        b.phi(str(age), PhiKind.AGE_OVER_89, Subject.PATIENT, "age")
        b.text(" y/o")
    b.text(".\n")


def _contact(b: NoteBuilder, p: Patient, rng: random.Random, when: datetime) -> None:
    b.text("Lives at ")
    b.phi(p.address.line, PhiKind.GEOGRAPHIC, Subject.PATIENT, "street")
    b.text(", ")
    b.phi(p.address.city, PhiKind.GEOGRAPHIC, Subject.PATIENT, "city")
    b.text(f", {p.address.state} ")
    b.phi(p.address.postal_code, PhiKind.GEOGRAPHIC, Subject.PATIENT, "zip")
    b.text(rng.choice((". Reachable at ", "; cell ", ". Phone: ")))
    b.phi(p.person.phone, PhiKind.PHONE, Subject.PATIENT, "phone")
    b.text(" or by e-mail ")
    b.phi(p.email, PhiKind.EMAIL, Subject.PATIENT, "email")
    b.text(".\n")


def _relative(b: NoteBuilder, p: Patient, rng: random.Random, when: datetime) -> None:
    relative = rng.choice(p.relatives)
    word = RELATIONSHIP_WORDS[relative.relationship]
    b.text(rng.choice(("Collateral history from ", "Accompanied by ", "Emergency contact is ")))
    b.text(f"{rng.choice(('the patient', 'their'))}'s {word}, ")
    b.phi(relative.person.full_name, PhiKind.NAME, Subject.RELATIVE, f"relative:{word}")
    b.text(" (")
    b.phi(relative.person.phone, PhiKind.PHONE, Subject.RELATIVE, f"relative:{word}")
    b.text(").\n")


def _clinicians(b: NoteBuilder, p: Patient, rng: random.Random, when: datetime) -> None:
    attending, nurse, referring = p.clinicians[0], p.clinicians[1], p.clinicians[2]
    b.text("Discussed with Dr. ")
    b.phi(attending.person.family, PhiKind.NAME, Subject.CLINICIAN, "clinician:attending")
    b.text(" (attending); nursing by ")
    b.phi(nurse.person.full_name, PhiKind.NAME, Subject.CLINICIAN, "clinician:nurse")
    b.text(". Referred by ")
    b.phi(
        f"{referring.person.prefix} {referring.person.full_name}",
        PhiKind.NAME,
        Subject.CLINICIAN,
        "clinician:referring",
    )
    b.text(", NPI ")
    b.phi(referring.npi, PhiKind.LICENSE, Subject.CLINICIAN, "clinician:referring npi")
    b.text(".\n")


def _billing(b: NoteBuilder, p: Patient, rng: random.Random, when: datetime) -> None:
    b.text("Registration: SSN ")
    b.phi(p.ssn, PhiKind.SSN, Subject.PATIENT, "ssn")
    b.text(", account no. ")
    b.phi(p.account_number, PhiKind.ACCOUNT, Subject.PATIENT, "account")
    b.text(", plan member id ")
    b.phi(p.health_plan_id, PhiKind.HEALTH_PLAN, Subject.PATIENT, "health plan")
    b.text(".\n")


def _history(b: NoteBuilder, p: Patient, rng: random.Random, when: datetime) -> None:
    b.text(rng.choice(("Previously admitted to ", "Transferred from ", "Followed at ")))
    other = rng.choice(("Lakeside General Hospital", "Northgate Community Hospital"))
    b.phi(other, PhiKind.INSTITUTION, Subject.INSTITUTION, "hospital")
    b.text(" on ")
    earlier = date(when.year - rng.randint(1, 5), rng.randint(1, 12), rng.randint(1, 28))
    b.phi(format_date(earlier, rng.randrange(5)), PhiKind.DATE, Subject.PATIENT, "prior admission")
    honorific = _name_form(p, 1)[0].split()[0]
    b.text(f"; {honorific} ")
    b.phi(p.person.family, PhiKind.NAME, Subject.PATIENT, "patient name (family)")
    b.text(" reports improvement since then.\n")


_CLINICAL = (
    "Presents with fever and productive cough for three days.",
    "Complains of shortness of breath on exertion, no chest pain.",
    "Vitals reviewed; plan to continue IV fluids and reassess.",
    "Lactate pending; blood cultures drawn before antibiotics.",
    "Tolerating diet, mobilising with assistance.",
    "Chest X-ray shows no focal consolidation.",
)

_SENTENCES: tuple[_Sentence, ...] = (_birth, _contact, _relative, _clinicians, _billing, _history)


def write_note(patient: Patient, rng: random.Random, when: datetime) -> tuple[str, NoteBuilder]:
    """One note; returns its LOINC type code and the builder holding text and spans."""
    code = rng.choice(NOTE_TYPES)[0]
    builder = NoteBuilder()
    _opening(builder, patient, rng, when)
    order = list(_SENTENCES)
    rng.shuffle(order)
    for sentence in order[: rng.randint(3, len(order))]:
        sentence(builder, patient, rng, when)
        if rng.random() < 0.5:
            builder.text(rng.choice(_CLINICAL) + "\n")
    return code, builder
