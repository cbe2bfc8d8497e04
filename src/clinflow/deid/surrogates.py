"""Consistent surrogate names: one keyed generator for FHIR HumanName parts and free text.

A surrogate is chosen per (scope, part, original) by the deployment's keyed pseudonymizer, so
the same person in the same scope (usually the patient's pseudonym key) gets the same fake
name in every source: ``name.given = "Antonia30"`` in a FHIR Patient and "Antonia Hagenes" in
a note share the fake given name, and "HAGENES, Antonia" keeps its shape. Trailing digits
(Synthea-style "Antonia30") and letter case do not change the choice. The lists are invented
names, not drawn from any real person.
"""

from __future__ import annotations

import re
from typing import Literal

from clinflow.deid.pseudonym import Pseudonymizer

SURROGATE_GIVEN = (
    "Alex Jordan Casey Riley Morgan Taylor Jamie Robin Avery Quinn Rowan Sage Emery Reese "
    "Harper Finley Dakota Skyler Parker Hayden Elliot Marlowe Linden Arden Blair Cameron "
    "Devon Ellis Frankie Gray Hollis Indigo Jesse Kendall Lane Milan Noel Oakley Peyton "
    "Remy Shiloh Tatum Umber Val Wren Yael Zion Briar Cove Dale Ember Fern Glen Haven Ivory"
).split()
SURROGATE_FAMILY = (
    "Ashford Bellamy Calloway Dunmore Everhart Fairbanks Galloway Hartwell Ingram Jessup "
    "Kingsley Lockhart Merriweather Northcott Oakhurst Pembrook Quill Radcliffe Stanhope "
    "Thornbury Underhill Vance Whitlock Yardley Abernathy Blackwood Cresswell Darrow "
    "Ellington Fenwick Greystone Holloway Ives Juniper Kestrel Larkspur Marchbank Nettleton "
    "Orwell Prescott Quimby Rutherford Sallow Thistlewood Upton Vexley Winthrop Yarrow "
    "Zellner Ambrose Birchall Coldwell"
).split()

NamePart = Literal["given", "family", "name"]
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "nurse", "rn", "np"})
_TRAILING_DIGITS = re.compile(r"\d+$")


def surrogate_part(
    pseudonymizer: Pseudonymizer, scope: str, part: Literal["given", "family"], original: str
) -> str:
    """The fake given or family name for one original word in ``scope``."""
    key = _TRAILING_DIGITS.sub("", original.strip()).casefold()
    digest = pseudonymizer.digest("surrogate", f"{scope}|{part}|{key}")
    names = SURROGATE_GIVEN if part == "given" else SURROGATE_FAMILY
    choice = names[digest[0] % len(names)]
    if choice.casefold() == key:  # never "replace" a name by itself
        choice = names[(digest[0] + 1) % len(names)]
    return choice


def surrogate_name(
    pseudonymizer: Pseudonymizer, scope: str, original: str, part: NamePart = "name"
) -> str:
    """A consistent fake for ``original``: one name part, or a whole name in its own shape.

    Whole names keep a leading title ("Dr. X Y"), the "FAMILY, Given" order and an
    upper-case family name; the surrogate is keyed by the family-name-like word (before a
    comma, else the last word), so "Antonia Hagenes", "HAGENES, Antonia" and "Hagenes" share
    one fake family name.
    """
    if part != "name":
        return surrogate_part(pseudonymizer, scope, part, original)
    cleaned = original.strip()
    title = ""
    head, _, rest_words = cleaned.partition(" ")
    if rest_words and head.rstrip(".").lower() in _TITLES:
        title, cleaned = head + " ", rest_words.strip()
    if "," in cleaned:
        family, _, rest = cleaned.partition(",")
        given = rest.strip().split()[0] if rest.strip() else ""
    else:
        words = cleaned.split() or [cleaned]
        family, given = words[-1], (words[0] if len(words) > 1 else "")
    fake_family = surrogate_part(pseudonymizer, scope, "family", family)
    if not given:
        return title + fake_family
    fake_given = surrogate_part(pseudonymizer, scope, "given", given)
    if "," in cleaned:
        return f"{fake_family.upper() if family.isupper() else fake_family}, {fake_given}"
    return f"{title}{fake_given} {fake_family}"
