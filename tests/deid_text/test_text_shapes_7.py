"""Note shapes measured on blind_9 (a development set since, ADR 0121 round 3), written as
rules that hold beyond the spellings seen: slash-separated reference codes, National
Insurance numbers in pairs, an ordinal day before a month in any case, an age over 89 in
brackets (after a date of birth or a relation) or after "lived to", a registration number
after its register's acronym, a log-in after a sign-off's name and a slash, an Irish
Eircode, a town and postcode typed in lower case, a flat, room or floor beside an address,
collar, member and permit numbers, trunk-prefixed phone numbers, aircraft registrations and
number-plates after their vehicle, a care site's
acronym before one of its services. Every example string here is invented
for the test (none occurs in any annotated set)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.text.engine import TextDeidentifier

from .helpers import covered, overlapping

FOUND = [
    # reference codes: capitals, then parts joined by slashes, one of three digits or more
    ("Our ref: TRW/KX/2093/0718 - please quote.", "TRW/KX/2093/0718"),
    ("Audit no ZPQ-552/09 raised by the ward.", "ZPQ-552/09"),
    ("Insurer claim QBE/MOT/44172 pending.", "QBE/MOT/44172"),
    # a National Insurance number in pairs
    ("Benefits form: NI number KT 20 71 93 B attached.", "KT 20 71 93 B"),
    # an ordinal day before a month, typed in lower case or capitals
    ("nan staying until 19th april then flying home.", "19th april"),
    ("seen in clinic 2nd of SEPT, bloods taken.", "2nd of SEPT"),
    # an age over 89 in brackets or after "lived to"
    ("Pt: QUILLON, Marta  DOB 03/09/1996 (97)  lives alone.", "97"),
    ("Next of kin: Mr Aldo Vence (husband, 93), hard of hearing.", "93"),
    ("His father lived to 104 and was never ill.", "104"),
    # a registration number after its register's acronym
    ("Signed, Dr Ilse Marovic, FRACP   NZMC 40412", "40412"),
    ("B. Kereama RM, Midwifery Council APC 27-31190", "27-31190"),
    # a log-in after a sign-off's name and a slash
    ("Reviewed.\nT. Oyelaran / toyelaran.icu\n", "toyelaran.icu"),
    ("Plan agreed.\nM. Fairbrook-Lyle / mfl_onc", "mfl_onc"),
    # an Irish Eircode
    ("Rosslare Road, Co. Wexford   Y35 H2K7\nTel 053 555 0101", "Y35 H2K7"),
    # a town and postcode in lower case after an address's comma
    ("addr 9 quarry lane, derry bt48 7pe\nseen at home", "derry bt48 7pe"),
    # a flat, room or floor before an address, and a flat after a lower-case street
    ("Home: Unit 4, Harbour Walk, Wexley\n", "Unit 4, Harbour Walk"),
    ("Second Floor, Elm Court, 9 Percy Place, Dunmore\n", "Second Floor, Elm Court"),
    ("lives 14 ashby rd, flat 3, with partner", "14 ashby rd, flat 3"),
    ("Send to 17-C Canal Road, Harpley", "17-C Canal Road"),
    ("NOK at 41 Elmfield Mount, Tadley", "41 Elmfield Mount"),
    # a collar number, a member number, a permit with its check letter
    ("Attending: PC Rowe (collar 2218) present.", "2218"),
    ("Scheme member QA 7702 1184 05 verified.", "QA 7702 1184 05"),
    ("Work permit F 4410 2293 M seen.", "F 4410 2293 M"),
    # a trunk-prefixed phone number in groups
    ("Ward clerk: 021 555 0107 (weekdays)", "021 555 0107"),
    # an aircraft's registration, a number-plate in lower case after the vehicle
    ("Lifted by helicopter AW139 G-KRNX at 14:10.", "G-KRNX"),
    ("mum drives, her ute kpl 418 parked outside.", "kpl 418"),
    # a care site's acronym before one of its services, or after the emergency department
    ("Discussed with QMH neurosurgery, no bed.", "QMH"),
    ("If drowsy, straight to ED (RKH).", "RKH"),
]


@pytest.mark.parametrize(("text", "phi"), FOUND)
def test_blind9_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    spans = deid.analyze(text)
    assert covered(text, phi, spans), [(text[s.start : s.end], s.recognizer) for s in spans]


KEPT = [
    # score pairs and coded scales with slashes carry no three-digit part
    ("Screen: PHQ-9/GAD-7 both low today.", "PHQ-9/GAD-7"),
    ("Tox: HIV/HCV/HBV negative.", "HIV/HCV/HBV"),
    ("Coded under ICD-10/DSM-5 criteria.", "ICD-10/DSM-5"),
    # an age under 90 in brackets after a date of birth is not an age over 89
    ("DOB 03/09/1961 (64)  lives with son.", "64"),
    # an ordinal that is not a day before a month
    ("3rd degree tear repaired, 2nd stage 40 min.", "3rd degree"),
    # a dose or a cycle is not a postcode
    ("plan, cycle two q4 2hr checks", "q4 2hr"),
    # a slash between clinical words is not a log-in
    ("Diet / fluids as tolerated.", "fluids"),
    # a staging string is not an Eircode
    ("Staging: T2 N0M0 on CT.", "T2 N0M0"),
    # a room number that leads to no street, a car seat, a dose in groups
    ("Moved to Room 4, Dr Fenn aware.", "Room 4"),
    ("car seat fitted, van 2 mins away", "seat"),
    ("Tacrolimus level 0.8 then 5.5.", "0.8"),
    # a team's own acronym before a service is no care site
    ("Listed for the MDT oncology meeting.", "MDT"),
]


@pytest.mark.parametrize(("text", "safe"), KEPT)
def test_blind9_look_alikes_are_kept(deid: TextDeidentifier, text: str, safe: str) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []


@settings(max_examples=25, deadline=None)
@given(
    head=st.text(alphabet="ABCDEFGHKLMNPRSTWXZ", min_size=2, max_size=5),
    middle=st.text(alphabet="ABCDEFGHKLMNPRSTWXZ", min_size=1, max_size=4),
    year=st.integers(min_value=1000, max_value=9999),
    serial=st.integers(min_value=0, max_value=99999),
)
def test_any_slashed_reference_code_is_found(
    deid: TextDeidentifier, head: str, middle: str, year: int, serial: int
) -> None:
    code = f"{head}/{middle}/{year}/{serial:04d}"
    text = f"Correspondence ref: {code} (quote on reply)."
    assert covered(text, code, deid.analyze(text))


@settings(max_examples=25, deadline=None)
@given(
    day=st.integers(min_value=1, max_value=28),
    month=st.sampled_from(["january", "MARCH", "jun", "Oct", "december", "aug"]),
)
def test_any_ordinal_day_before_a_month_is_found(
    deid: TextDeidentifier, day: int, month: str
) -> None:
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(day, "th")
    date = f"{day}{suffix} {month}"
    text = f"granny visiting from {date} for a fortnight."
    assert covered(text, date, deid.analyze(text))
