"""Note shapes measured on blind_28 (an urban safety-net hospital: handoffs, bed boards, case
management) and blind_29 (ancillary and specialty care, pedigrees, spoken dictation), both
written blind, each measured once and a development set since.

A given name found alone takes the family name written right after it, even when that
family name is an English or eponym word the dictionary never seeds ("Colleen Farrow",
"Darnell Pugh", "Rosalind Pratt"). Raw speech recognition with its punctuation spoken
("comma", "period") is read a second time with the marks written and the words that are
not English in title case; numbers dictated digit by digit are identifiers. Every example
string here is invented for the test (none
occurs in any annotated set)."""

from __future__ import annotations

import pytest

from clinflow.deid.text.engine import TextDeidentifier

from .helpers import covered, overlapping

FOUND = [
    # a listed given name, then a family name that is an English word
    ("Night supervisor Marlene Thatcher approved the sitter.", "Marlene Thatcher"),
    ("Bed meeting lead: Colleen Barrow (AOD)", "Colleen Barrow"),
    ("Discussed with fellow Ana Furlong before the dose.", "Ana Furlong"),
    ("Questions to Patrice Warden at the desk.", "Patrice Warden"),
    # an eponym-like family name after a given name
    ("Asked counsellor Desmond Pugh to call the family.", "Desmond Pugh"),
    ("Transport arranged by Rosalyn Pratt, unit clerk.", "Rosalyn Pratt"),
    # a given name in name position (not listed) takes its family name too
    ("financial navigator Ximena Cradle set up the payment plan", "Ximena Cradle"),
]

DICTATION = (
    "this is the audiology clinic dictating period patient seen for hearing aid check comma "
    "chart number s t oh seven seven two one nine comma return in six weeks period new "
    "paragraph copy to doctor quennell comma that is quennell with two ells period "
    "her son can be reached at five oh three five five five oh one eight two period "
    "she was driven in from tolvanek by her daughter marguerite period end of dictation period"
)
SPOKEN = [
    (DICTATION, "s t oh seven seven two one nine"),
    (DICTATION, "five oh three five five five oh one eight two"),
    (DICTATION, "quennell"),
    (DICTATION, "tolvanek"),
    ("ASR draft. job number 4 4 8 1 0 2   typed 03/02", "4 4 8 1 0 2"),
]

DATES = [
    ("Vent weaned; extubated 10/23, on 2 L NC since.", "10/23"),
    ("Chest pain free. Last pain 9/28 0415, trop flat.", "9/28"),
    ("Call fellow if recurs. Last pain 10/2 2250.", "10/2"),
]
NO_DATES = [
    "Give the first dose on the ward; the second at 2200.",
    "Seen on the first visit by the team.",
    "Pain 7/10 at rest, 4/10 after oxycodone.",
    "Left upper extremity 4/5, otherwise 5/5 throughout.",
    "Ext hallucis longus 4/5 on the right.",
]


@pytest.mark.parametrize("text", NO_DATES)
def test_scores_and_power_are_no_date(deid: TextDeidentifier, text: str) -> None:
    assert [s for s in deid.analyze(text) if s.entity == "DATE_TIME"] == []

BED_BOARD = (
    "NORTHGATE 6\n"
    "612A  VASHCHENKO, O  pneumonia  d/c am\n"
    "614   MBEKI-ROURKE, TANDIWE  NSTEMI  tele\n"
    "615B  ALBUQUERQUE NUNES, R  cellulitis\n"
    "Overflow: bed 3 HEIKKINEN, J, hall 2 OYELARAN, B\n"
    " 7 FAIRCLOTH, DESMOND - sepsis, pressors\n"
    "from triage, AMS, T 38.9, HR 118\n"
    "72 YRS, F   CHF, A-fib\n"
)
BOARD_NAMES = [
    "VASHCHENKO, O",
    "MBEKI-ROURKE, TANDIWE",
    "ALBUQUERQUE NUNES, R",
    "HEIKKINEN, J",
    "OYELARAN, B",
    "FAIRCLOTH, DESMOND",
]


