"""Note shapes read from the misses of blind_76-79 (ADR 0129): the patient's own name with a
middle initial and a suffix in capitals, a newborn's placeholder around the family name, a
side of the patient's town; a worker's initials after the step they did, initials in
brackets after a time or a reply, or with their time, after a tilde or a dash closing the
sentence, after a name and several credentials; a baby named in quotes; Spanish and Italian
forms of address. Every example string here is invented for the test (none occurs in any
annotated set)."""

from __future__ import annotations

import pytest

from clinflow.deid.text.engine import TextDeidentifier
from clinflow.deid.text.known import KnownIdentifiers

from .helpers import covered, overlapping


def _own(family: str, given: str, city: str = "Tacoma") -> KnownIdentifiers:
    known = KnownIdentifiers()
    known.add_from_patient(
        {"name": [{"family": family, "given": [given]}], "address": [{"city": city}]}
    )
    return known


OWN = [
    ("Old registration lists QUENNEVILLE, TOBIAS R SR - merge sent.", "QUENNEVILLE, TOBIAS R SR",
     _own("Quenneville", "Tobias")),
    ("Infant: Boy Vaiaoga, NICU bed 3.", "Boy Vaiaoga", _own("Vaiaoga", "Tavita")),
    ("Baby: Vaiaoga-Lui, Baby Girl aka \"Lani\"", "Vaiaoga-Lui, Baby Girl",
     _own("Vaiaoga-Lui", "Lani")),
    ("He asked for a clinic closer to North Tacoma.", "North Tacoma", _own("Oyelaran", "Femi")),
]

FOUND = [
    ("Tech work-up: QW/ZD", "QW/ZD"),
    ("Analyst TV / reviewed QZ", "QZ"),
    ("Retrieval 0830; witness LQ/WT", "LQ/WT"),
    ("All submitted in 1 cassette. (gross qz)", "qz"),
    ("Response 11/02 09:14 (WV): ok for 90 days.", "WV"),
    ("Margin negative. (QX, 10:42)", "QX"),
    ("Clinic note (ZW): discussed results by phone.", "ZW"),
    ("Girlfriend picked up the script. ~qv", "qv"),
    ("Booked with lactation 3/16 10:00. -zw", "zw"),
    ("techs: Odalys Venn MLS (OV), Pero Ilić MLS (PI)", "OV"),
    ("Hiroko Tanabe, MD, FSCMR (HT)", "HT"),
    ("Skin-to-skin in the first hour. Named \"Tobiah\".", "Tobiah"),
    ("Vista por la Dra. Quiñonez en clínica.", "Quiñonez"),
]

NOT_FOUND = [
    ("Red flags reviewed: FS < 70 after juice.", "FS"),
    ("Reviewed PTL precautions again.", "PTL"),
    ("Witness: one operator present.", "one"),
    ("DICTATED BUT NOT READ", "BUT"),
    ("Note dictated via Dragon; errors may exist.", "via"),
    ("0417-0024  (L.K.)   C5 - ok", "ok"),
    ("Per protocol reviewed GLP-1 side effects.", "GLP"),
    ("The boy is here with his father.", "boy"),
]


@pytest.mark.parametrize(("text", "phi", "known"), OWN)
def test_the_patients_own_name_and_town_are_found_whole(
    deid: TextDeidentifier, text: str, phi: str, known: KnownIdentifiers
) -> None:
    assert covered(text, phi, deid.analyze(text, known))


@pytest.mark.parametrize(("text", "phi"), FOUND)
def test_blind76_to_79_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    assert covered(text, phi, deid.analyze(text))


@pytest.mark.parametrize(("text", "safe"), NOT_FOUND)
def test_look_alikes_of_those_shapes_are_kept(
    deid: TextDeidentifier, text: str, safe: str
) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []


