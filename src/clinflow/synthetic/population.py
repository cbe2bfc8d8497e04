"""The synthetic population: one ``Patient`` per cohort index, every identifier invented.

Each patient has its own ``random.Random`` derived from (seed, index), so a patient's data do
not depend on how the cohort is split across workers. Unique identifiers (MRN, account and
health-plan numbers) are bijections of the index, so they never collide within a cohort.
Phones use the fictional 555-01xx block; emails use reserved example domains; SSNs are valid
by SSA rules (no 000/666/9xx area, no 00 group, no 0000 serial) so recognizers treat them as
real.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from datetime import UTC, date, datetime, timedelta

from clinflow.synthetic.model import Address, Clinician, Institution, Patient, Person, Relative
from clinflow.synthetic.scenario import Scenario

GIVEN_FEMALE = (
    "Maria",
    "Zoë",
    "Siobhán",
    "Aisha",
    "Mei",
    "Olga",
    "Chloé",
    "Ingrid",
    "Priya",
    "Nomvula",
    "Hannah",
    "Lucía",
    "Yuki",
    "Fatima",
    "Grace",
    "Ana",
    "Dagny",
    "Renée",
    "Emily",
    "Jennifer",
)
GIVEN_MALE = (
    "José",
    "Björn",
    "Liam",
    "Mohammed",
    "Wei",
    "Dmitri",
    "François",
    "Kwame",
    "Arjun",
    "Seán",
    "Jürgen",
    "Tomás",
    "Hiroshi",
    "Omar",
    "James",
    "Robert",
    "Luis",
    "Nikolaj",
    "Michael",
    "Ali",
)
MIDDLE = ("Anne", "Marie", "Lee", "James", "Elena", "Paul", "Jean", "Ray", "Louise", "Kai")
FAMILY = (
    "García Márquez",
    "de la Cruz",
    "Müller",
    "O'Brien",
    "Nguyễn",
    "Van der Berg",
    "Smith",
    "Johnson",
    "Kowalski",
    "Okafor",
    "Yamamoto",
    "Ivanova",
    "Papadopoulos",
    "Andersson",
    "Brown",
    "Williams",
    "Dubois",
    "Schäfer",
    "Singh",
    "Mbeki",
    "Rossi",
    "Jones",
    "St. Clair",
    "Fernández",
    "Lindqvist",
    "Chen",
    "Haddad",
    "MacLeod",
    "Abernathy-Quinn",
    "Novák",
)
STREETS = (
    "Elm Street",
    "Maple Avenue",
    "Oak Lane",
    "Harbor View Road",
    "Cedar Court",
    "Birch Way",
    "Willow Drive",
    "Chestnut Boulevard",
    "Juniper Place",
    "Sycamore Terrace",
)
CITIES = (
    ("Springfield", "MA", "01103"),
    ("Riverton", "WY", "82501"),
    ("Fairview", "OR", "97024"),
    ("Greenville", "SC", "29601"),
    ("Madison", "WI", "53703"),
    ("Salem", "NH", "03079"),
    ("Franklin", "TN", "37064"),
    ("Clinton", "IA", "52732"),
    ("Georgetown", "TX", "78626"),
    ("Ashland", "KY", "41101"),
)
AREA_CODES = ("617", "413", "212", "503", "608", "615", "312", "206", "404", "512")
HOSPITALS = (
    "St. Brigid Regional Medical Center",
    "Lakeside General Hospital",
    "Mercy Valley University Hospital",
    "Northgate Community Hospital",
    "Riverbend Memorial Hospital",
)
DEPARTMENTS = ("Emergency Department", "Medical ICU", "Surgical ICU", "Radiology")
# CDC Race & Ethnicity code system (urn:oid:2.16.840.1.113883.6.238), OMB categories.
RACES = (
    ("2106-3", "White"),
    ("2054-5", "Black or African American"),
    ("2028-9", "Asian"),
    ("1002-5", "American Indian or Alaska Native"),
    ("2076-8", "Native Hawaiian or Other Pacific Islander"),
)
ETHNICITIES = (("2135-2", "Hispanic or Latino"), ("2186-5", "Not Hispanic or Latino"))
RACE_DISPLAY = dict(RACES)
ETHNICITY_DISPLAY = dict(ETHNICITIES)
RELATIONSHIPS = ("MTH", "FTH", "SPS", "DAU", "SON", "SIS", "BRO")
RELATIONSHIP_WORDS = {
    "MTH": "mother",
    "FTH": "father",
    "SPS": "spouse",
    "DAU": "daughter",
    "SON": "son",
    "SIS": "sister",
    "BRO": "brother",
}
CLINICIAN_ROLES = ("attending", "nurse", "referring", "radiologist")

_MRN_SPAN = 90_000_000  # MRNs are 8 digits, 10000000..99999999
_MRN_STEP = 3_141_593  # coprime with _MRN_SPAN, so index -> MRN is a bijection
_ACCOUNT_STEP = 2_718_283


def patient_rng(seed: int, index: int) -> random.Random:
    """The per-patient generator: depends only on (seed, index), never on chunking."""
    material = hashlib.sha256(f"clinflow-synthetic:{seed}:{index}".encode()).digest()
    return random.Random(int.from_bytes(material[:16], "big"))


def _cohort_offset(seed: int, label: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{label}:{seed}".encode()).digest()[:8], "big")


def valid_ssn(rng: random.Random) -> str:
    """An SSN that passes SSA structural rules (and presidio's validity checks)."""
    while True:
        area = rng.randint(1, 899)
        if area == 666:
            continue
        group, serial = rng.randint(1, 99), rng.randint(1, 9999)
        text = f"{area:03d}-{group:02d}-{serial:04d}"
        if text not in ("123-45-6789", "078-05-1120") and len(set(text.replace("-", ""))) > 1:
            return text


def fictional_phone(rng: random.Random) -> str:
    """A ``(NXX) 555-01XX`` number: fictional exchange, still a well-formed US phone."""
    return f"({rng.choice(AREA_CODES)}) 555-01{rng.randint(0, 99):02d}"


def npi(rng: random.Random) -> str:
    """A 10-digit NPI whose last digit is the Luhn check over ``80840`` + the first nine."""
    body = f"{rng.choice('12')}{rng.randint(0, 99_999_999):08d}"
    digits = [int(char) for char in "80840" + body]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return body + str((10 - total % 10) % 10)


def ascii_fold(text: str) -> str:
    """Letters only, accents removed, lower case: for e-mail local parts."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if char.isascii() and char.isalpha()).lower()


def _person(rng: random.Random, sex: str, family: str | None = None, prefix: str = "") -> Person:
    pool = GIVEN_FEMALE if sex == "female" else GIVEN_MALE
    given: tuple[str, ...] = (rng.choice(pool),)
    if rng.random() < 0.35:
        given += (rng.choice(MIDDLE),)
    return Person(
        given=given,
        family=family or rng.choice(FAMILY),
        prefix=prefix,
        phone=fictional_phone(rng),
    )


def _address(rng: random.Random) -> Address:
    city, state, zip_code = rng.choice(CITIES)
    return Address(
        line=f"{rng.randint(2, 9870)} {rng.choice(STREETS)}",
        city=city,
        state=state,
        postal_code=zip_code,
    )


def _birth_date(rng: random.Random, on: date, elderly: bool) -> date:
    age = rng.randint(90, 104) if elderly else rng.randint(18, 89)
    birthday = on.replace(year=on.year - age) if not (on.month == 2 and on.day == 29) else on
    # A day strictly within the year before the birthday keeps the age exactly ``age``.
    return birthday - timedelta(days=rng.randint(0, 364))


def _round_to(moment: datetime, minutes: int) -> datetime:
    epoch = int(moment.timestamp())
    step = minutes * 60
    return datetime.fromtimestamp(epoch - epoch % step, tz=UTC)


def make_patient(seed: int, index: int, scenario: Scenario) -> tuple[Patient, random.Random]:
    """Build patient ``index`` of the cohort; returns it with its RNG for the later generators."""
    rng = patient_rng(seed, index)
    sex = "female" if rng.random() < 0.5 else "male"
    if rng.random() < 0.01:
        sex = rng.choice(("other", "unknown"))
    person = _person(rng, "female" if sex == "female" else "male")
    address = _address(rng)
    admitted_at = _round_to(
        scenario.start + timedelta(minutes=rng.randint(0, 120)), scenario.vitals_interval_minutes
    )
    birth_date = _birth_date(rng, admitted_at.date(), rng.random() < scenario.elderly_fraction)

    relatives = []
    for _ in range(rng.randint(1, 3)):
        relationship = rng.choice(RELATIONSHIPS)
        rel_sex = "female" if relationship in ("MTH", "DAU", "SIS") else "male"
        if relationship == "SPS":
            rel_sex = rng.choice(("female", "male"))
        shared_family = person.family if rng.random() < 0.6 else None
        relatives.append(Relative(_person(rng, rel_sex, shared_family), relationship))
    clinicians = tuple(
        Clinician(
            person=_person(rng, rng.choice(("female", "male")), prefix="Dr."),
            role=role,
            npi=npi(rng),
        )
        for role in CLINICIAN_ROLES
    )
    institution = Institution(
        name=rng.choice(HOSPITALS), department=rng.choice(DEPARTMENTS), address=_address(rng)
    )

    mix = scenario.encounter_mix
    setting = "ICU" if rng.random() * (mix.ed + mix.icu) >= mix.ed else "ED"
    deteriorates = rng.random() < scenario.deterioration_fraction
    onset: datetime | None = None
    extra = {"encounter_class": setting}
    if deteriorates:
        points = max(scenario.vitals_points, 4)
        onset_point = rng.randint(points // 4, (3 * points) // 4)
        onset = admitted_at + timedelta(minutes=onset_point * scenario.vitals_interval_minutes)
        extra["pattern"] = rng.choice(scenario.deterioration_patterns)

    mrn = 10_000_000 + (index * _MRN_STEP + _cohort_offset(seed, "mrn")) % _MRN_SPAN
    account = (index * _ACCOUNT_STEP + _cohort_offset(seed, "account")) % _MRN_SPAN
    email_name = ascii_fold(person.given[0]) + "." + ascii_fold(person.family)
    patient = Patient(
        index=index,
        fhir_id=f"pat-{index:06d}",
        mrn=str(mrn),
        ssn=valid_ssn(rng),
        person=person,
        birth_date=birth_date,
        sex=sex,
        race=rng.choice(RACES)[0],
        ethnicity=rng.choice(ETHNICITIES)[0],
        address=address,
        email=f"{email_name}{rng.randint(1, 99)}@{rng.choice(('example.org', 'example.com'))}",
        health_plan_id=f"HP{rng.randint(100, 999)}-{(account * 7 + 13) % _MRN_SPAN:08d}",
        account_number=f"AC{account + 10_000_000:08d}",
        relatives=tuple(relatives),
        clinicians=clinicians,
        institution=institution,
        admitted_at=admitted_at,
        deteriorates=deteriorates,
        deterioration_onset=onset,
        extra=extra,
    )
    return patient, rng
