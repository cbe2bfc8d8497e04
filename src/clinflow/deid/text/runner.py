"""Runs the text de-identifier over .txt/.jsonl notes, writing outputs and quarantining bad input.

Each note's patient key comes from its FHIR Patient (the MRN, else ``Patient/<id>``, as the
FHIR path keys patients) or ``--patient-id``; its known identifiers from that Patient and the
people given with it, so names, dates and surrogates match ``clinflow deid fhir`` for the
same patient and key. Spans are kept per note for ``--explain`` (offsets, type, recognizers;
values only on request).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinflow.audit import events
from clinflow.deid.text.engine import Span, TextDeidentifier
from clinflow.deid.text.known import KnownIdentifiers, known_for_note
from clinflow.deid.text.notes_io import (
    NoteInput,
    input_files,
    iter_jsonl,
    parse_jsonl_line,
    read_txt,
)
from clinflow.envelope import content_message_id
from clinflow.errors import InputRejected
from clinflow.interfaces import AuditSink, Rejection, append_all
from clinflow.patient_ids import patient_mrn
from clinflow.quarantine import Quarantine

STAGE = "deid-text"


@dataclass
class TextRunReport:
    files: int = 0
    notes: int = 0
    spans: int = 0
    quarantined: int = 0
    problems: list[str] = field(default_factory=list)  # file/line + reason, never PHI
    by_entity: dict[str, int] = field(default_factory=dict)
    explained: list[tuple[str, Span, str]] = field(default_factory=list)  # (note, span, value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "notes": self.notes,
            "spans": self.spans,
            "by_entity": dict(sorted(self.by_entity.items())),
            "quarantined": self.quarantined,
            "problems": self.problems,
        }

    def explain(self, show_values: bool = False) -> list[str]:
        """One line per span: note, entity, start-end, recognizers (and the value if asked)."""
        lines = []
        for note, span, value in self.explained:
            line = f"{note}\t{span.entity}\t{span.start}-{span.end}\t{'+'.join(span.found_by)}"
            lines.append(f"{line}\t{value!r}" if show_values else line)
        return lines


@dataclass(eq=False, repr=False)  # a runner with a running report: compared by identity
class TextDeidRunner:
    """De-identifies every note under a path into an output folder."""

    deidentifier: TextDeidentifier
    quarantine: Quarantine | None = None
    patient_id: str | None = None
    audit: AuditSink | None = None
    report: TextRunReport = field(default_factory=TextRunReport, init=False)
    _policy_hash: str = field(init=False)
    # this file's AuditEvents: one group commit per file
    _pending: list[Any] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._policy_hash = self.deidentifier.policy.digest()

    def run(self, source: Path, out: Path) -> TextRunReport:
        base = source if source.is_dir() else source.parent
        for path in input_files(source):
            target = out / path.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.report.files += 1
            if path.suffix == ".jsonl":
                self._run_jsonl(path, target)
            else:
                self._run_txt(path, target)
            if self.audit is not None and self._pending:
                append_all(self.audit, self._pending)
                self._pending = []
        return self.report

    def deidentify(self, note: NoteInput, label: str) -> str:
        """One note's de-identified text; records its spans in the report."""
        patient_key, known = self._patient(note)
        result = self.deidentifier.deidentify(note.text, patient_key, known)
        self.report.notes += 1
        self.report.spans += len(result.spans)
        counts: Counter[str] = Counter()
        for span in result.spans:
            self.report.by_entity[span.entity] = self.report.by_entity.get(span.entity, 0) + 1
            self.report.explained.append((label, span, note.text[span.start : span.end]))
            counts[span.entity] += 1
        if self.audit is not None:
            # one transformation AuditEvent per note: content ids in and out (never the text),
            # the patient's pseudonym when the note names its patient, the policy's hash
            pseudonymizer = self.deidentifier.pseudonymizer
            self._pending.append(
                events.deidentification(
                    patient=pseudonymizer.patient_pseudonym(patient_key) if patient_key else None,
                    message_id=content_message_id(note.text.encode()),
                    output_message_id=content_message_id(result.text.encode()),
                    policy_hash=self._policy_hash,
                    method=f"text-{self.deidentifier.policy.name}",
                    actions=dict(sorted(counts.items())),
                )
            )
        return result.text

    def _patient(self, note: NoteInput) -> tuple[str | None, KnownIdentifiers | None]:
        key = self.patient_id
        if note.patient is not None:
            key = patient_mrn(note.patient) or f"Patient/{note.patient.get('id', '')}"
        return key, known_for_note(note.patient, note.people)

    def _reject(self, exc: InputRejected, payload: bytes | None) -> None:
        self.report.quarantined += 1
        self.report.problems.append(str(exc))
        if self.quarantine is not None:
            self.quarantine.put(Rejection(STAGE, exc.location, exc.reason, payload))

    def _run_txt(self, path: Path, target: Path) -> None:
        try:
            note = read_txt(path)
        except InputRejected as exc:
            self._reject(exc, _read_or_none(path))
            return
        target.write_text(self.deidentify(note, path.name), encoding="utf-8")

    def _run_jsonl(self, path: Path, target: Path) -> None:
        try:
            lines = list(iter_jsonl(path))
        except InputRejected as exc:
            self._reject(exc, None)
            return
        with target.open("w", encoding="utf-8") as sink:
            for number, line in lines:
                try:
                    note = parse_jsonl_line(path, number, line)
                except InputRejected as exc:
                    self._reject(exc, line)
                    continue
                text = self.deidentify(note, f"{path.name}:{note.note_id}")
                sink.write(json.dumps({"id": note.note_id, "text": text}) + "\n")


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
