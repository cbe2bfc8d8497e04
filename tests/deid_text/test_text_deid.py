"""Free-text de-identification: the patient's own identifiers in any spelling, patterns,
consistent surrogates, dates shifted by the shared offset, ages over 89, policy errors."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.text.engine import (
    DicomDescriptorCleaner,
    KnownIdentifiers,
    TextDeidentifier,
    load_text_policy,
    shift_text_date,
)
from clinflow.errors import PolicyError

KEY = bytes(range(32))
MRN = "a2b5c8d1"


@pytest.fixture(scope="module")
def deid() -> TextDeidentifier:
    return TextDeidentifier(Pseudonymizer(KEY))


def known_antonia() -> KnownIdentifiers:
    known = KnownIdentifiers()
    known.add_from_patient({
        "resourceType": "Patient",
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MRN-0012345"},
                       {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "871-01-7483"}],
        "name": [{"family": "Hagenes547", "given": ["Antonia30"]}],
        "telecom": [{"system": "phone", "value": "(312) 555-0196"},
                    {"system": "email", "value": "antonia@example.org"}],
        "address": [{"line": ["9522 Chestnut Boulevard"], "city": "Ashland",
                     "postalCode": "41101"}],
        "contact": [{"name": {"family": "de la Cruz", "given": ["Ana"]}}],
    })
    return known


@pytest.mark.parametrize("spelling", [
    "Antonia30 Hagenes547", "Antonia Hagenes", "HAGENES547, Antonia30", "Ms. Hagenes",
    "antonia hagenes", "Ana de la Cruz",
])
def test_patient_and_relative_names_in_any_form(deid: TextDeidentifier, spelling: str) -> None:
    text = f"Seen today: {spelling} reports improvement."
    result = deid.deidentify(text, MRN, known_antonia())
    for word in re.findall(r"[A-Za-z]{3,}", spelling):
        if word.lower() not in ("ana",):
            assert word.lower() not in result.text.lower(), result.text
    assert any(s.entity == "PERSON" for s in result.spans)


@pytest.mark.parametrize("spelling", [
    "MRN-0012345", "MRN 0012345", "mrn0012345", "871-01-7483", "871 01 7483", "871017483",
    "(312) 555-0196", "312.555.0196", "3125550196", "ANTONIA@EXAMPLE.ORG",
])
def test_own_identifiers_reformatted(deid: TextDeidentifier, spelling: str) -> None:
    result = deid.deidentify(f"ref {spelling}.", MRN, known_antonia())
    digits = re.sub(r"\D", "", spelling)
    assert (digits and digits not in re.sub(r"\D", "", result.text)) or \
        spelling.lower() not in result.text.lower()
    assert result.spans and result.spans[0].recognizer == "known_identifier"


@pytest.mark.parametrize(("text", "entity"), [
    ("Call (617) 555-0143 after 5.", "PHONE_NUMBER"),
    ("Email j.doe@example.com today", "EMAIL_ADDRESS"),
    ("SSN 123-45-6789 on file", "US_SSN"),
    ("Medical Record No. 88412093", "MRN"),
    ("account no. AC18039838", "ID"),
    ("see https://portal.example.org/p/123", "URL"),
    ("from 10.20.30.40 at night", "IP_ADDRESS"),
    ("Transferred from Lakeside General Hospital yesterday", "HOSPITAL"),
    ("Lives at 12 Oak Street, Boston, MA 02118", "LOCATION"),
    ("Referred by Dr. Hiroshi Andersson.", "PERSON"),
    ("a 93-year-old man", "AGE"),
])
def test_pattern_recognizers(deid: TextDeidentifier, text: str, entity: str) -> None:
    spans = deid.analyze(text, None)
    assert entity in {s.entity for s in spans}, spans


def test_ages_and_clinical_text_left_alone(deid: TextDeidentifier) -> None:
    text = "A 67-year-old with HR 104 and SpO2 93%, lactate 2.1, on 4 L/min."
    assert deid.deidentify(text, MRN, None).text == text
    assert deid.deidentify("a 93-year-old woman", MRN, None).text == "a 90+-year-old woman"


@pytest.mark.parametrize("spelling", [
    "03/05/2021", "March 5, 2021", "05 Mar 2021", "2021-03-05", "3/5/21", "5 March 2021",
])
def test_dates_shift_by_the_patients_offset_in_their_own_format(
    deid: TextDeidentifier, spelling: str
) -> None:
    offset = Pseudonymizer(KEY).date_offset_days(MRN)
    result = deid.deidentify(f"Admitted {spelling}.", MRN, None)
    shifted = date(2021, 3, 5) + timedelta(days=offset)
    assert spelling not in result.text
    assert str(shifted.year % 100) in result.text or str(shifted.year) in result.text
    assert result.spans[0].entity == "DATE_TIME"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2060, 1, 1)),
       st.integers(min_value=-1100, max_value=-35))
@settings(max_examples=80, deadline=None)
def test_shifted_text_dates_keep_the_interval(day: date, offset: int) -> None:
    expected = day + timedelta(days=offset)
    assert shift_text_date(day.isoformat(), offset) == expected.isoformat()
    assert shift_text_date(f"{day.month:02d}/{day.day:02d}/{day.year}", offset) == \
        f"{expected.month:02d}/{expected.day:02d}/{expected.year}"


def test_surrogates_are_consistent_per_patient_and_person(deid: TextDeidentifier) -> None:
    known = known_antonia()
    first = deid.deidentify("Antonia Hagenes was seen. Ms. Hagenes agreed.", MRN, known).text
    again = deid.deidentify("Antonia Hagenes was seen. Ms. Hagenes agreed.", MRN, known).text
    assert first == again
    fake_family = first.split(" was seen")[0].split()[-1]
    assert f"Ms. {fake_family}" in first  # same person, same fake family name


def test_dicom_descriptor_adapter(deid: TextDeidentifier) -> None:
    cleaner = DicomDescriptorCleaner(deid, MRN)
    out = cleaner.clean("CT HEAD for HAGENES^ANTONIA 871-01-7483", ["HAGENES^ANTONIA"])
    assert "HAGENES" not in out and "ANTONIA" not in out and "7483" not in out
    assert out.startswith("CT HEAD for ")


def test_text_policy_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "text.yaml"
    bad.write_text("name: t\nentities:\n  PERSON: {replace: scramble}\n")
    with pytest.raises(PolicyError) as info:
        load_text_policy(bad)
    assert str(info.value).startswith(f"{bad}:3: PERSON: replace: Input should be ")
    bad.write_text("name: t\nunknown_field: 1\n")
    with pytest.raises(PolicyError) as info:
        load_text_policy(bad)
    assert str(info.value) == f"{bad}:2: -: unknown_field: unknown field"
