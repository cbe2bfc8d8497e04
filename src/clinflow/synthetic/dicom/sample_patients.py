"""Hand-made synthetic patients for the DICOM generator's tests and benchmark.

Independent of the population generator so the DICOM part can be tested and measured on
its own; the names cover ASCII, Latin-1 and non-Latin-1 (UTF-8 only) spellings, multi-part
family names, ages over 89 and infants. All values are invented.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from clinflow.synthetic.model import Address, Clinician, Institution, Patient, Person, Relative

_NAMES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("John", "Albert"), "Doe"),
    (("Anna",), "Müller"),
    (("María", "José"), "de la Cruz"),
    (("Thị", "Hồng"), "Nguyễn"),  # needs UTF-8 (ISO_IR 192)
    (("Zoë",), "O'Brien"),
    (("Kwame",), "Mensah"),
    (("Søren",), "Kierkegaard-Olsen"),
    (("Li",), "Wáng"),
)
_CLINICIANS = (
    (("Gregory",), "House", "referring"),
    (("Miranda",), "Bailey", "radiologist"),
    (("Derek",), "Shepherd", "attending"),
    (("Carla",), "Espinosa", "nurse"),
)
_BIRTH_YEARS = (1931, 1958, 1976, 1990, 2025, 1929, 1966, 2003)


def _phone(rng: random.Random) -> str:
    return f"(555) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"


def sample_patient(index: int, seed: int = 0) -> Patient:
    """Patient ``index`` of a small varied cohort (deterministic for ``index`` and ``seed``)."""
    rng = random.Random(f"dicom-sample:{seed}:{index}")
    given, family = _NAMES[index % len(_NAMES)]
    birth = date(_BIRTH_YEARS[index % len(_BIRTH_YEARS)], rng.randint(1, 12), rng.randint(1, 28))
    person = Person(given, family, phone=_phone(rng) if index % 5 != 4 else "")
    mother = Person(("Eleanor",), "Whitfield" if index % 2 else family, phone=_phone(rng))
    spouse = Person(("Sam",), family, phone=_phone(rng))
    clinicians = tuple(
        Clinician(Person(g, f, prefix="Dr." if role != "nurse" else ""), role,
                  f"{rng.randint(10**9, 10**10 - 1)}")
        for g, f, role in _CLINICIANS
    )
    institution = Institution(
        "St. Brigid Regional Medical Center",
        "Radiology",
        Address("1200 Harbor Way", "Port Alder", "WA", "98362"),
    )
    return Patient(
        index=index,
        fhir_id=f"pat-{seed}-{index}",
        mrn=f"MRN{rng.randint(10**6, 10**7 - 1)}",
        ssn=f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        person=person,
        birth_date=birth,
        sex=("male", "female", "other", "unknown")[index % 4],
        race="2106-3",
        ethnicity="2186-5",
        address=Address(f"{rng.randint(1, 9999)} Elm Street", "Springfield", "IL",
                        f"{rng.randint(60000, 62999)}"),
        email=f"patient{index}@example.org",
        health_plan_id=f"HP{rng.randint(10**8, 10**9 - 1)}",
        account_number=f"AC{rng.randint(10**7, 10**8 - 1)}",
        relatives=(Relative(mother, "MTH"), Relative(spouse, "SPS")),
        clinicians=clinicians if index % 7 != 6 else (),
        institution=institution,
        admitted_at=datetime(2026, 3, 14, 8, 30, tzinfo=UTC),
    )
