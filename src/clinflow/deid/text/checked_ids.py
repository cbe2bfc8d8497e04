"""Identifiers recognised by their own structure: a check digit or a standard's layout.

A shape with a checksum holds in any note, whatever its label, so these run without context
(or with a light one where the shape alone is common):

- DEA registration numbers: two letters, seven digits, the last a check digit
  (``(d1 + d3 + d5) + 2 * (d2 + d4 + d6)`` mod 10).
- NPI: ten digits passing Luhn over the ``80840`` prefix (the NPI standard), after an "NPI"
  label (a bare ten-digit number is taken as a phone number by the phone rules anyway).
- VIN: 17 characters without I, O or Q whose ninth is the North American check digit, or any
  17-character VIN shape after a "VIN" label.
- ISBT 128 donation identification numbers of blood units: a letter and four digits
  (facility), two (year), six (serial), optionally a flag, with or without spaces.
- GS1 UDI element strings: ``(01)`` and a GTIN-14 with its mod-10 check digit, then the
  usual application identifiers (``(11)``, ``(17)``, ``(10)`` lot, ``(21)`` serial).

Each finder returns ``(start, end)`` spans; the engine labels them ``ID``.
"""

from __future__ import annotations

import regex  # type: ignore[import-untyped]

_DEA = regex.compile(r"(?<![\w-])(?P<dea>[A-Z][A-Z9]\d{7})(?![\w-])")
_NPI = regex.compile(
    r"\b(?i:NPI)(?:[ \t]*(?:no\.?|number|#|id))?[ \t]*[:#]?[ \t]*(?P<npi>\d{10})(?!\d)"
)
_VIN = regex.compile(r"(?<![\w-])(?P<vin>[A-HJ-NPR-Z0-9]{17})(?![\w-])")
_VIN_LABEL = regex.compile(r"\bVIN\b[ \t]*(?:no\.?|number|#)?[ \t]*[:#]?[ \t]*\Z", regex.I)
_ISBT = regex.compile(
    r"(?<![\w-])(?P<din>[A-Z]\d{4}[ ]?\d{2}[ ]?\d{6})(?:[ ]?(?P<flag>[A-Z0-9])(?![\w-]))?(?![\w])"
)
_ISBT_CUE = regex.compile(
    r"\b(?:unit|units|blood|donation|donor|DIN|ISBT|bag|product|PRBCs?|RBCs?|FFP|"
    r"platelets?|plt|cryo|component|segment)\b",
    regex.I,
)
_GS1 = regex.compile(
    r"\(01\)[ ]?(?P<gtin>\d{14})(?:[ ]?\((?:1[0-7]|21|240|30)\)[ ]?[!-'*-~]{1,20}?"
    r"(?=[ ]?\(\d{2,3}\)|[\s,;]|$))*",
)

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def dea_valid(number: str) -> bool:
    """A DEA registration number: two letters (the second may be 9 for some registrants),
    seven digits, the seventh the check digit."""
    if len(number) != 9 or not number[:1].isalpha() or not number[2:].isdigit():
        return False
    d = [int(c) for c in number[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def luhn_valid(digits: str) -> bool:
    """The Luhn check (mod 10) over a string of digits."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def npi_valid(number: str) -> bool:
    """An NPI: ten digits whose Luhn check runs over the card-issuer prefix 80840."""
    return len(number) == 10 and number.isdigit() and luhn_valid("80840" + number)


def vin_check_valid(vin: str) -> bool:
    """The ninth character of a North American VIN is its check digit (X for 10)."""
    if len(vin) != 17 or any(c not in _VIN_VALUES for c in vin.upper()):
        return False
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin.upper(), _VIN_WEIGHTS, strict=True))
    expected = total % 11
    return vin[8].upper() == ("X" if expected == 10 else str(expected))


def gtin_valid(gtin: str) -> bool:
    """The GS1 mod-10 check digit of a GTIN (weights 3 and 1 from the right, check excluded)."""
    if not gtin.isdigit() or len(gtin) not in (8, 12, 13, 14):
        return False
    body, check = gtin[:-1], int(gtin[-1])
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def checked_identifiers(text: str) -> list[tuple[int, int]]:
    """Spans of DEA numbers, labelled NPIs, VINs, ISBT 128 unit numbers and GS1 UDIs."""
    spans: list[tuple[int, int]] = []
    if any(c.isdigit() for c in text):
        spans.extend(m.span("dea") for m in _DEA.finditer(text) if dea_valid(m.group("dea")))
        spans.extend(m.span("npi") for m in _NPI.finditer(text) if npi_valid(m.group("npi")))
        for m in _VIN.finditer(text):
            vin = m.group("vin")
            letters = sum(c.isalpha() for c in vin)
            if letters and letters < 17 and (
                vin_check_valid(vin) or _VIN_LABEL.search(text[max(0, m.start() - 20) : m.start()])
            ):
                spans.append(m.span("vin"))
        for m in _ISBT.finditer(text):
            spaced = " " in m.group("din")
            if spaced or _ISBT_CUE.search(text, max(0, m.start() - 40), m.start()):
                spans.append(m.span())
        spans.extend(m.span() for m in _GS1.finditer(text) if gtin_valid(m.group("gtin")))
    return spans
