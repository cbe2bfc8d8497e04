"""A person's name inside a business's name: "Kittelson Grain Transport", "THERIOT ELECTRIC",
"Okafor & Sons Roofing".

Employers, haulage firms, builders and farms are very often named after their owner's
family; occupational health notes, injury reports and social histories write them in full.
The family name there identifies as much as anywhere else. A run of one or two capitalised
words counts when a trade word follows it and at least one of its words is no ordinary or
clinical word ("Northern Plains Logistics" stays: every word is English).
"""

from __future__ import annotations

from collections.abc import Callable

import regex  # type: ignore[import-untyped]

_TRADES = (
    r"Logistics|Electric|Electrical|Transport|Transportation|Trucking|Freight|Haulage|"
    r"Construction|Builders|Plumbing|Roofing|Landscaping|Farms?|Dairy|Grain|Motors|Automotive|"
    r"Lumber|Mills?|Foods|Industries|Manufacturing|Mining|Welding|Fabrication|Bakery|Brewing|"
    r"Brewery|Concrete|Paving|Excavating|Drilling|Tractor|Equipment|Hardware|Realty|"
    r"Enterprises|Contracting|Contractors|Trucks|Cattle|Ranch|Orchards?|Vineyards?|Fisheries"
)
_EMPLOYER = regex.compile(
    # mixed case, or a note typed in capitals
    rf"(?<![\p{{L}}'’-])(?P<owner>\p{{Lu}}[\p{{Ll}}'’-]+(?:[ \t]\p{{Lu}}[\p{{Ll}}'’-]+)?)"
    rf"(?:[ \t]&[ \t](?:Sons|Daughters|Co\.?))?[ \t](?:{_TRADES})\b"
    rf"|(?<![\p{{L}}'’-])(?P<owner>\p{{Lu}}[\p{{Lu}}'’-]+(?:[ \t]\p{{Lu}}[\p{{Lu}}'’-]+)?)"
    rf"(?:[ \t]&[ \t](?:SONS|DAUGHTERS|CO\.?))?[ \t](?-i:(?i:{_TRADES}))(?<=[A-Z])\b",
    regex.V0,
)
_WORD = regex.compile(r"\p{L}[\p{L}'’-]*")
_ANY_TRADE = regex.compile(rf"\b(?i:{_TRADES})\b", regex.V0)


def employer_owner_names(
    text: str, is_word: Callable[[str], bool]
) -> list[tuple[int, int]]:
    """Spans of the capitalised words before a trade word that are a name, not ordinary
    words: ``is_word(w)`` says a word is English or clinical vocabulary."""
    found: list[tuple[int, int]] = []
    if _ANY_TRADE.search(text) is None:
        return found  # most notes name no trade: one cheap scan
    for match in _EMPLOYER.finditer(text):
        # ordinary words at either end are no part of the name ("FOR THERIOT", "Kittelson
        # Grain")
        words = [w for w in _WORD.finditer(text, *match.span("owner"))]
        while words and is_word(words[0].group().lower()):
            words.pop(0)
        while words and is_word(words[-1].group().lower()):
            words.pop()
        if words:
            found.append((words[0].start(), words[-1].end()))
    return found
