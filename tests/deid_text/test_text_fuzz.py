"""Fuzzing the free-text de-identifier through its public API (issue 13).

Random text (any Unicode, clinical-looking words, digits and punctuation) with one of the
patient's known identifiers inserted verbatim between separators. Property: ``deidentify``
never raises, and its output never holds the inserted identifier (compared case-folded).
"""

from __future__ import annotations

from hypothesis import strategies as st

from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.text.engine import KnownIdentifiers, TextDeidentifier
from helpers.fuzz import fuzz_tests, only_clinflow_errors, tally

DEID = TextDeidentifier(Pseudonymizer(bytes(range(32))))
PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MRN-0012345"},
                   {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "871-01-7483"}],
    "name": [{"family": "Hagenes547", "given": ["Antonia30"]}],
    "telecom": [{"system": "phone", "value": "(312) 555-0196"},
                {"system": "email", "value": "antonia@example.org"}],
    "address": [{"line": ["9522 Chestnut Boulevard"], "city": "Ashland", "postalCode": "41101"}],
}  # fmt: skip
IDENTIFIERS = ["MRN-0012345", "871-01-7483", "Hagenes547", "Antonia30", "(312) 555-0196",
               "antonia@example.org", "9522 Chestnut Boulevard"]  # fmt: skip
WORDS = st.sampled_from(["pt", "seen", "BP", "120/80", "on", "2019-03-04", "Dr.", "MRN", "SSN",
                         "called", "re:", "x", "#", "\u00e9t\u00e9", "\u4e2d\u6587", "90", ";"])
TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(WORDS, max_size=20).map(" ".join),
    st.text(alphabet=st.characters(codec="ascii"), max_size=80),
)
SEPARATORS = st.sampled_from([" ", "\n", ", ", " (", ") ", ": ", "\t", " \"", "\" "])


def _known() -> KnownIdentifiers:
    known = KnownIdentifiers()
    known.add_from_patient(PATIENT)
    return known


KNOWN = _known()


def _check(before: str, after: str, identifier: str, left: str, right: str) -> None:
    """Random text around a known identifier: no crash, the identifier never survives."""
    text = before + left + identifier + right + after
    with only_clinflow_errors("TextDeidentifier.deidentify") as raised:
        result = DEID.deidentify(text, "MRN-0012345", KNOWN)
    assert not raised, f"deidentify raised {raised[0]!r}"  # not even a clinflow error
    tally("text:deidentified")
    assert identifier.casefold() not in result.text.casefold(), (text, result.text)


test_random_text_never_keeps_an_inserted_identifier, test_random_text_many = fuzz_tests(
    "text", _check, before=TEXT, after=TEXT, identifier=st.sampled_from(IDENTIFIERS),
    left=SEPARATORS, right=SEPARATORS,
)