@pytest.mark.parametrize("name", BOARD_NAMES)
def test_bed_board_names_in_capitals_are_found(deid: TextDeidentifier, name: str) -> None:
    assert covered(BED_BOARD, name, deid.analyze(BED_BOARD))


@pytest.mark.parametrize("safe", ["AMS, T", "YRS, F", "CHF"])
def test_bed_board_abbreviations_are_kept(deid: TextDeidentifier, safe: str) -> None:
    names = [s for s in deid.analyze(BED_BOARD) if s.entity == "PERSON"]
    assert overlapping(BED_BOARD, safe, names) == []


WARDS = [
    # a bed board's heading alone on its line, and the same ward again later
    ("CENSUS 03/02\nKILBRIDE 4\n410A  ODUYA, F  cellulitis\n", "KILBRIDE 4"),
    ("KILBRIDE 4\n410A  ODUYA, F\nnight RN moved her from Kilbride 5 at 0200", "Kilbride 5"),
    # the ward before a room number
    ("DOB 04/05/1961   Tremayne 6 612B   CM: K. Lowe, RN", "Tremayne 6"),
    ("From: Tremayne 3, rm 318   To: ICU fellow", "Tremayne 3"),
]
WARD_LOOK_ALIKES = [
    "Braden 14",  # a score
    "CIWA 14",  # a score in capitals alone on its line
    "Creon 10",  # a drug and its dose ("Creon 10,000")
    "Wt 3",  # a weight ("Wt 3,410 g")
]
WARD_LOOK_ALIKE_NOTE = "Skin: Braden 14\nCIWA 14\nContinue Creon 10,000 units. Wt 3,410 g.\n"


@pytest.mark.parametrize("safe", WARD_LOOK_ALIKES)
def test_scores_doses_and_weights_are_no_ward(deid: TextDeidentifier, safe: str) -> None:
    text = WARD_LOOK_ALIKE_NOTE
    assert overlapping(text, safe, deid.analyze(text)) == []


TOWNS = [
    ("Flew in from Quarrick Point on the mail plane.", "Quarrick Point"),
    ("Grandfather, 81, Tennaby Falls, prostate cancer at 70.", "Tennaby Falls"),
    ("Moved to Port Allendry after the divorce.", "Port Allendry"),
    ("Cousin farms near Fort Dunvegan, no cardiac history.", "Fort Dunvegan"),
]
NO_TOWNS = [
    "Trigger Point injection to the left trapezius.",
    "Pressure Point care; Access Point changed.",
    "Lake Louise criteria for altitude sickness.",
]


POSSESSORS = [
    ("Pedigree:\n- Tamsyn's sister Oriel, 41, BRCA negative.", "Tamsyn"),
    ("- Brevik's side has no colon cancer.", "Brevik"),
    ("Per Lorcan's younger brother, he stopped drinking.", "Lorcan"),
]
EPONYM_POSSESSIVES = (
    "Parkinson's family history in father. Wilson's sibling testing advised. "
    "Huntington's family screening declined."
)


def test_an_eponyms_disease_before_family_is_no_name(deid: TextDeidentifier) -> None:
    assert [s for s in deid.analyze(EPONYM_POSSESSIVES) if s.entity == "PERSON"] == []


SIGN_OUT = (
    "NIGHT SIGN-OUT 3/4\nAttg: Rosencrantz   Charge: Oyelakin-Dubois\n"
    "Senior: Vashti-Kamara (pg 40077)   CVICU: Brzezinska\n"
    "Charge: Stable census. Float: None. MICU: Full\n"
)


@pytest.mark.parametrize("name", ["Rosencrantz", "Oyelakin-Dubois", "Vashti-Kamara", "Brzezinska"])
def test_staff_named_by_their_role_on_a_sign_out(deid: TextDeidentifier, name: str) -> None:
    assert covered(SIGN_OUT, name, deid.analyze(SIGN_OUT))


