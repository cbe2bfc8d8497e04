"""Recognizers for free-text PHI, as presidio recognizer classes.

- ``KnownIdentifierRecognizer``: the patient's own identifiers from the structured record
  (``KnownIdentifiers``), so they are caught wherever they appear, whatever NER thinks.
- Pattern recognizers (presidio ``PatternRecognizer``): dates in many spellings, ages over 89,
  phone, e-mail, SSN, MRN/account/plan/NPI numbers after their labels, URLs, IPs, zip codes
  after a state, street addresses, hospital names, names after titles or honorifics.

Patterns use the ``regex`` module (presidio's), which allows variable-length look-behind, so a
span covers the identifier and not its label ("MRN 123" → "123").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex  # type: ignore[import-untyped]
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from clinflow.deid.text.known import (
    DATE,
    EMAIL,
    HOSPITAL,
    ID,
    LOCATION,
    MRN,
    PERSON,
    PHONE,
    SSN,
    KnownIdentifiers,
)

AGE = "AGE"
URL = "URL"
IP = "IP_ADDRESS"

MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_PARTICLES = (
    r"(?:(?:[dD]e|[dD]el|[dD]ella|[dD]i|[dD]a|[vV]an|[vV]on|der|den|[lL]a|[lL]e|[dD]u|dos|das|"
    r"bin|ibn|al|el|ter|St\.)\s+)*"
)
_NAME_WORD = _PARTICLES + r"\p{Lu}[\p{L}'\-]+\d*"
_TITLE = r"(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Nurse|RN|NP)"


@dataclass(frozen=True, slots=True)
class PatternSpec:
    name: str
    entity: str
    pattern: str
    score: float
    flags: int = 0


PATTERNS: tuple[PatternSpec, ...] = (
    PatternSpec(
        "date_iso",
        DATE,
        r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)",
        0.9,
    ),
    PatternSpec(
        "date_numeric",
        DATE,
        r"(?<![\d/-]|\d\.)\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/-]|\.\d)",
        0.8,
    ),
    PatternSpec(
        "date_month_day_year",
        DATE,
        rf"\b{MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b",
        0.9,
        regex.I,
    ),
    PatternSpec(
        "date_day_month_year",
        DATE,
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTHS}\.?,?\s+\d{{4}}\b",
        0.9,
        regex.I,
    ),
    PatternSpec("date_month_year", DATE, rf"\b{MONTHS}\.?\s+(?:of\s+)?\d{{4}}\b", 0.6),
    PatternSpec(
        "date_month_day", DATE, rf"\b{MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?!,?\s*\d{{4}})", 0.5
    ),
    PatternSpec(
        "age_over_89",
        AGE,
        r"(?<!\d)(?:9\d|1[0-2]\d)(?=\s*-?\s*(?:years?|yrs?|y/?o\b|-year|year-old))"
        r"|(?<=\b(?:aged?|age of)\s{1,3})(?:9\d|1[0-2]\d)(?!\d)",
        0.85,
        regex.I,
    ),
    PatternSpec(
        "phone",
        PHONE,
        r"(?<![\w+])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\d)"
        r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?",
        0.75,
    ),
    PatternSpec("email", EMAIL, r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", 0.95),
    PatternSpec(
        "ssn",
        SSN,
        r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"
        r"|(?<=\b(?:SSN|Social Security(?: Number| No\.?)?)[:#\s]{1,4})\d{9}(?!\d)",
        0.85,
        regex.I,
    ),
    PatternSpec(
        "mrn",
        MRN,
        r"(?<=\b(?:MRN|MR#|MR|Medical Record(?: Number| No\.?| #)?)[:#\s]{1,4})"
        r"[A-Z]{0,4}-?\d[\dA-Z-]{3,}",
        0.9,
        regex.I,
    ),
    PatternSpec(
        "account_id",
        ID,
        r"(?<=\b(?:account|acct|member|policy|plan|subscriber|beneficiary|license|"
        r"licence|NPI|DEA|ID|certificate|serial|device|badge)"
        r"(?:\s+(?:no\.?|number|#|id))?[:#\s]{1,4})[A-Z]{0,5}-?\d[\dA-Z-]{3,}",
        0.8,
        regex.I,
    ),
    PatternSpec("url", URL, r"\bhttps?://[^\s<>\"')]+|\bwww\.[^\s<>\"')]+", 0.9, regex.I),
    PatternSpec(
        "ipv4",
        IP,
        r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
        r"(?![\d.])",
        0.8,
    ),
    PatternSpec("ipv6", IP, r"(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])", 0.8, regex.I),
    PatternSpec(
        "zip_after_state", LOCATION, r"(?<=\b[A-Z]{2},?\s{1,2})\d{5}(?:-\d{4})?(?!\d)", 0.7
    ),
    PatternSpec(
        "street_address",
        LOCATION,
        r"\b\d{1,6}\s+(?:[A-Z][\p{L}'.-]*\s+){1,4}(?:Street|St|Avenue|Ave|Road|Rd|"
        r"Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|"
        r"Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Row)\b\.?"
        r"(?:,?\s+(?:Apt|Suite|Unit|#)\.?\s*\w+)?",
        0.7,
    ),
    PatternSpec(
        "hospital",
        HOSPITAL,
        r"\b(?:(?:St\.|Saint|Mount|Mt\.|[A-Z][\p{L}'-]+)\s+){1,5}(?:Regional\s+)?"
        r"(?:Hospital|Medical Center|Health Center|Clinic|Infirmary|Health System|"
        r"Memorial|Children's|Sanatorium|Hospice)\b",
        0.7,
    ),
    PatternSpec(
        "titled_name", PERSON, rf"\b{_TITLE}\.?\s{{1,2}}(?:{_NAME_WORD}\s+){{0,3}}{_NAME_WORD}", 0.8
    ),
    PatternSpec(
        "name_after_cue",
        PERSON,
        r"(?<=\b(?:by|with|from|contact(?: is)?|nurse|RN|son|daughter|wife|husband|"
        r"sister|brother|mother|father|spouse|partner|friend|caregiver|guardian),?"
        rf"\s{{1,2}})(?:{_NAME_WORD}\s+){{1,3}}{_NAME_WORD}\b",
        0.6,
    ),
    PatternSpec(
        "name_with_credentials",
        PERSON,
        rf"\b{_NAME_WORD}(?:\s+[A-Z]\.)?\s+{_NAME_WORD}(?=,?\s+(?:MD|DO|RN|NP|PA|"
        r"PA-C|PhD|MBBS|CNA|LPN)\b)",
        0.75,
    ),
    PatternSpec("surname_comma_given", PERSON, rf"\b[A-Z][A-Z'\-]{{2,}}\d*,\s+{_NAME_WORD}\b", 0.6),
)


@lru_cache(maxsize=1)
def compiled_patterns() -> tuple[tuple[PatternSpec, Any], ...]:
    """Each spec with its compiled ``regex`` pattern (compiled once per process)."""
    return tuple((spec, regex.compile(spec.pattern, spec.flags | regex.V0)) for spec in PATTERNS)


def presidio_pattern_recognizers() -> list[PatternRecognizer]:
    """The same patterns as presidio ``PatternRecognizer`` objects (one per entity)."""
    by_entity: dict[str, list[Pattern]] = {}
    for spec in PATTERNS:
        flags = "(?i)" if spec.flags & regex.I else ""
        by_entity.setdefault(spec.entity, []).append(
            Pattern(spec.name, flags + spec.pattern, spec.score)
        )
    return [
        PatternRecognizer(
            supported_entity=entity,
            patterns=patterns,
            name=f"clinflow_{entity.lower()}",
            global_regex_flags=regex.M,
        )
        for entity, patterns in by_entity.items()
    ]


class KnownIdentifierRecognizer(EntityRecognizer):
    """Finds the patient's own identifiers (from the structured record) in free text."""

    def __init__(self, known: KnownIdentifiers) -> None:
        self.known = known
        super().__init__(
            supported_entities=[PERSON, MRN, SSN, PHONE, EMAIL, LOCATION, ID, HOSPITAL, DATE],
            name="clinflow_known_identifier",
            supported_language="en",
        )

    def load(self) -> None:
        """Nothing to load: patterns come from the record."""

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: Any = None,
    ) -> list[RecognizerResult]:
        results = []
        for start, end, entity in self.known.find(text):
            if not entities or entity in entities:
                results.append(RecognizerResult(entity, start, end, 1.0))
        return results
