"""Note shapes measured on blind_8 (a development set since, ADR 0121), written as rules that
hold beyond the spellings seen: HL7 v2 segments read by their fields, ``|``-delimited tables
read by the header of each column (with or without a Markdown separator row), ids after any
label ending in a number word, an acronym label with hyphenated digits, a scheme's acronym
written again before its number, blood-unit donation numbers. Every example string here is
invented for the test (none occurs in any annotated set)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.text.engine import TextDeidentifier

from .helpers import covered, overlapping

_HL7 = (
    "MSH|^~\\&|LABSYS|FERNDALE COMMUNITY HOSP|HIS|FCH|20700102030405||ORU^R01|X1|P|2.5.1\n"
    "PID|1||QQ4410027^^^FCH^MR~111-22-3333^^^SSA^SS||PALOMINO^ORSOLYA^KAY||19610203|F|||"
    "77 Tamarack Bend^^YREKA^CA^96097^USA||(530)555-0148|||||Z0081177642\n"
    "NK1|1|PALOMINO^BRASSICA|SIS|||(530)555-0190\n"
    "PV1|1|O|CLINIC^2^B^FCH||||9988776655^QUILLFEATHER^DUNSTAN^^^^MD|||MED\n"
)

FOUND = [
    # HL7 v2: the field says what a component is, whatever its words are
    (_HL7, "FERNDALE COMMUNITY HOSP"),
    (_HL7, "FCH"),
    (_HL7, "PALOMINO^ORSOLYA^KAY"),
    (_HL7, "77 Tamarack Bend^^YREKA^CA^96097^USA"),
    (_HL7, "Z0081177642"),
    (_HL7, "BRASSICA"),
    (_HL7, "QUILLFEATHER^DUNSTAN"),
    # a delimited table under a header row without a separator row: the person columns
    (
        "Recall list:\nID|SURNAME|GIVEN|DOB|NURSE\n"
        "A771|LARKSPUR|DAISY|1950-02-03|PQ\nA772|MEADOWS|HOLLY|1960-04-05|RT\n",
        "LARKSPUR",
    ),
    (
        "Recall list:\nID|SURNAME|GIVEN|DOB|NURSE\n"
        "A771|LARKSPUR|DAISY|1950-02-03|PQ\nA772|MEADOWS|HOLLY|1960-04-05|RT\n",
        "HOLLY",
    ),
    (
        "Recall list:\nID|SURNAME|GIVEN|DOB|NURSE\n"
        "A771|LARKSPUR|DAISY|1950-02-03|PQ\nA772|MEADOWS|HOLLY|1960-04-05|RT\n",
        "PQ",
    ),
    (
        "| bed | patient | drug | chk |\n| 4 | Fenwick, Opal | heparin | QZ |\n"
        "| 5 | Brook, Ivy / RX20993 | insulin | QZ |\n",
        "Fenwick, Opal",
    ),
    (
        "| bed | patient | drug | chk |\n| 4 | Fenwick, Opal | heparin | QZ |\n"
        "| 5 | Brook, Ivy / RX20993 | insulin | QZ |\n",
        "Brook, Ivy",
    ),
    (
        "| bed | patient | drug | chk |\n| 4 | Fenwick, Opal | heparin | QZ |\n"
        "| 5 | Brook, Ivy / RX20993 | insulin | QZ |\n",
        "QZ",
    ),
    # ids after any label ending in a number word, with the scheme's letters if spaced
    ("Casefile No.: TRW/ORT/70/10442 on the front sheet", "TRW/ORT/70/10442"),
    ("Register No: BXQ 71-20-993 recorded", "BXQ 71-20-993"),
    ("EMG #: K-40-77310 attached", "K-40-77310"),
    ("Welfare Ref DS-440192 quoted", "DS-440192"),
    # an acronym label and hyphenated digit groups
    ("TIN: 302-771-559 on file", "302-771-559"),
    # a scheme's acronym written again before its number
    ("PHB card PHB 4410938 seen", "PHB 4410938"),
    ("WCB claim WCB 81 22 907 pending", "WCB 81 22 907"),
    # donation numbers on blood units
    ("Transfused unit K1177 70 112 845 X without reaction", "K1177 70 112 845 X"),
    # a name before any role in parentheses, known by the shape of its word
    ("Minutes: Oriel Quennell-Baptiste (MDT coordinator, notes)", "Oriel Quennell-Baptiste"),
    ("Reviewed with Tamsyn Greaves (lead orthoptist) today", "Tamsyn Greaves"),
    ("Letter copied to Bram Oosterhuis (duty social worker)", "Bram Oosterhuis"),
    # a name after any role label ending like a specialist's
    ("Optometrist: Wairimu Kahiga, BOptom", "Wairimu Kahiga"),
    # initials in a person slot, as action owners in minutes, signing a message line
    ("Visit 03.04.2071 10:10   Clinician: QT (qtoa01)\n\nPC: cough", "QT"),
    ("Actions: QT to book a scan. HLW to send the letter. GP to review.", "HLW"),
    ("Actions: QT to book a scan. HLW to send the letter. GP to review.", "QT"),
    ("Home once transport sorted.\n>> KQ\n\nDISCLAIMER", "KQ"),
    # a family name in capitals then the given name after a form label for other people
    ("Passenger: VOSS-TER HAAR, Ilse   DOB 01/01/1990", "VOSS-TER HAAR, Ilse"),
    # an address by its structure: after its label, or a line of capitalised comma parts
    # with a house number or a postcode, whatever the street's kind is called
    ("Address: Plot 17, Mahogany Estate, Runaway Bay\nNOK: wife", "Plot 17, Mahogany Estate"),
    ("Home: Keizersgrachtje 40-3, 1016 GB Leiden, Nederland", "Keizersgrachtje 40-3"),
    ("Tarrawong Eye Clinic\nSuite 4, 19 Banksia Parade, Wyong, NSW 2259\nTel", "Suite 4"),
    ("Practice\nLon Eifion, Pwllheli LL53 5AA\n\nDear", "Lon Eifion"),
    ("Jalan Merbau Indah 7, 41050 Klang, Selangor", "Jalan Merbau Indah 7"),
    # care sites: the body or part named after the head word, the kind written first in
    # capitals, a health board by its region, transport and veterans' outpatient clinics
    ("NORTHERN DISTRICT HEALTH BOARD\nREFERRAL", "NORTHERN DISTRICT HEALTH BOARD"),
    ("ST BRENDAN'S GENERAL HOSPITAL ANNEX - ward 3", "ST BRENDAN'S GENERAL HOSPITAL ANNEX"),
    ("HIGHVELD AMBULANCE SERVICE   RUN SHEET", "HIGHVELD AMBULANCE SERVICE"),
    ("HOSPITAL TUANKU MERAH INDAH\nRingkasan", "HOSPITAL TUANKU MERAH INDAH"),
    ("Copy to NHS Tayside and the GP", "NHS Tayside"),
    ("Booked with Fenland Patient Transport for 9am", "Fenland Patient Transport"),
    ("Labs drawn at Saguaro Wash CBOC last week", "Saguaro Wash CBOC"),
    # a name a table column holds, written again elsewhere in the note
    (
        "ID|SURNAME|GIVEN\nQ1|MARTEN-OYELOWO|HAZEL\nQ2|FROST|HOLLY\n\n"
        "Notes: FROST, HOLLY (93) lives alone; Marten-Oyelowo declined.",
        "FROST, HOLLY (93)",
    ),
    (
        "ID|SURNAME|GIVEN\nQ1|MARTEN-OYELOWO|HAZEL\nQ2|FROST|HOLLY\n\n"
        "Notes: FROST, HOLLY (93) lives alone; Marten-Oyelowo declined.",
        "Marten-Oyelowo",
    ),
    # dates said aloud, months in other languages after a preposition, New Year
    ("CALLER: it's Ines Quaresma, October tenth, fifty-two\nAGENT: ok", "October tenth, fifty-two"),
    ("Vino a consulta; operada en marzo de 2070 en Oaxaca", "marzo de 2070"),
    ("Sturz im März, seitdem Gehhilfe", "März"),
    ("no alcohol since New Year apart from one wedding", "New Year"),
    # a subject's initials after their label; a second name after "aka"; a dash signature
    # with a role
    ("Screening log: Subject 09-114   Initials: T-B.K.   Sex: M", "T-B.K."),
    ("Re: Seosaimhín Ní Bhraonáin (aka Josie Brennan), DOB", "Josie Brennan"),
    ("Lovely to see you sitting out. - Ailbhe, night shift nurse", "Ailbhe"),
    # a name typed in lower case before a role in parentheses; a weekday before a date
    ("wound check done by oisin d (tissue viability nurse)", "oisin d"),
    ("fri 3/7/2071 home visit, daughter present", "fri 3/7/2071"),
    # lower-case initials signing before a role; a day alone after a follow-up word; a ship
    ("dressing reapplied.\n\nq j, physio   ext 4410", "q j"),
    ("rv 2 wks, 14th, in the fracture clinic", "14th"),
    ("Crew doctor, MV Boreal Tern (IMO 9411203) in port", "MV Boreal Tern"),
    ("Injured aboard the FV Silver Kittiwake on Tuesday", "FV Silver Kittiwake"),
    # an id with its serial label or mask written on, and a check letter after
    ("Pump (Alaris SN 8812-4470) swapped", "SN 8812-4470"),
    ("SSN (last four) xx-7720 verified", "xx-7720"),
    ("Registration: GMC 4471902-K", "4471902-K"),
    # a log-in in parentheses after a found name; an age over 89 after "is"
    ("Countersigned by Marisela Oyelaran (moyelaran), 2071", "moyelaran"),
    ("Bench tech: Priyamvada Goss (pg_lab2)", "pg_lab2"),
    ("Dear Dr Q, please see Mr Tregenza, who is 97. He lives alone.", "97"),
]


@pytest.mark.parametrize(("text", "phi"), FOUND)
def test_blind8_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    spans = deid.analyze(text)
    assert covered(text, phi, spans), [(text[s.start : s.end], s.recognizer) for s in spans]


def test_a_whole_name_found_once_is_found_again_even_with_a_word_in_it(
    deid: TextDeidentifier,
) -> None:
    text = "Dietitian: Hope Vanterpool, RD\n\nPlan: review.\n\nHope Vanterpool"
    spans = deid.analyze(text)
    assert covered(text, "Hope Vanterpool", spans, start=text.index("review"))


KEPT = [
    # an HL7 code or an assigning authority that names no one
    (_HL7, "SSA"),
    (_HL7, "ORU^R01"),
    # a table's non-person columns and a cell of ordinary words in a person column
    (
        "| time | test | by |\n| 0300 | potassium | see notes |\n",
        "potassium",
    ),
    ("| time | test | by |\n| 0300 | potassium | see notes |\n", "see notes"),
    # a page, bed or dose number after its label; a short number after a number word
    ("Page No. 2 of 3, Bed No 14", "2 of 3"),
    ("Hep B #2 given", "#2"),
    # an acronym label before a range of values
    ("HR: 60-100 target", "60-100"),
    # a team or role as an action's owner; a drug or test before a parenthesis
    ("Actions: GP to review bloods. OT to assess at home.", "GP"),
    ("Actions: GP to review bloods. OT to assess at home.", "OT"),
    ("Started Apixaban (anticoagulant) today", "Apixaban"),
    # a line of results with commas is no address
    ("Na 138, K 4.4, Urea 6.1, Creat 1021", "Na 138"),
    ("Home: independent with ADLs", "independent"),
    # a document's title with the care-site word first; the NHS number's label
    ("HOSPITAL CATERING MENU POLICY\nPt: x", "HOSPITAL CATERING"),
    ("NHS Number 555 010 7788", "Number"),
    # a word in parentheses after a name, a measurement after "is"
    ("Spoke with Oren Lindqvist (outpt) on the phone", "outpt"),
    ("HR is 95.5 and she is 96% on air", "96"),
    # a clinic named after a person is kept as a site, not a date ("to a Mayo clinic")
    ("referred to a Mayo clinic colleague", "Mayo"),
    # ordinary lower-case words before a role in parentheses
    ("dressing changed by the (district nurse) today", "the"),
    # a multiple sclerosis clinic; an ordinal that is no day
    ("MS Nurse Specialist review next week", "MS Nurse"),
    ("follow up in the 2nd trimester scan", "2nd"),
]


@pytest.mark.parametrize(("text", "safe"), KEPT)
def test_blind8_look_alikes_are_kept(deid: TextDeidentifier, text: str, safe: str) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []


_CAPS = st.text(alphabet="ABCDEFGHIJKLMNOPRSTUVWYZ", min_size=3, max_size=10)


@settings(max_examples=40, deadline=None)
@given(family=_CAPS, given_name=_CAPS)
def test_any_name_in_an_hl7_name_field_is_found(
    deid: TextDeidentifier, family: str, given_name: str
) -> None:
    text = f"Feed line:\nPID|1||M5512^^^SITE^MR||{family}^{given_name}||19700101|M\n"
    spans = deid.analyze(text)
    assert covered(text, f"{family}^{given_name}", spans)


@settings(max_examples=40, deadline=None)
@given(
    header=st.sampled_from(["patient", "Name", "SURNAME", "given", "by", "chk", "Initials"]),
    cell=st.sampled_from(["ROSE", "May", "Bell, Hope", "Sterling", "KT", "jr", "Grace Winter"]),
)
def test_any_name_in_a_person_column_is_found(
    deid: TextDeidentifier, header: str, cell: str
) -> None:
    text = f"| slot | {header} | note |\n| 0800 | {cell} | stable |\n| 0900 | {cell} | ok |\n"
    spans = deid.analyze(text)
    assert covered(text, cell, spans), [(text[s.start : s.end], s.recognizer) for s in spans]


@settings(max_examples=40, deadline=None)
@given(
    label=st.sampled_from(["Folder", "Docket", "Claim", "Case", "Register", "Trust", "EEG"]),
    word=st.sampled_from(["No.:", "No:", "No", "#:", "Number", "Ref", "ID"]),
    value=st.from_regex(r"[A-Z]{1,3}[-/]?[0-9]{3,6}(?:[-/][0-9]{2,5})?", fullmatch=True),
)
def test_an_id_after_a_number_label_is_found(
    deid: TextDeidentifier, label: str, word: str, value: str
) -> None:
    text = f"Front sheet: {label} {word} {value} recorded."
    spans = deid.analyze(text)
    assert covered(text, value, spans), [(text[s.start : s.end], s.recognizer) for s in spans]
