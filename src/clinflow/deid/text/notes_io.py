"""Reading plain-text notes for ``clinflow deid text``: .txt files, folders, JSONL.

A ``.txt`` file is one note (UTF-8); a folder holds ``.txt`` notes (recursively); a ``.jsonl``
file holds one note a line: ``{"id": str, "text": str, "patient"?: FHIR Patient,
"people"?: [FHIR Practitioner / RelatedPerson / ...]}``. A note that cannot be read raises
``InputRejected`` naming the file and line and what is wrong, never the note's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinflow.errors import InputRejected

NOTE_SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True, slots=True)
class NoteInput:
    """One note to de-identify: where it came from, its text, its people's records."""

    source: Path  # the input file
    note_id: str  # file stem or the JSONL "id"
    text: str
    patient: dict[str, Any] | None = None
    people: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    line: int | None = None  # JSONL line number


def input_files(root: Path) -> list[Path]:
    """The note files under ``root`` (itself when it is a file), sorted."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in NOTE_SUFFIXES)


def read_txt(path: Path) -> NoteInput:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputRejected(f"not UTF-8 text (byte {exc.start})", path.name) from None
    except OSError as exc:
        raise InputRejected(f"cannot read ({exc.strerror})", path.name) from None
    if "\x00" in text:
        raise InputRejected("binary content (NUL bytes), not a text note", path.name)
    return NoteInput(path, path.stem, text)


def parse_jsonl_line(path: Path, number: int, line: bytes) -> NoteInput:
    where = f"{path.name}:line {number}"
    try:
        raw = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise InputRejected(f"invalid JSON ({reason})", where) from None
    if not isinstance(raw, dict):
        raise InputRejected("a note must be a JSON object", where)
    note_id, text = raw.get("id"), raw.get("text")
    if not isinstance(note_id, str) or not note_id:
        raise InputRejected("field 'id' must be a non-empty string", where)
    if not isinstance(text, str):
        raise InputRejected("field 'text' must be a string", where)
    patient = raw.get("patient")
    if patient is not None and not (
        isinstance(patient, dict) and patient.get("resourceType") == "Patient"
    ):
        raise InputRejected("field 'patient' must be a FHIR Patient object", where)
    people = raw.get("people") or []
    if not isinstance(people, list) or not all(
        isinstance(p, dict) and isinstance(p.get("resourceType"), str) for p in people
    ):
        raise InputRejected("field 'people' must be a list of FHIR resources", where)
    return NoteInput(path, note_id, text, patient, tuple(people), number)


def iter_jsonl(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) of the non-blank lines."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputRejected(f"cannot read ({exc.strerror})", path.name) from None
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield number, line
