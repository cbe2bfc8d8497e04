"""The hand-annotated evaluation set of clinical notes, and its inline PHI markup.

A note marks every PHI mention inline as ``{{TYPE|surface}}``, e.g.
``{{CLINICIAN|Xzavian G. Tavares}}, M.D.``; :func:`parse_marked` strips the markup and returns
the plain text with the spans' offsets into it. The shipped set
(``synthetic/text_eval/notes.jsonl``, see its README) is for measurement only: recognizers
must not be tuned to its strings. Markup errors raise :class:`InputRejected` naming the note
and the position, never the text around it (it is PHI, even if surrogate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from clinflow.config import package_data
from clinflow.errors import InputRejected

OPEN, SEP, CLOSE = "{{", "|", "}}"
_MARKUP_CHARS = frozenset("{}|")


class PhiCategory(StrEnum):
    """Coarse groups of PHI types, for reporting recall per kind of identifier."""

    NAME = "NAME"
    DATE = "DATE"
    AGE = "AGE"
    CONTACT = "CONTACT"
    ID = "ID"
    LOCATION = "LOCATION"


class PhiType(StrEnum):
    """The annotation types (i2b2/n2c2 2014 de-identification style, HIPAA Safe Harbor)."""

    PATIENT = "PATIENT"
    CLINICIAN = "CLINICIAN"
    RELATIVE = "RELATIVE"
    OTHER_PERSON = "OTHER_PERSON"
    DATE = "DATE"
    AGE = "AGE"
    PHONE = "PHONE"
    FAX = "FAX"
    EMAIL = "EMAIL"
    URL = "URL"
    IP = "IP"
    MRN = "MRN"
    SSN = "SSN"
    ACCOUNT = "ACCOUNT"
    ID = "ID"
    USERNAME = "USERNAME"
    HOSPITAL = "HOSPITAL"
    STREET = "STREET"
    CITY = "CITY"
    STATE = "STATE"
    ZIP = "ZIP"
    COUNTRY = "COUNTRY"
    DEVICE = "DEVICE"
    LICENSE = "LICENSE"
    VEHICLE = "VEHICLE"

    @property
    def category(self) -> PhiCategory:
        """The coarse group this type is reported under."""
        return _CATEGORY[self]


NAME_TYPES = frozenset({PhiType.PATIENT, PhiType.CLINICIAN, PhiType.RELATIVE, PhiType.OTHER_PERSON})

_CATEGORY: dict[PhiType, PhiCategory] = {
    **{t: PhiCategory.NAME for t in NAME_TYPES},
    PhiType.DATE: PhiCategory.DATE,
    PhiType.AGE: PhiCategory.AGE,
    **{
        t: PhiCategory.CONTACT
        for t in (PhiType.PHONE, PhiType.FAX, PhiType.EMAIL, PhiType.URL, PhiType.IP)
    },
    **{
        t: PhiCategory.ID
        for t in (
            PhiType.MRN,
            PhiType.SSN,
            PhiType.ACCOUNT,
            PhiType.ID,
            PhiType.USERNAME,
            PhiType.DEVICE,
            PhiType.LICENSE,
            PhiType.VEHICLE,
        )
    },  # fmt: skip
    **{
        t: PhiCategory.LOCATION
        for t in (
            PhiType.HOSPITAL,
            PhiType.STREET,
            PhiType.CITY,
            PhiType.STATE,
            PhiType.ZIP,
            PhiType.COUNTRY,
        )
    },  # fmt: skip
}


@dataclass(frozen=True, slots=True)
class AnnotatedSpan:
    """One PHI mention: ``text[start:end]`` of the plain note is of ``type``."""

    start: int
    end: int
    type: PhiType


@dataclass(frozen=True, slots=True)
class AnnotatedNote:
    """A plain-text note with its gold PHI spans and, optionally, the patient's FHIR data.

    ``record`` is the patient's FHIR R4 Patient resource (or ``None``); ``people`` holds the
    Practitioner / RelatedPerson resources of some of the people the note names, as they
    would sit in the patient's bundle.
    """

    id: str
    style: str
    text: str
    spans: tuple[AnnotatedSpan, ...]
    record: dict[str, Any] | None
    people: tuple[dict[str, Any], ...]

    def surface(self, span: AnnotatedSpan) -> str:
        """The text a span covers."""
        return self.text[span.start : span.end]


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line} column {column} (offset {offset})"


def parse_marked(marked: str, note_id: str = "<text>") -> tuple[str, tuple[AnnotatedSpan, ...]]:
    """Strip ``{{TYPE|surface}}`` markup: the plain text and each span's offsets into it.

    Raises :class:`InputRejected` for an unclosed ``{{``, a stray ``}}``, a missing ``|``,
    an unknown type, an empty surface or one holding ``{``, ``}`` or ``|``. The message names
    the note id and the position in the marked text, never any of the text.
    """
    plain: list[str] = []
    spans: list[AnnotatedSpan] = []
    length = 0  # characters of plain text emitted so far
    cursor = 0

    def reject(reason: str, offset: int) -> InputRejected:
        return InputRejected(reason, f"note {note_id}: {_position(marked, offset)}")

    while True:
        opening = marked.find(OPEN, cursor)
        segment = marked[cursor:] if opening < 0 else marked[cursor:opening]
        stray = segment.find(CLOSE)
        if stray >= 0:
            raise reject("'}}' without a matching '{{'", cursor + stray)
        plain.append(segment)
        length += len(segment)
        if opening < 0:
            break
        closing = marked.find(CLOSE, opening + len(OPEN))
        if closing < 0:
            raise reject("'{{' is never closed by '}}'", opening)
        body = marked[opening + len(OPEN) : closing]
        type_name, sep, surface = body.partition(SEP)
        if not sep:
            raise reject("markup has no '|' between type and text", opening)
        try:
            phi_type = PhiType(type_name)
        except ValueError:
            raise reject("unknown PHI type in markup", opening) from None
        if not surface:
            raise reject("marked span is empty", opening)
        if _MARKUP_CHARS.intersection(surface):
            raise reject("marked span contains '{', '}' or '|'", opening)
        spans.append(AnnotatedSpan(length, length + len(surface), phi_type))
        plain.append(surface)
        length += len(surface)
        cursor = closing + len(CLOSE)
    return "".join(plain), tuple(spans)


def _note(raw: object, location: str) -> AnnotatedNote:
    if not isinstance(raw, dict):
        raise InputRejected("a note must be a JSON object", location)
    for field in ("id", "style", "text"):
        if not isinstance(raw.get(field), str):
            raise InputRejected(f"field '{field}' must be a string", location)
    record = raw.get("record")
    if record is not None and not isinstance(record, dict):
        raise InputRejected("field 'record' must be an object or null", location)
    people = raw.get("people") or []
    if not isinstance(people, list) or not all(isinstance(p, dict) for p in people):
        raise InputRejected("field 'people' must be a list of objects", location)
    text, spans = parse_marked(raw["text"], raw["id"])
    return AnnotatedNote(raw["id"], raw["style"], text, spans, record, tuple(people))


def load_annotated_notes(path: Path) -> list[AnnotatedNote]:
    """Read a JSONL file of marked notes (one object a line; blank lines are skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputRejected(f"cannot read annotated notes ({exc.strerror})", str(path)) from exc
    notes: list[AnnotatedNote] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        location = f"{path.name}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputRejected(f"not JSON ({exc.msg})", location) from None
        note = _note(raw, location)
        if note.id in seen:
            raise InputRejected(f"duplicate note id {note.id!r}", location)
        seen.add(note.id)
        notes.append(note)
    return notes


def annotated_notes_path() -> Path:
    """The evaluation set shipped with clinflow (``synthetic/text_eval/notes.jsonl``)."""
    return package_data("scenarios") / "text_eval" / "notes.jsonl"
