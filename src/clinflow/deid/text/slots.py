"""A name typed in capitals in a form's person slot: "Patient: TAN AH BENG @ TAN KOK WEE",
"Recipient: OKONJO, ADAEZE T", "Donor name: VOSS, HELGA".

Registration systems print the person's name in capitals after the label, whatever the rest
of the note looks like; short family names ("LIM", "TAN", "NG") and words that are also
English ("AH", "ROSE") are names there. The run of capitals ends at a double space, a line
end, a parenthesis or a comma-free lower-case word; it counts unless every word in it is an
ordinary word ("Patient: NOT KNOWN").
"""

from __future__ import annotations

from collections.abc import Callable

import regex  # type: ignore[import-untyped]

_CAPS_WORD = r"\p{Lu}[\p{Lu}'’.-]*"
_SLOT = regex.compile(
    # a form label (at a line start or after a column gap: checked in the loop)
    r"(?<![\w-])(?i:patient|pt|name|recipient|donor|client|resident|"
    r"claimant|member|subject|child|infant|baby|student|insured|beneficiary|driver|employee|"
    r"worker|applicant|guarantor|subscriber|deceased|decedent|examinee|enrollee|caller|"
    r"guest|inmate|passenger|traveller|traveler|visitor|adult[ \t]at[ \t]risk)"
    r"(?:[ \t]+(?i:name))?[ \t]*:[ \t]*"
    rf"(?P<name>{_CAPS_WORD}(?:,?[ \t]{_CAPS_WORD}){{1,5}}"
    # the given name in mixed case after the family name in capitals: "VOSS-TER HAAR, Ilse"
    r"(?:,[ \t]\p{Lu}\p{Ll}[\p{L}'’-]*(?:[ \t]\p{Lu}\p{Ll}[\p{L}'’-]*)?)?"
    # an alias after "@" (Singapore registrations): "LIM AH KOW @ LIM YONG SENG"
    rf"(?:[ \t]@[ \t]{_CAPS_WORD}(?:[ \t]{_CAPS_WORD}){{0,4}})?)"
    r"(?=[ \t]{2,}|[ \t]*(?:\n|$|\(|;|\||/))",
    regex.V0,
)
_WORD = regex.compile(r"\p{L}[\p{L}'’-]*")


def capitals_in_person_slots(
    text: str, is_word: Callable[[str], bool], is_clinical: Callable[[str], bool]
) -> list[tuple[int, int]]:
    """Spans of names in capitals after a person label at a line start or column gap,
    unless every word is ordinary or one is a clinical word ("Name: MRI BRAIN WO")."""
    if ":" not in text:
        return []
    spans: list[tuple[int, int]] = []
    for match in _SLOT.finditer(text):
        line = text[text.rfind("\n", 0, match.start()) + 1 : match.start()]
        if line.strip(" \t") and not line.endswith(("  ", "\t", "|", "| ")):
            continue  # "Exam Name: CT HEAD": the label is not the form's own
        words = [w.lower() for w in _WORD.findall(match.group("name")) if len(w) > 1]
        if (
            words
            and not all(is_word(w) for w in words)
            and not any(is_clinical(w) for w in words)
        ):
            spans.append(match.span("name"))
    return spans