def test_role_labels_before_ordinary_words_name_no_one(deid: TextDeidentifier) -> None:
    last_line = SIGN_OUT.index("Charge: Stable")
    names = [s for s in deid.analyze(SIGN_OUT) if s.entity == "PERSON" and s.start >= last_line]
    assert names == []


HANDLES = [
    ("[22:31] Ines Vardy MD: @kfolarin can you see 7B? lactate 4.1", "kfolarin"),
    ("[02:11] Charge RN: @gi_fellow_oncall 402 melena x2", "gi_fellow_oncall"),
    ("2078-03-02 01:15:44 | tpellow | WS 192.0.2.81 | chart viewed", "tpellow"),
    ("remote VPN 192.0.2.250 | ext_coder12 | reason: billing", "ext_coder12"),
    ("Critical K 6.9 called at 1402, read back by mhalvard. Plan: recheck.", "mhalvard"),
    ("Referral closed by qtraske 03:09.", "qtraske"),
]
NO_HANDLES = [
    "Email results to clinic@example.org and to lab.team@example.com today.",
    "| cod | 8 |\n| birch | 6 |\n| clopidogrel | 75 mg |",
    "Came alone by minibus; BP checked by coworker (148/94).",
]
SPOKEN_DATES_AND_ROLES = [
    ("Daughter: She fell again Tuesday the fourteenth, in the kitchen.", "Tuesday the fourteenth"),
    ("Son: He came home from Riverbend on the twenty-second.", "the twenty-second"),
    ("Call handler: Mehwish   Clinical advisor: T. Obi", "Mehwish"),
    ("Supervisor: LaShonda\nRm 12 - stable", "LaShonda"),
    ("Midwife: R. Evans   Student: Ifeoluwa", "Ifeoluwa"),
]
UK_PHONES = [
    ("Daughter phoned from 01970 555 0188 at 21:00.", "01970 555 0188"),
    ("Safeguarding: 0161 496 0321 (duty team).", "0161 496 0321"),
    ("Switchboard 020 7946 0958, ask for ward 6.", "020 7946 0958"),
]


KEPT = [
    # the given name alone: a language, a unit or a verb after it is not its family name
    ("Interpreter Colleen Spanish today.", "Spanish"),
    ("Maria Unit 4 bed 2.", "Unit"),
    ("Colleen Reviewed the chart.", "Reviewed"),
]


@pytest.mark.parametrize(
    ("text", "phi"),
    FOUND + SPOKEN + DATES + WARDS + TOWNS + POSSESSORS + HANDLES + UK_PHONES
    + SPOKEN_DATES_AND_ROLES,
)
def test_blind28_to_31_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    assert covered(text, phi, deid.analyze(text))


@pytest.mark.parametrize(("text", "word"), KEPT)
def test_no_family_name_from_a_word_after_a_given_name(
    deid: TextDeidentifier, text: str, word: str
) -> None:
    names = [s for s in deid.analyze(text) if s.entity == "PERSON"]
    assert names, "the given name itself is found"
    assert overlapping(text, word, names) == []


def test_a_typed_note_is_not_read_as_dictation(deid: TextDeidentifier) -> None:
    # two spoken-looking words are no dictation, and counts stay counts
    text = "Patient uses a comma-free list; period of observation two to four weeks, one or two."
    assert [s for s in deid.analyze(text) if s.entity == "PERSON"] == []
    assert [s for s in deid.analyze("Range one two three four five") if s.entity == "ID"] == []


@pytest.mark.parametrize(
    ("text", "recognizer"),
    [(t, "place_geographic") for t in NO_TOWNS] + [(t, "username_handle") for t in NO_HANDLES],
)
def test_look_alikes_fire_no_rule(deid: TextDeidentifier, text: str, recognizer: str) -> None:
    assert [s for s in deid.analyze(text) if s.recognizer == recognizer] == []