# read from the misses of blind_80-83 (ADR 0129)
OWN_LATER = [
    ("VA claim file #: C 41 227 908   Date of exam: 04/22/2078", "C 41 227 908",
     "41227908"),
    ("Family address 18 Read Blvd, Tacoma East; mom works nights.", "Tacoma East", None),
]
FOUND_LATER = [
    ("room,pt_name,age,mrn,cc,rn,md,dispo\nT3,\"QUARLES, ODELL\",91,10077813,fall,REYES J,"
     "VANTERPOOL,admit", "VANTERPOOL"),
    ("room,pt_name,age,mrn,cc,rn,md,dispo\nT3,\"QUARLES, ODELL\",91,10077813,fall,REYES J,"
     "VANTERPOOL,admit", "QUARLES, ODELL"),
    ("RN: Wen Li / PCT: Tobin Aufai", "Tobin"),
    ("Daughter handles the paperwork. - Eftychia (front)", "Eftychia"),
    ("If received in error call 307-555-0167.\n-- Q.Z.", "Q.Z."),
    ("B. 8 fragments, 2 cassettes. Gross by qx.", "qx"),
    ("Gross: zv/ histo rk", "zv"),
    ("Flushing, NY 11355.\nqkd / jf\naddl: pt asked", "qkd"),
    ("Sitter discontinued at 1500. zqp", "zqp"),
    ("Re: Mr. YOO JI-HO (유지호), DOB 2028.07.21", "유지호"),
]
NOT_FOUND_LATER = [
    ("3.5 cm firm L nodule, no gross ETE.", "ETE"),
    ("Plan discussed at length. ok", "ok"),
    ("room,cc,esi,dispo\n1,weakness,3,admit", "weakness"),
]


@pytest.mark.parametrize(("text", "phi", "record_id"), OWN_LATER)
def test_the_patients_own_identifiers_are_found_whole(
    deid: TextDeidentifier, text: str, phi: str, record_id: str | None
) -> None:
    known = _own("Ison", "Delbert")
    if record_id is not None:
        known.add("ID", record_id)
    assert covered(text, phi, deid.analyze(text, known))


@pytest.mark.parametrize(("text", "phi"), FOUND_LATER)
def test_blind80_to_83_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    assert covered(text, phi, deid.analyze(text))


@pytest.mark.parametrize(("text", "safe"), NOT_FOUND_LATER)
def test_look_alikes_of_the_later_shapes_are_kept(
    deid: TextDeidentifier, text: str, safe: str
) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []


# read from the misses of blind_84-87 (ADR 0129)
FOUND_LAST = [
    ("NP Marisol Quenneville, FNP-C    mquenneville\nAddendum: results back.", "mquenneville"),
    ("[pasted from secure chat]\nzorinda.q 08:02: anybody seen him\nwbrackett 08:05: try the "
     "barber", "zorinda.q"),
    ("[pasted from secure chat]\nzorinda.q 08:02: anybody seen him\nwbrackett 08:05: try the "
     "barber", "wbrackett"),
    ("Seizure diary via app (user tobiasq_sz): 2 focal aware seizures.", "tobiasq_sz"),
    ("Dr Quill Ferrand PhD FRCP\nTyped by qzv 14/06/77", "qzv"),
    ("H. Quarrie, DO  /qv", "qv"),
    ("RE: Lucius \"Big Lu\" Vantreese   DOB 6/6/2024", "Big Lu"),
]
NOT_FOUND_LAST = [
    ("Changed the order_set used for the visit.", "order_set"),
    ("room,pt_name,los_min,comment", "pt_name"),
    ("Photos IMG_4471 and DSC_0912 uploaded.", "IMG_4471"),
    ("Wallet card (typed by my granddaughter).", "my"),
]


@pytest.mark.parametrize(("text", "phi"), FOUND_LAST)
def test_blind84_to_87_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    assert covered(text, phi, deid.analyze(text))


@pytest.mark.parametrize(("text", "safe"), NOT_FOUND_LAST)
def test_look_alikes_of_the_last_shapes_are_kept(
    deid: TextDeidentifier, text: str, safe: str
) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []


# read from the misses of blind_88-91 (ADR 0129)
FOUND_FINAL = [
    ("Born at 37 wk; grandma Wilhelmina Yellow Hawk helps with feeds.", "Yellow Hawk"),
    ("EMS (medic Tobiah Red Bow) found BG 74.", "Red Bow"),
    ("Scribe Odessa Quarterhill (oquarterhill).", "oquarterhill"),
    ("14:08:02 system: RPh_QVantreese joined.\n14:08:40 RPh_QVantreese: Hello.",
     "RPh_QVantreese"),
]
NOT_FOUND_FINAL = [
    ("John Smith Good Man said so.", "Good"),
    ("Dr. Lee started high flow O2.", "flow"),
]


@pytest.mark.parametrize(("text", "phi"), FOUND_FINAL)
def test_blind88_to_91_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    assert covered(text, phi, deid.analyze(text))


@pytest.mark.parametrize(("text", "safe"), NOT_FOUND_FINAL)
def test_look_alikes_of_the_final_shapes_are_kept(
    deid: TextDeidentifier, text: str, safe: str
) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []
