"""The sign-off column reader (clinflow.deid.text.tables) on generated tables: it only ever
marks whole cells of a column whose header names a signer, and never a separator."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.text.lexicon import is_english_word
from clinflow.deid.text.tables import sign_off_cells

CELL = st.text(alphabet="abcdefghijKLMNOPQRS0123456789/. -", min_size=0, max_size=12)
HEADERS = st.sampled_from(["Time", "BP", "Dose", "Init", "By", "Checked by", "Notes", "HR"])


@settings(deadline=None)
@given(
    st.lists(HEADERS, min_size=1, max_size=5),
    st.lists(st.lists(CELL, min_size=5, max_size=5), min_size=0, max_size=6),
    st.sampled_from(["---", ":---", "---:", ":-:"]),
)
def test_only_whole_cells_of_sign_off_columns(
    headers: list[str], rows: list[list[str]], dashes: str
) -> None:
    lines = ["intro line", "| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join(dashes for _ in headers) + "|")
    lines += ["| " + " | ".join(row[: len(headers)]) + " |" for row in rows]
    text = "\n".join(lines) + "\n"
    sign_off = {i for i, h in enumerate(headers) if h in ("Init", "By", "Checked by")}
    expected_cells = {
        (r, i) for r, row in enumerate(rows) for i in sign_off if row[i].strip()
    }
    found = sign_off_cells(text, is_english_word)
    for start, end in found:
        value = text[start:end]
        assert "|" not in value and "\n" not in value
        assert value == value.strip() and value
        line_no = text.count("\n", 0, start)
        assert line_no >= 3  # a body row, never the header or separator
        column = text[: start].rsplit("\n", 1)[1].count("|") - 1
        assert (line_no - 3, column) in expected_cells


def test_no_table_no_cells() -> None:
    assert sign_off_cells("Init: KD | BP 120/80", is_english_word) == []
    assert sign_off_cells("| Init |\n| KD |", is_english_word) == []  # no separator row


LABELS = st.sampled_from(["Patient", "Pt", "Name", "Recipient", "Donor name", "Exam", "Ward"])
WORDS = st.lists(
    st.text(alphabet="ABCDEFGHIJKLMNOPRSTUVWYZ'", min_size=1, max_size=8), min_size=1, max_size=7
)


@settings(deadline=None)
@given(LABELS, WORDS, st.sampled_from([",", "", " @"]), st.sampled_from(["\n", "   MRN 1", " x"]))
def test_person_slot_spans_are_capitals_after_a_person_label(
    label: str, words: list[str], joiner: str, tail: str
) -> None:
    from clinflow.deid.text.names import is_clinical_word
    from clinflow.deid.text.slots import capitals_in_person_slots

    value = (joiner + " ").join(words[:2]) + (" " + " ".join(words[2:]) if words[2:] else "")
    text = f"Form\n{label}: {value}{tail}"
    for start, end in capitals_in_person_slots(text, is_english_word, is_clinical_word):
        found = text[start:end]
        assert "\n" not in found and not any(c.islower() for c in found)
        assert text[:start].rstrip().endswith(":")
        assert label not in ("Exam", "Ward")
