"""Slots that name a person or a care site whatever the words in them (ADR 0123, broad.py):
the words after a personal title in any case, "FAMILY, GIVEN" in capitals beside a patient's
demographics, the name a message opens with or thanks, the words of a row before an age and
sex, a name in capitals or lower case ending a line after a dash or slash, a phrase or an
acronym after a care verb and its preposition, a site with a proper name beside a heading in
a letterhead or after a site's label, a town before its police service and a state before a
number-plate, a lower-case name before a lower-case credential or its family name after it;
a day and a month named in another language; a score or a British duration written as a
fraction ("pain 7/10", "7/7", "2/52") kept; the surrogate swap of evaluate.py. The rules take
words by their shape (no function, clinical or common word), not from a name list, so the
property tests feed them made-up words. Every example string here is invented for the test
(none occurs in any annotated set)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.text.corpus import AnnotatedNote
from clinflow.deid.text.engine import TextDeidentifier

from .helpers import covered, overlapping

FOUND = [
    # after a personal title, in any case
    ("Discussed with Dr. vantongeren-aki who agrees.", "vantongeren-aki"),
    ("ortho (dr qwabe) to review the wound", "qwabe"),
    ("DR TOMASZEWSKA-ILOH THIS IS THE LAB CALLING", "TOMASZEWSKA-ILOH"),
    ("rm 12 mrs. ottilie brackenbury asking for her glasses", "ottilie brackenbury"),
    ("pt handed over to Dr nurul binti zakaria at 0800", "nurul binti zakaria"),
    # FAMILY, GIVEN in capitals beside demographics or after a patient's slot
    ("Bay 3 -- ACHTERHOF, PERPETUA  MRN 55-120-447  DOB 3/3/51", "ACHTERHOF, PERPETUA"),
    ("Pt: MWANSA-LOCKE, ZEBEDEE R, 61M, lives alone", "MWANSA-LOCKE, ZEBEDEE R"),
    # the name a message opens with or thanks
    ("[2215] ngm: thx ottoline fairclough. will check k+", "ottoline fairclough"),
    ("Hi QUARSHIE-BELL, TEODORA, your results are back.", "QUARSHIE-BELL, TEODORA"),
    # the words of a row before an age and sex
    ("0312  prendergast-ola  47F  ESI 3  rash", "prendergast-ola"),
    ("Rm 14  Wirihana TAPSELL  73M  DNACPR", "Wirihana TAPSELL"),
    # a name in capitals or lower case ending a line after a dash or slash
    ("Warfarin unchanged, INR in 1/52.\n-ISOLDE QUENNEVILLE\n", "ISOLDE QUENNEVILLE"),
    ("Plan agreed.\nK. Osei, NP / ZOLTANOVA-REED\n", "ZOLTANOVA-REED"),
    # a care site after a care verb and its preposition
    ("She was seen at Ashgrove Meadows last spring.", "Ashgrove Meadows"),
    ("an old fracture was managed at the QMEH in 2079.", "QMEH"),
    ("Onward transfer via NEWAS critical care team.", "NEWAS"),
    # a site with a proper name beside a heading in a note's first lines, after a site's
    # label, or a phrase after "at"
    ("KILLOWEN VALE - DEPARTMENT OF DERMATOLOGY\nClinic letter\n", "KILLOWEN VALE"),
    ("STOMA CARE SERVICE -- Tarrengower Community Unit\nPt: J. Doe\n", "Tarrengower Community"),
    ("Booking: 12/05\nGP: Mallowbrae\nNext of kin: sister", "Mallowbrae"),
    ("She works as a cook at Bellquarry Gardens in town.", "Bellquarry Gardens"),
    # a town before its police service, a state or province before a number-plate
    ("Brought in by Trewarthen PD after a fall in the street.", "Trewarthen"),
    ("Son waited in the car (PE plate 4471 KQ) during the visit.", "PE"),
    # a lower-case name found alone and the lower-case family name after it
    ("0215 paged imelda quarrington re k+ 3.1", "imelda quarrington"),
    # a lower-case name before a lower-case credential
    ("2210 spoke w/ oyebanji-holt rn re fluids", "oyebanji-holt"),
    ("ok to restart heparin -- tamsin quarrie md, night float", "tamsin quarrie"),
    # a day and a month named in another language, either order, the year optional
    ("Balik-konsulta sa 23 Setyembre, dalhin ang resulta.", "23 Setyembre"),
    ("Ingreso el 4 de febrero de 2086 por disnea.", "4 de febrero de 2086"),
    ("Kontrolle am 19. Oktober 2085 in der Ambulanz.", "19. Oktober 2085"),
    ("Ricovero dal 8 giugno per febbre.", "8 giugno"),
    ("Jadwal kontrol Agustus 14, 2087 di poli.", "Agustus 14, 2087"),
]


@pytest.mark.parametrize(("text", "phi"), FOUND)
def test_slot_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    spans = deid.analyze(text)
    assert covered(text, phi, spans), [(text[s.start : s.end], s.recognizer) for s in spans]


KEPT = [
    # a title before a function, calendar, common or clinical word
    ("Dr to review in the morning; dr office closed Friday.", "office"),
    ("Mrs and Mr both present.", "both present"),
    # acronym lists in capitals are no names, even beside demographics
    ("Pt: 64M, HTN, HLD, CKD3; DNR/DNI, MOLST on chart.", "DNI, MOLST"),
    # a greeting before ordinary words
    ("Hi team, thanks all for the help today.", "team"),
    ("my son says hi lol. best number is the mobile", "lol"),
    # a row before an age and sex whose words are ordinary
    ("Pt is a 35 yo F with asthma.", "Pt is a"),
    ("MVC driver 34M restrained, GCS 15", "driver"),
    # a heading after a dash, a role after a slash
    ("PRIMARY CARE VISIT - TELEPHONE\n", "TELEPHONE"),
    ("Occupation: roofer / welder\n", "welder"),
    ("Rm 9  N.P.  77F  DNR/DNI\n", "DNI"),
    # a department, unit or team after a care verb
    ("Admitted to ICU, then referred to Cardiology and seen in ED.", "Cardiology"),
    ("Referred to the CMHT for follow-up.", "CMHT"),
    ("Reviewed by FME by phone.", "FME"),
    ("seen in ED Pritchard was stable", "ED"),
    ("PLACED IN A THUMB SPICA. SEEN AT THE FRACTURE CLINIC.", "THUMB SPICA"),
    # a heading beside a heading, a document type, a label inside a sentence
    ("TELEHEALTH VISIT - TECHNICAL NOTE\nPt seen by video\n", "TELEHEALTH"),
    ("DISCHARGE SUMMARY - PAEDIATRIC WARD\nIP No: 7\n", "PAEDIATRIC WARD"),
    ("On arrival at clinic: GCS 15, HR 90.", "GCS"),
    # an ordinary word before a police service or a plate, a board before "reg"
    ("State Police notified; front plate missing.", "State"),
    ("Senior OT, HCPC reg OT01234", "HCPC"),
    # an English word after a lower-case name is no family name
    ("0215 paged imelda regarding the potassium", "regarding"),
    # a common word before a credential is a verb or a role
    ("can u page rrt to bed 4", "page"),
    ("seen by charge rn today", "charge"),
    # a score or a British duration written as a fraction is no month and day
    ("Reports pain 8/10 on walking, mood maybe 5/10.", "8/10"),
    ("Reports pain 8/10 on walking, mood maybe 5/10.", "5/10"),
    ("Rx nitrofurantoin 50 mg QDS 3/7 then review.", "3/7"),
    ("Cough for 6/7, ran out of inhaler 2/7 ago.", "2/7"),
    ("GP review within 2/52.", "2/52"),
    ("Apgars 7/9, plantarflexion 4/5, Lawton IADL 5/8.", "4/5"),
    # a name followed by a number is no foreign month
    ("Mayo 2 and Abril 5 were the team names.", "Mayo 2"),
]


@pytest.mark.parametrize(("text", "safe"), KEPT)
def test_slot_look_alikes_are_kept(deid: TextDeidentifier, text: str, safe: str) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []


# made-up words: consonant-vowel syllables, no English word and no listed name needed
_SYLLABLE = st.sampled_from(
    ["ka", "zo", "mbu", "tre", "vi", "lo", "qua", "ny", "ske", "rho", "dza", "fu", "wen"]
)
_MADE_UP = st.lists(_SYLLABLE, min_size=3, max_size=4).map("".join)


@settings(max_examples=30, deadline=None)
@given(
    title=st.sampled_from(["Dr.", "dr", "Dr", "mrs.", "Mrs", "Prof"]),
    given_name=_MADE_UP,
    family=_MADE_UP,
    upper=st.booleans(),
)
def test_any_lower_or_capital_name_after_a_title_is_found(
    deid: TextDeidentifier, title: str, given_name: str, family: str, upper: bool
) -> None:
    name = f"{given_name} {family}"
    name = name.upper() if upper else name
    text = f"Plan discussed with {title} {name} today."
    assert covered(text, name, deid.analyze(text))


@settings(max_examples=30, deadline=None)
@given(
    time=st.integers(min_value=0, max_value=2359),
    family=_MADE_UP,
    age=st.integers(min_value=16, max_value=99),
    sex=st.sampled_from(["M", "F"]),
)
def test_any_name_before_an_age_and_sex_in_a_row_is_found(
    deid: TextDeidentifier, time: int, family: str, age: int, sex: str
) -> None:
    text = f"ED board\n{time:04d}  {family}  {age}{sex}  ESI 3  abdo pain\n"
    assert covered(text, family, deid.analyze(text))


@settings(max_examples=30, deadline=None)
@given(
    day=st.integers(min_value=1, max_value=28),
    month=st.sampled_from(
        ["Hunyo", "Hulyo", "Disyembre", "marzo", "junio", "janvier", "juillet", "Oktober",
         "maggio", "maart", "Ogos", "Desember", "fevereiro"]
    ),
    year=st.one_of(st.none(), st.integers(min_value=2030, max_value=2099)),
)
def test_any_day_and_foreign_month_is_found(
    deid: TextDeidentifier, day: int, month: str, year: int | None
) -> None:
    date = f"{day} {month}" + (f" {year}" if year else "")
    text = f"Susunod na balik: {date}, umaga."
    assert covered(text, date, deid.analyze(text))


@settings(max_examples=30, deadline=None)
@given(
    word=st.sampled_from(["pain", "Pain", "energy", "mood", "strength", "Apgars"]),
    score=st.integers(min_value=0, max_value=10),
)
def test_any_score_out_of_ten_is_no_date(deid: TextDeidentifier, word: str, score: int) -> None:
    fraction = f"{score}/10"
    text = f"Today {word} {fraction}, tolerating diet."
    assert overlapping(text, fraction, deid.analyze(text)) == []


@settings(max_examples=25, deadline=None)
@given(
    first=_MADE_UP,
    second=_MADE_UP,
    verb=st.sampled_from(["seen at", "managed at", "transferred to"]),
)
def test_any_two_word_site_after_a_care_verb_is_found(
    deid: TextDeidentifier, first: str, second: str, verb: str
) -> None:
    site = f"{first.title()} {second.title()}"
    text = f"Previously {verb} {site} for the same problem."
    assert covered(text, site, deid.analyze(text))


def test_surrogate_swap_puts_the_other_sets_words_into_the_same_slots() -> None:
    """evaluate.surrogate_swap: names and sites from another set, case style kept, dates and
    the patient's own identifiers as written, offsets of the new text, deterministic."""
    from clinflow.deid.text.corpus import parse_marked
    from clinflow.deid.text.evaluate import surrogate_swap

    def note(marked: str, record: dict[str, Any] | None = None) -> AnnotatedNote:
        text, spans = parse_marked(marked)
        return AnnotatedNote("n", "test", text, spans, record, ())

    record: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"family": "Quellbrook", "given": ["Ines"]}],
    }
    one = note(
        "Pt {{PATIENT|Ines Quellbrook}} seen {{DATE|3/4/2081}} by dr {{CLINICIAN|zanetti}} "
        "at {{HOSPITAL|Marrowby Vale}}.",
        record,
    )
    two = note("Copy to {{CLINICIAN|Tobias Ferriday}}; {{HOSPITAL|KESTREL MOOR}} ward.")
    first = surrogate_swap({"a": [one], "b": [two]})
    assert first == surrogate_swap({"a": [one], "b": [two]})
    swapped = first["a"][0]
    surfaces = {s.type.value: swapped.surface(s) for s in swapped.spans}
    assert surfaces["PATIENT"] == "Ines Quellbrook"  # the patient's own, as written
    assert surfaces["DATE"] == "3/4/2081"
    assert surfaces["CLINICIAN"] == "tobias ferriday"  # from the other set, lower case kept
    assert surfaces["HOSPITAL"] == "KESTREL MOOR"  # as drawn (the original is mixed case)
    assert swapped.text.endswith(".") and swapped.text.startswith("Pt Ines Quellbrook seen")
