"""Note shapes read from the misses of blind_68-75 (ADR 0129): a staff member named after
their role in running text, initials given after a name and signing rows elsewhere, a
legend of initials, a time-stamped log's initials, the owner of a list item and the one who
agreed or received, lower-case signatures; day ordinals with their "the", after a weekday or
ending a range, a month alone after a preposition, holidays, short year ranges and spelled
years. Every example string here is invented for the test (none occurs in any annotated
set)."""

from __future__ import annotations

import pytest

from clinflow.deid.text.engine import TextDeidentifier

from .helpers import covered, overlapping

FOUND = [
    # a staff member after their role, inside a line
    ("Plan reviewed with NP Marisol Quenneville at chairside.", "Marisol"),
    ("I have asked our MA Tibor to book the visit.", "Tibor"),
    ("Seen with COTA Lorcan today; MSW Fenwick via video.", "Fenwick"),
    ("The ward clerk Dorrit Valcourt will fax it.", "Dorrit Valcourt"),
    ("Our physiotherapist Eluned will visit on Friday.", "Eluned"),
    # initials after a name (a credential between), then signing a table's rows
    ("Vaccinators: Ottilie Brask RN (OB), Kasimir Dunne LPN (KD)\n| Flu | KD |", "KD"),
    ("Lorna Quist, RN (LQ)  03/02/2081", "LQ"),
    # a legend of initials and the grid it explains
    (
        "Metoprolol | 0800 | WQ WQ TZB\n\nLEGEND\nWQ   Winifred Quarles, LPN\n"
        "TZB  Tamsin Z. Broadhurst, CMA",
        "TZB",
    ),
    # a time-stamped log's initials, owners and receivers
    ("1705 QT: pt brought in by EMS.\n1720 QT: VS stable.", "QT"),
    ("0100 3/19 WX: CIWA 4, sleeping.", "WX"),
    ("- imaging pending, window tight. (RZ)", "RZ"),
    ("Seen & agreed TQ", "TQ"),
    ("Handover given at 19:05 in person. LW / received PY", "PY"),
    ("Doc: plan review due 8/15.\n- oriel k.", "oriel k."),
    ("Fax sent to hand clinic, ph 907-555-0164.\n/wq", "wq"),
    ("next visit 8/9.\n-- zv, CHA II", "zv"),
    # dates
    ("He caught the line on the 23rd. Wife updated.", "the 23rd"),
    ("I will run short by thursday the 19th, please refill.", "thursday the 19th"),
    ("Pharmacy was closed 24th-26th, reopened Monday.", "26th"),
    ("A1c 6.8 (June). Repeat lipids due October.", "June"),
    ("Repeat lipids due October.", "October"),
    ("Clinic open for tele only (MLK Day).", "MLK Day"),
    ("Cards from class for Valentine's on the table.", "Valentine's"),
    ("Next infusion Easter Monday?? moved.", "Easter Monday"),
    ("Seen at the eating disorder service in 2071-72.", "72"),
    ("date of birth May ninth two thousand forty-four", "two thousand forty-four"),
]

NOT_FOUND = [
    ("Follow up with cardiology. CHF", "CHF"),
    ("- PT/OT daily; likely SNF.", "PT"),
    ("MOLST on file - DNR/DNI, ok for hospitalization.", "DNR"),
    ("CONSULT - ART / TB DRUG INTERACTION", "ART"),
    ("2000 EFM: FHR 145, moderate variability", "EFM"),
    ("2) Bursitis L - ice, NSAID prn", "ice"),
    ("Hollis Varga, MSW, LCSW   ED Social Work", "LCSW"),
    ("Orla Brennock, MA, CCC-SLP", "CCC-SLP"),
    ("From: Noor Haddad-Lind, RN   Sent: 11/18/2087 10:03 PM", "Sent"),
    ("ORDERING: Ellsworth, Dana MD (ED)", "ED"),
    ("Placed by Harper Tveit, RN (VAT); lot pending", "VAT"),
    ("MSW PSYCHOSOCIAL ASSESSMENT - HOME HEALTH", "PSYCHOSOCIAL"),
    ("Valley Homeplace CHW Log - Client Encounter", "Log"),
    ("Insurance: Medicare + Volunteer State supplement", "State"),
    ("You may go home. March forward with the plan.", "may"),
    ("Shift 1900-2300 covered by float pool.", "2300"),
]


@pytest.mark.parametrize(("text", "phi"), FOUND)
def test_blind68_to_75_shapes_are_found(deid: TextDeidentifier, text: str, phi: str) -> None:
    assert covered(text, phi, deid.analyze(text))


@pytest.mark.parametrize(("text", "safe"), NOT_FOUND)
def test_look_alikes_of_those_shapes_are_kept(
    deid: TextDeidentifier, text: str, safe: str
) -> None:
    assert overlapping(text, safe, deid.analyze(text)) == []
