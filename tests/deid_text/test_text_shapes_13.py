"""Note shapes read from the misses of blind_64-67 (ADR 0129): initials closing a paragraph or
a log line, a procedure's operators and a role on a stated shift, a role after a service's
qualifier, a practice's trading name, a care site by its system's initials, a town that shares
a country's name, and dates and years after a number that is not a fraction's whole. Every
example string here is invented for the test (none occurs in any annotated set)."""

from __future__ import annotations

import pytest

from clinflow.deid.text.engine import TextDeidentifier

from .helpers import covered, overlapping

FOUND = [
    # initials closing a paragraph, a line or a log entry
    ("Night team paged, Dr. Quillfeather accepted. TZ", "TZ"),
    ("Left message on the pharmacy line 412-555-0144. RW\n\nPlan: recheck.", "RW"),
    ("Gait belt used, tolerated well.\nMQ\n\nAddendum 2/2: called family.", "MQ"),
    ("Addendum 4/18 0915 (HV): agree with plan.", "HV"),
    ("-- PO/TJ", "PO/TJ"),
    ("-- PO/TJ", "TJ"),
    ("Quillfeather Ostrander MD / rb", "rb"),
    ("KVQ / mt\n\nReport to PCP: see below.", "KVQ"),
    ("Derm phone note 3/4/90 2:41p  jx", "jx"),
    ("05/11/90 mireille t: faxed referral to clinic.", "mireille t"),
    ("05/12/90 WZ: left voicemail for daughter.", "WZ"),
    # a procedure's staff, a role on a shift, a role after a qualifier
    ("Operators: Vantreese-Mbeki / Holloran", "Vantreese-Mbeki"),
    ("Attending overnight: Quarrington (pager 4471).", "Quarrington"),
    ("Histotech: Odalys", "Odalys"),
    ("Okoroafor (CT surg fellow) called back at 0300.", "Okoroafor"),
    ("team: Pellerin RN; Szabados RT; Dr. Voskuijlen", "Szabados"),
    # a practice's trading name, a site by its system's initials
    ("Referred to Granite Hollow Specialty Group for a second opinion.", "Granite Hollow"),
    ("Thread routed - Granite Hollow Specialty Group ENT", "Granite Hollow"),
    ("Cath 3/3/2081 at Millbrook ARH: 80% LAD.", "Millbrook ARH"),
    ("Quarry Gap SBHC @ Fenwick Middle School", "Quarry Gap SBHC"),
    ("HF Clinic -- Tidewater HVI satellite", "Tidewater HVI"),
    # a town named like a country, with its state
    ("Hearing aids from Clinch Valley Audiology in Mexico, MO, last fall.", "Mexico"),
    # month/day and years after a number that is not a fraction's whole
    ("Discharged from Bellmont 6/14 on apixaban.", "6/14"),
    ("Apixaban 10 mg BID (day 1 6/18, then 5 mg).", "6/18"),
    ("Biopsy #2 7/1 (Tessaro): grade 0R.", "7/1"),
    ("POD2 8/19 at the satellite office.", "8/19"),
    ("Next B12 injection B12 10/22.", "10/22"),
    ("Ferritin 12.4 (prev 9.1 2078), recheck.", "2078"),
    ("Admitted Briarwood 2076 x4 days for pneumonia.", "2076"),
]

NOT_FOUND = [
    # capitals that close a line without being anyone's initials
    ("Follow up with cardiology. CHF", "CHF"),
    ("1. DM2\n2. HTN\n3. HLD\n4. OSA", "HLD"),
    ("Pt is a 67 yo with SOB.\nROS\n\nNeg except as above.", "ROS"),
    ("11/02/2088 0912  RE: follow-up visit", "RE"),
    # a time's word, an allele, an operator that is a company
    ("Potassium reported 11/06/2081 13:40 was\na lab error.", "was"),
    ("HLA-B*15:02 neg", "neg"),
    ("Knee RT side swelling, worse with stairs.", "Knee"),
    ("Scanner: Siemens Horizon RT, 3 mm slices", "Horizon"),
    # a group of people is no practice by the trading-name rule
    ("Pt joined the Cardiac Rehab Group.", "Group"),
    # a country alone, fractions after a glued number, a time after a date
    ("Born in Peru, moved here in 2060.", "Peru"),
    ("D50 1/2 amp given, D5 1/2NS running.", "1/2"),
    ("Pessary #3 3/4 in place.", "3/4"),
    ("11/07/87 1900 handoff to nights.", "1900"),
]


@pytest.mark.parametrize(("text", "phi"), FOUND)
def test_blind64_to_67_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    assert covered(text, phi, deid.analyze(text))


@pytest.mark.parametrize(("text", "safe"), NOT_FOUND)
def test_look_alikes_of_those_shapes_are_kept(
    deid: TextDeidentifier, text: str, safe: str
) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []
