"""The invented population: valid-looking identifiers, the variety the issue asks for, and
vital signs that behave (plausible ranges; deteriorating patients get worse after onset)."""

from __future__ import annotations

import re
import statistics
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.synthetic.population import make_patient, npi, patient_rng, valid_ssn
from clinflow.synthetic.scenario import Scenario
from clinflow.synthetic.vitals import trajectory

SCENARIO = Scenario()
PHONE = re.compile(r"^\([2-9]\d{2}\) 555-01\d{2}$")


def _luhn_ok(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), index=st.integers(0, 10**6))
def test_identifiers_are_well_formed(seed: int, index: int) -> None:
    patient, _ = make_patient(seed, index, SCENARIO)
    area, group, serial = patient.ssn.split("-")
    assert area not in ("000", "666") and not area.startswith("9")
    assert group != "00" and serial != "0000"
    assert PHONE.match(patient.person.phone)
    assert all(PHONE.match(r.person.phone) for r in patient.relatives)
    assert re.fullmatch(r"\d{8}", patient.mrn)
    assert patient.email.endswith(("@example.org", "@example.com"))
    assert all(_luhn_ok("80840" + c.npi) and len(c.npi) == 10 for c in patient.clinicians)
    assert 18 <= patient.age_at(patient.admitted_at.date()) <= 104


@given(seed=st.integers(0, 2**32))
def test_ssn_generator_never_emits_invalid_ssns(seed: int) -> None:
    ssn = valid_ssn(patient_rng(seed, 0))
    assert ssn not in ("123-45-6789", "078-05-1120")


def test_npi_check_digit() -> None:
    assert _luhn_ok("80840" + npi(patient_rng(1, 1)))


def test_presidio_recognizes_our_phones_and_ssns() -> None:
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer, UsSsnRecognizer

    patient, _ = make_patient(3, 0, SCENARIO)
    text = f"Call {patient.person.phone}. SSN {patient.ssn}."
    phones = PhoneRecognizer().analyze(text, ["PHONE_NUMBER"], None)
    ssns = UsSsnRecognizer().analyze(text, ["US_SSN"], None)
    assert any(text[r.start : r.end] == patient.person.phone for r in phones)
    assert any(text[r.start : r.end] == patient.ssn for r in ssns)


def test_cohort_has_the_variety_the_issue_asks_for() -> None:
    patients = [make_patient(7, index, SCENARIO)[0] for index in range(400)]
    assert len({p.mrn for p in patients}) == 400
    assert len({p.account_number for p in patients}) == 400
    assert any(p.age_at(p.admitted_at.date()) > 89 for p in patients)
    assert any(not p.person.full_name.isascii() for p in patients)
    assert any(" " in p.person.family for p in patients)  # multi-part family names
    assert any(len(p.person.given) > 1 for p in patients)
    assert {p.extra["encounter_class"] for p in patients} == {"ED", "ICU"}
    share = sum(p.deteriorates for p in patients) / len(patients)
    assert 0.08 < share < 0.25  # scenario: 0.15


def test_mrns_unique_across_a_large_cohort() -> None:
    mrns = {make_patient(7, index, SCENARIO)[0].mrn for index in range(0, 200_000, 37)}
    assert len(mrns) == len(range(0, 200_000, 37))


def test_stable_vitals_stay_plausible_and_deteriorating_ones_worsen() -> None:
    stable_checked = worse = 0
    for index in range(120):
        patient, rng = make_patient(21, index, SCENARIO)
        sets = list(
            trajectory(
                rng,
                patient.admitted_at,
                96,
                15,
                patient.deterioration_onset,
                patient.extra.get("pattern"),
            )
        )
        for vs in sets:
            assert 25 <= vs.heart_rate <= 220 and 60 <= vs.spo2 <= 100
            assert vs.diastolic < vs.systolic and 32 <= vs.temperature <= 42.5
        if not patient.deteriorates:
            assert all(vs.acvpu == "A" for vs in sets)
            assert statistics.mean(vs.respiratory_rate for vs in sets) < 22
            stable_checked += 1
            continue
        onset = patient.deterioration_onset
        assert onset is not None
        before = [vs for vs in sets if vs.at < onset]
        late = [vs for vs in sets if vs.at >= onset + timedelta(hours=6)]
        if not late:
            continue
        assert (
            statistics.mean(v.respiratory_rate for v in late)
            > statistics.mean(v.respiratory_rate for v in before) + 4
        )
        worse += 1
    assert stable_checked > 50 and worse > 3


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), index=st.integers(0, 10**5))
def test_note_spans_always_cover_exactly_their_values(seed: int, index: int) -> None:
    from clinflow.synthetic.notes import write_note

    patient, rng = make_patient(seed, index, SCENARIO)
    _, note = write_note(patient, rng, patient.admitted_at + timedelta(hours=3))
    text = note.build()
    assert note.spans, "every note plants identifiers"
    previous_end = 0
    for span in note.spans:
        assert text[span.start : span.end] == span.value
        assert span.start >= previous_end  # spans never overlap
        previous_end = span.end
    assert patient.mrn in text
