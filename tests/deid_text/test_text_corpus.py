"""The annotated evaluation set: the ``{{TYPE|surface}}`` markup parser and the shipped notes.

The set measures the text de-identifier, so an annotation error is a silent measurement error:
these tests check the markup round-trips, malformed markup is refused without echoing PHI,
and the shipped notes are consistent with their patients' records.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.deid.text.corpus import (
    NAME_TYPES,
    AnnotatedNote,
    AnnotatedSpan,
    PhiCategory,
    PhiType,
    annotated_notes_path,
    load_annotated_notes,
    parse_marked,
)
from clinflow.errors import InputRejected

REPO = Path(__file__).resolve().parents[2]
SAFE_CHARS = st.characters(blacklist_characters="{}|", blacklist_categories=("Cs",))
PLAIN = st.text(SAFE_CHARS, max_size=20)
SURFACE = st.text(SAFE_CHARS, min_size=1, max_size=12)


@cache
def shipped() -> tuple[AnnotatedNote, ...]:
    return tuple(load_annotated_notes(annotated_notes_path()))


def mark(pieces: list[tuple[str, PhiType, str]], tail: str) -> str:
    return "".join(f"{plain}{{{{{t}|{s}}}}}" for plain, t, s in pieces) + tail


# --- the parser ----------------------------------------------------------------------------


@given(st.lists(st.tuples(PLAIN, st.sampled_from(PhiType), SURFACE), max_size=8), PLAIN)
def test_parse_marked_recovers_plain_text_and_every_surface(
    pieces: list[tuple[str, PhiType, str]], tail: str
) -> None:
    text, spans = parse_marked(mark(pieces, tail), "n-1")
    assert text == "".join(plain + surface for plain, _, surface in pieces) + tail
    assert [(text[s.start : s.end], s.type) for s in spans] == [(s, t) for _, t, s in pieces]
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))


def test_parse_marked_offsets_on_a_signature() -> None:
    text, spans = parse_marked("Signed: {{CLINICIAN|Xzavian G. Tavares}}, M.D. {{DATE|4/7/69}}")
    assert text == "Signed: Xzavian G. Tavares, M.D. 4/7/69"
    assert spans == (
        AnnotatedSpan(8, 26, PhiType.CLINICIAN),
        AnnotatedSpan(33, 39, PhiType.DATE),
    )


@pytest.mark.parametrize(
    ("marked", "reason", "position"),
    [
        ("Seen by {{CLINICIAN|Hobbs", "'{{' is never closed by '}}'", "line 1 column 9 (offset 8)"),
        ("Seen by Hobbs}} today", "'}}' without a matching '{{'", "line 1 column 14 (offset 13)"),
        ("x\nby {{DOCTOR|Hobbs}}", "unknown PHI type in markup", "line 2 column 4 (offset 5)"),
        ("by {{CLINICIAN|}} x", "marked span is empty", "line 1 column 4 (offset 3)"),
        ("by {{Hobbs}} x", "markup has no '|' between type and text", "line 1 column 4 (offset 3)"),
        ("{{DATE|4/7|69}}", "marked span contains '{', '}' or '|'", "line 1 column 1 (offset 0)"),
        (
            "{{PATIENT|{{DATE|x}}",
            "marked span contains '{', '}' or '|'",
            "line 1 column 1 (offset 0)",
        ),
    ],
)
def test_malformed_markup_is_rejected_with_note_id_and_position(
    marked: str, reason: str, position: str
) -> None:
    with pytest.raises(InputRejected) as caught:
        parse_marked(marked, "discharge-007")
    assert str(caught.value) == f"note discharge-007: {position}: {reason}"


@given(st.lists(st.tuples(PLAIN, st.sampled_from(PhiType), SURFACE), min_size=1, max_size=5))
def test_rejection_message_never_contains_the_text(
    pieces: list[tuple[str, PhiType, str]],
) -> None:
    marked = mark(pieces, "{{CLINICIAN|Zebulon Quixley")  # unclosed at the end
    with pytest.raises(InputRejected) as caught:
        parse_marked(marked, "n-2")
    offset = marked.rindex("{{CLINICIAN|Zebulon")
    line = marked.count("\n", 0, offset) + 1
    column = offset - marked.rfind("\n", 0, offset)
    where = f"line {line} column {column} (offset {offset})"
    # the whole message is fixed by id and position: no character of the note gets in
    assert str(caught.value) == f"note n-2: {where}: '{{{{' is never closed by '}}}}'"


def test_loader_rejects_a_bad_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    good = {"id": "a", "style": "ed_note", "text": "{{PATIENT|Ann Lee}} seen", "record": None}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "id": "b", "text": 3}) + "\n")
    with pytest.raises(InputRejected, match=r"^notes\.jsonl:3: field 'text' must be a string$"):
        load_annotated_notes(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(InputRejected, match=r"^notes\.jsonl:2: duplicate note id 'a'$"):
        load_annotated_notes(path)
    path.write_text(json.dumps(good) + "\n")
    (note,) = load_annotated_notes(path)
    assert (note.text, note.spans, note.people) == (
        "Ann Lee seen",
        (AnnotatedSpan(0, 7, PhiType.PATIENT),),
        (),
    )


def test_every_type_has_a_category() -> None:
    assert {t.category for t in NAME_TYPES} == {PhiCategory.NAME}
    assert PhiType.MRN.category is PhiCategory.ID and PhiType.ZIP.category is PhiCategory.LOCATION
    assert {t.category for t in PhiType} == set(PhiCategory)


# --- the shipped set -----------------------------------------------------------------------


def test_shipped_set_is_the_checkout_file_and_has_its_size() -> None:
    assert annotated_notes_path() == (REPO / "synthetic/text_eval/notes.jsonl").resolve()
    notes = shipped()
    assert len(notes) >= 80
    assert len({n.style for n in notes}) >= 7
    assert sum(len(n.spans) for n in notes) >= 1200
    assert sum(n.record is not None for n in notes) >= len(notes) * 2 // 5


RARE = {PhiType.IP, PhiType.SSN, PhiType.COUNTRY, PhiType.VEHICLE, PhiType.LICENSE}


def test_every_type_is_used_and_common_ones_often() -> None:
    counts = Counter(span.type for note in shipped() for span in note.spans)
    assert set(counts) == set(PhiType)
    assert {t for t in PhiType if t not in RARE and counts[t] < 3} == set()
    names = sum(counts[t] for t in NAME_TYPES)
    assert counts[PhiType.CLINICIAN] >= 200 and names >= 400 and counts[PhiType.DATE] >= 250


def test_surfaces_are_clean_and_spans_do_not_overlap() -> None:
    for note in shipped():
        for span in note.spans:
            surface = note.surface(span)
            assert surface == surface.strip() and "\n" not in surface, note.id
            assert not set("{}|") & set(surface), note.id
        assert all(a.end <= b.start for a, b in zip(note.spans, note.spans[1:], strict=False))


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}  # fmt: skip


def _dates(surface: str) -> set[tuple[int, int, int]]:
    """(year mod 100, month, day) readings of a date surface: the formats the set uses."""
    found: set[tuple[int, int, int]] = set()
    text = surface.lower()
    for a, b, c in re.findall(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{2,4})", text):
        if len(a) == 4:
            found.add((int(a) % 100, int(b), int(c)))
        else:
            found.add((int(c) % 100, int(a), int(b)))  # US month/day/year
            found.add((int(c) % 100, int(b), int(a)))  # day/month/year
    for day, month, year in re.findall(r"(\d{1,2})[\s\-]([a-z]{3})[a-z]*[\s\-](\d{4})", text):
        if month in MONTHS:
            found.add((int(year) % 100, MONTHS[month], int(day)))
    for month, day, year in re.findall(r"([a-z]{3})[a-z]* (\d{1,2}),? (\d{4})", text):
        if month in MONTHS:
            found.add((int(year) % 100, MONTHS[month], int(day)))
    return found


def test_date_reader_covers_the_formats_the_records_use() -> None:
    assert (69, 4, 7) in _dates("04/07/69") & _dates("2069-04-07") & _dates("April 7, 2069")
    assert (82, 8, 30) in _dates("30-Aug-1982") and (36, 11, 22) in _dates("22 November 2036")


def test_each_record_identifier_is_annotated_in_its_note() -> None:
    """The patient's own name, MRN and birth date appear, annotated, in the note they go with."""
    with_record = [n for n in shipped() if n.record is not None]
    for note in with_record:
        assert note.record is not None and note.record["resourceType"] == "Patient"
        marked: dict[PhiType, list[str]] = {}
        for span in note.spans:
            marked.setdefault(span.type, []).append(note.surface(span).lower())
        family = note.record["name"][0]["family"].lower()
        assert any(family in s for s in marked.get(PhiType.PATIENT, [])), note.id
        identifiers = note.record["identifier"]
        (mrn,) = [i["value"] for i in identifiers if i.get("type", {}).get("text") == "MRN"]
        assert any(_digits(mrn) == _digits(s) for s in marked.get(PhiType.MRN, [])), note.id
        birth = date.fromisoformat(note.record["birthDate"])
        wanted = (birth.year % 100, birth.month, birth.day)
        assert any(wanted in _dates(s) for s in marked.get(PhiType.DATE, [])), note.id


