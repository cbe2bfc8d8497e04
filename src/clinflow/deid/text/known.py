"""A patient's own identifiers, gathered from the structured record, for the text recognizer.

Names (the patient's, relatives', clinicians'), MRN, SSN, phone numbers, e-mail, address
parts, account and plan numbers, institution names. ``find()`` locates them in text ignoring
case and punctuation (``FAMILY, Given``, digits with other separators); Synthea's numbered
names ("Antonia30") are also looked for without the digits. No per-patient regex is
compiled: values and text are reduced to letters and digits and searched with ``str.find``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Entity labels shared with the pattern recognizers and the evaluation.
PERSON = "PERSON"
MRN = "MRN"
SSN = "US_SSN"
PHONE = "PHONE_NUMBER"
EMAIL = "EMAIL_ADDRESS"
LOCATION = "LOCATION"
ID = "ID"
HOSPITAL = "HOSPITAL"
DATE = "DATE_TIME"

_IDENTIFIER_TYPES = {
    "MR": MRN,
    "MRN": MRN,
    "SS": SSN,
    "SB": SSN,
    "AN": ID,
    "MB": ID,
    "SN": ID,
    "DL": ID,
    "PPN": ID,
    "NPI": ID,
    "PRN": ID,
}
_NAME_DIGITS = re.compile(r"\d+$")
# Resources that describe a person or place rather than a patient's clinical record: their
# names are known identifiers for every patient whose bundle holds them.
PERSON_RESOURCES = frozenset(
    {"Practitioner", "PractitionerRole", "RelatedPerson", "Person", "Organization", "Location"}
)


@dataclass
class KnownIdentifiers:
    """Identifier strings by entity type; add from FHIR resources or directly."""

    values: dict[str, set[str]] = field(default_factory=dict)
    _compiled: list[tuple[str, str]] | None = field(default=None, repr=False)

    def add(self, entity: str, value: str | None) -> None:
        if not value or not isinstance(value, str):
            return
        value = value.strip()
        if len(value) < 2:
            return
        self.values.setdefault(entity, set()).add(value)
        self._compiled = None

    def person_names(self) -> set[str]:
        """Every known person name string (whole names and their parts)."""
        return set(self.values.get(PERSON, ()))

    def add_name(
        self, given: list[str] | tuple[str, ...], family: str | None, prefix: str = ""
    ) -> None:
        parts = [g for g in given if isinstance(g, str) and g]
        names = [*parts, family] if family else parts
        # hyphenated and multi-word parts are also written alone ("Velazquez-Ortiz")
        names += [
            piece
            for name in list(names)
            if isinstance(name, str)
            for piece in re.split(r"[\s-]+", name)
            if piece != name and len(piece) >= 3
        ]
        for name in names:
            if isinstance(name, str) and len(name) >= 2:
                self.add(PERSON, name)
                bare = _NAME_DIGITS.sub("", name)
                if bare != name and len(bare) >= 2:
                    self.add(PERSON, bare)
        if family and parts:
            for fam in {family, _NAME_DIGITS.sub("", family)}:
                for first in {parts[0], _NAME_DIGITS.sub("", parts[0])}:
                    self.add(PERSON, f"{first} {fam}")
                    self.add(PERSON, f"{fam}, {first}")
                    self.add(PERSON, f"{first[0]}. {fam}")

    def add_human_name(self, name: dict[str, Any]) -> None:
        given = name.get("given") or []
        family = name.get("family")
        self.add_name(
            [g for g in given if isinstance(g, str)], family if isinstance(family, str) else None
        )
        if isinstance(name.get("text"), str):
            self.add(PERSON, name["text"])

    def add_telecom(self, telecom: list[Any]) -> None:
        for point in telecom or ():
            if isinstance(point, dict) and isinstance(point.get("value"), str):
                system = point.get("system")
                entity = (
                    EMAIL
                    if system == "email"
                    else PHONE
                    if system in ("phone", "fax", "sms", "pager")
                    else ID
                )
                self.add(entity, point["value"])
                if entity == PHONE:
                    digits = re.sub(r"\D", "", point["value"])
                    if len(digits) == 11 and digits.startswith("1"):
                        self.add(PHONE, digits[1:])  # "+1 508 ..." written "508-..."
                    if len(digits) >= 10:
                        self.add(PHONE, digits[-7:-4] + "-" + digits[-4:])  # local form

    def add_address(self, address: dict[str, Any]) -> None:
        for line in address.get("line") or ():
            self.add(LOCATION, line)
        self.add(LOCATION, address.get("city"))
        self.add(LOCATION, address.get("postalCode"))
        self.add(LOCATION, address.get("district"))

    def add_from_patient(self, patient: dict[str, Any]) -> None:
        for name in patient.get("name") or ():
            if isinstance(name, dict):
                self.add_human_name(name)
        self.add_telecom(patient.get("telecom") or [])
        for address in patient.get("address") or ():
            if isinstance(address, dict):
                self.add_address(address)
        self.add(DATE, patient.get("birthDate"))
        for identifier in patient.get("identifier") or ():
            if not isinstance(identifier, dict):
                continue
            codes = [
                c.get("code")
                for c in (identifier.get("type") or {}).get("coding") or ()
                if isinstance(c, dict)
            ]
            entity = next((_IDENTIFIER_TYPES[c] for c in codes if c in _IDENTIFIER_TYPES), ID)
            system = str(identifier.get("system", ""))
            if "ssn" in system or "us-ssn" in system:
                entity = SSN
            self.add(entity, identifier.get("value"))
            value = identifier.get("value")
            if isinstance(value, str):
                bare = re.sub(r"^[A-Za-z]+[-:]?|^0+", "", value)  # "MRN-00123" written "123"
                if bare != value and len(bare) >= 5:
                    self.add(entity, bare)
        for contact in patient.get("contact") or ():
            if not isinstance(contact, dict):
                continue
            if isinstance(contact.get("name"), dict):
                self.add_human_name(contact["name"])
            self.add_telecom(contact.get("telecom") or [])
            if isinstance(contact.get("address"), dict):
                self.add_address(contact["address"])
        for practitioner in patient.get("generalPractitioner") or ():
            if isinstance(practitioner, dict):
                self._add_display(practitioner.get("display"))
        org = patient.get("managingOrganization")
        if isinstance(org, dict) and isinstance(org.get("display"), str):
            self.add(HOSPITAL, org["display"])

    def _add_display(self, display: Any) -> None:
        """A reference display naming a person: split like a name (``Dr. Given Family``)."""
        if not isinstance(display, str):
            return
        words = [w for w in re.split(r"\s+", display.strip()) if w]
        if words and words[0].rstrip(".").lower() in ("dr", "mr", "mrs", "ms", "mx", "prof"):
            words = words[1:]
        if len(words) >= 2:
            self.add_name(words[:-1], words[-1])
        elif words:
            self.add(PERSON, words[0])

    def add_from_resource(self, resource: dict[str, Any]) -> None:
        """Names of clinicians and places in a patient's other resources (displays)."""
        for key in (
            "participant",
            "performer",
            "author",
            "generalPractitioner",
            "recorder",
            "asserter",
            "requester",
            "attester",
            "interpreter",
            "referrer",
            "practitioner",
            "authenticator",
            "resultsInterpreter",
            "sender",
            "recipient",
            "informationSource",
            "enterer",
            "provider",
            "careTeam",
            "legalAuthenticator",
        ):
            items = resource.get(key)
            for item in items if isinstance(items, list) else [items]:
                if not isinstance(item, dict):
                    continue
                ref = (
                    item.get("individual")
                    or item.get("actor")
                    or item.get("party")
                    or item.get("member")
                    or item.get("provider")
                    or item
                )
                if isinstance(ref, dict):
                    if "Organization" in str(ref.get("reference", "")):
                        self.add(HOSPITAL, ref.get("display"))
                    else:
                        self._add_display(ref.get("display"))
        for key in ("serviceProvider", "custodian", "organization", "location"):
            ref = resource.get(key)
            if isinstance(ref, dict):
                self.add(HOSPITAL, ref.get("display"))
            elif isinstance(ref, list):
                for item in ref:
                    inner = item.get("location") if isinstance(item, dict) else None
                    if isinstance(inner, dict):
                        self.add(HOSPITAL, inner.get("display"))
        if resource.get("resourceType") in PERSON_RESOURCES:
            self.add_person(resource)

    def add_person(self, resource: dict[str, Any]) -> None:
        """A Practitioner, RelatedPerson, Person, PractitionerRole, Organization or Location
        of the bundle: names, telecom, address, identifiers (NPI, licence numbers)."""
        kind = resource.get("resourceType")
        if kind in ("Organization", "Location"):
            self.add(HOSPITAL, resource.get("name"))
            for alias in resource.get("alias") or ():
                self.add(HOSPITAL, alias if isinstance(alias, str) else None)
        names = resource.get("name")
        for name in names if isinstance(names, list) else ():
            if isinstance(name, dict):
                self.add_human_name(name)
        self.add_telecom(resource.get("telecom") or [])
        addresses = resource.get("address")
        for address in addresses if isinstance(addresses, list) else [addresses]:
            if isinstance(address, dict):
                self.add_address(address)
        for identifier in resource.get("identifier") or ():
            if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
                if len(identifier["value"]) >= 4:
                    self.add(ID, identifier["value"])
        for key in ("practitioner", "organization"):
            ref = resource.get(key)
            if isinstance(ref, dict):
                if key == "organization":
                    self.add(HOSPITAL, ref.get("display"))
                else:
                    self._add_display(ref.get("display"))

    def merge(self, other: KnownIdentifiers) -> None:
        for entity, values in other.values.items():
            self.values.setdefault(entity, set()).update(values)
        self._compiled = None

    def _needles(self) -> list[tuple[str, str]]:
        """(normalized value, entity), longest first; normalized = lower-cased letters/digits."""
        if self._compiled is None:
            needles = {}
            for entity, values in self.values.items():
                for value in values:
                    key = normalize(value)[0]
                    if len(key) >= 2 and (key not in needles or entity != PERSON):
                        needles[key] = entity
            self._compiled = sorted(needles.items(), key=lambda kv: -len(kv[0]))
        return self._compiled

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Every occurrence of a known identifier, punctuation and case ignored.

        Text and values are reduced to their letters and digits (so "(312) 555-0196",
        "312.555.0196" and "3125550196" are one needle); a hit counts only where the
        original text has no letter or digit right before or after it -- a name (three
        letters or more) may touch digits: a handle built on it ("okafor99", "2okafor").
        """
        needles = self._needles()
        if not needles:
            return []
        flat, positions = normalize(text)
        found: list[tuple[int, int, str]] = []
        length = len(text)
        for needle, entity in needles:
            touches: Any = str.isalpha if entity == PERSON and len(needle) >= 3 else str.isalnum
            start = flat.find(needle)
            while start >= 0:
                first = positions[start]
                last = positions[start + len(needle) - 1] + 1
                if (first == 0 or not touches(text[first - 1])) and (
                    last >= length or not touches(text[last])
                ):
                    found.append((first, last, entity))
                start = flat.find(needle, start + 1)
        return found


def known_for_note(
    patient: dict[str, Any] | None, people: Iterable[dict[str, Any]]
) -> KnownIdentifiers | None:
    """Known identifiers of a note: its patient's record, then the people given with it;
    ``None`` when there is neither (runner and evaluation build them alike)."""
    people = list(people)
    if patient is None and not people:
        return None
    known = KnownIdentifiers()
    if patient is not None:
        known.add_from_patient(patient)
    for person in people:
        known.add_person(person)
    return known


def normalize(text: str) -> tuple[str, list[int]]:
    """Lower-cased letters and digits of ``text`` (accents dropped: "Renée" = "Renee") and
    each one's index in ``text``."""
    positions = [i for i, c in enumerate(text) if c.isalnum()]
    chars = []
    for i in positions:
        low = text[i].lower()
        if len(low) != 1:
            low = text[i]
        elif not low.isascii():
            base = unicodedata.normalize("NFKD", low)[0]
            low = base if base.isalnum() else low
        chars.append(low)
    return "".join(chars), positions