def test_other_record_values_in_the_text_are_annotated() -> None:
    """A record's phone, address or email that the note mentions is never left unmarked."""
    for note in shipped():
        if note.record is None:
            continue
        covered = [range(s.start, s.end) for s in note.spans]
        values = [t["value"] for t in note.record.get("telecom", [])]
        for address in note.record.get("address", []):
            values += [*address["line"], address["city"], address["postalCode"]]
        for value in values:
            for found in re.finditer(re.escape(value), note.text):
                assert any(found.start() in r and found.end() - 1 in r for r in covered), note.id


def test_people_resources_name_people_annotated_in_the_note() -> None:
    for note in shipped():
        names = {note.surface(s).lower() for s in note.spans if s.type in NAME_TYPES}
        for person in note.people:
            assert person["resourceType"] in {"Practitioner", "RelatedPerson"}, note.id
            family = person["name"][0]["family"].lower()
            assert any(family in name for name in names), note.id


@pytest.mark.parametrize(
    "word", ["Parkinson", "Foley", "Swan-Ganz", "Bell's palsy", "Graves disease", "Cushing",
             "Apgar", "Glasgow Coma Scale", "Hodgkin", "Homans", "BP 128/76", "5/325", "K 4.2",
             "Murphy's sign", "Allen test", "frank pain", "call bell"],
)  # fmt: skip
def test_negative_controls_occur_unannotated(word: str) -> None:
    """Eponyms and numbers that look like PHI are in the set and are never marked."""
    occurrences = 0
    for note in shipped():
        for found in re.finditer(re.escape(word), note.text):
            occurrences += 1
            assert not any(s.start < found.end() and found.start() < s.end for s in note.spans)
    assert occurrences >= 1


def test_ages_under_90_are_never_annotated() -> None:
    for note in shipped():
        for span in note.spans:
            if span.type is PhiType.AGE and note.surface(span).isdigit():
                assert int(note.surface(span)) >= 90, note.id
