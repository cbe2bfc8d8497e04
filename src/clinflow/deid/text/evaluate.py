"""Text de-identification quality against the generator's ground truth (recall, precision).

The manifest records every identifier planted in a note as a character span
(``DocumentReference/<id>#content[0].attachment.data@start-end``, offsets into the decoded
text). This module re-reads those notes, runs the detector with the patient's known
identifiers, and scores: a planted span is *found* when every letter or digit in it lies
inside some detected span; a detected span is *correct* when it overlaps a planted span.
Recall is reported per PHI kind, for the patient's own name/MRN/SSN/phone, and overall.
"""

from __future__ import annotations

import base64
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from clinflow.deid.fhir.index import PatientIndex
from clinflow.deid.text.corpus import AnnotatedNote
from clinflow.deid.text.engine import Span, TextDeidentifier
from clinflow.deid.text.known import KnownIdentifiers, known_for_note
from clinflow.synthetic.manifest import PhiEntry, Subject, read_manifest

_LOCATION = re.compile(r"^(?P<resource>\w+/[^#]+)#(?P<path>[^@]+)@(?P<start>\d+)-(?P<end>\d+)$")
_STEP = re.compile(r"(\w+)(?:\[(\d+)\])?")


@dataclass
class TextEvalReport:
    notes: int = 0
    planted: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    detected_spans: int = 0
    correct_spans: int = 0
    seconds: float = 0.0
    missed_examples: list[str] = field(default_factory=list)  # kind + detail, never values

    def recall(self, kind: str | None = None) -> float:
        if kind is None:
            planted = sum(self.planted.values())
            return sum(self.found.values()) / planted if planted else 1.0
        return self.found[kind] / self.planted[kind] if self.planted[kind] else 1.0

    @property
    def precision(self) -> float:
        return self.correct_spans / self.detected_spans if self.detected_spans else 1.0

    def as_dict(self) -> dict[str, Any]:
        kinds = sorted(self.planted)
        return {
            "notes": self.notes,
            "recall_overall": round(self.recall(), 4),
            "precision": round(self.precision, 4),
            "recall_by_kind": {k: round(self.recall(k), 4) for k in kinds},
            "planted_by_kind": {k: self.planted[k] for k in kinds},
            "notes_per_s": round(self.notes / self.seconds, 1) if self.seconds else None,
        }


def _resolve(resource: dict[str, Any], path: str) -> Any:
    node: Any = resource
    for name, index in _STEP.findall(path):
        node = node.get(name) if isinstance(node, dict) else None
        if index and isinstance(node, list):
            node = node[int(index)] if int(index) < len(node) else None
    return node


def _covered(start: int, end: int, text: str, spans: list[Span]) -> bool:
    for position in range(start, end):
        if not text[position].isalnum():
            continue
        if not any(s.start <= position < s.end for s in spans):
            return False
    return True


def _kind_label(entry: PhiEntry) -> list[str]:
    labels = [entry.kind.value]
    if entry.subject == Subject.PATIENT and entry.kind.value in ("name", "mrn", "ssn", "phone"):
        labels.append(f"patient_{entry.kind.value}")
    return labels


Detector = Callable[[str, KnownIdentifiers | None], list[Span]]


def evaluate(
    cohort: Path,
    manifest: Path,
    deidentifier: TextDeidentifier | Detector,
    max_notes: int | None = None,
) -> TextEvalReport:
    """Score a detector (a ``TextDeidentifier`` or ``(text, known) -> spans``) on every note
    the manifest has spans for; ``seconds`` counts detection time only."""
    detect = deidentifier.analyze if isinstance(deidentifier, TextDeidentifier) else deidentifier
    by_note: dict[tuple[str, str, str], list[tuple[int, int, PhiEntry]]] = defaultdict(list)
    for entry in read_manifest(manifest):
        match = _LOCATION.match(entry.location)
        if match is None:
            continue
        key = (entry.file, match["resource"], match["path"])
        by_note[key].append((int(match["start"]), int(match["end"]), entry))
    files = sorted({key[0] for key in by_note})
    index = PatientIndex()
    scanned = [(name, resource) for name in files for resource in _resources(cohort / name)]
    index.add_all((resource, None) for _, resource in scanned)
    resources = {
        (name, f"{resource.get('resourceType')}/{resource.get('id')}"): resource
        for name, resource in scanned
    }
    report = TextEvalReport()
    detect_seconds = 0.0
    for (name, resource_ref, path), planted in sorted(by_note.items(), key=lambda kv: kv[0]):
        if max_notes is not None and report.notes >= max_notes:
            break
        found_resource = resources.get((name, resource_ref))
        raw = _resolve(found_resource, path) if found_resource else None
        if not isinstance(raw, str):
            continue
        text = base64.b64decode(raw).decode("utf-8") if path.endswith("data") else raw
        ref = (found_resource or {}).get("subject", {}).get("reference", "")
        patient_id = index.patient_id_of_reference(ref)
        patient_key = index.patient_key_for(patient_id) if patient_id else None
        tick = time.perf_counter()
        spans = detect(text, index.known.get(patient_key) if patient_key else None)
        detect_seconds += time.perf_counter() - tick
        report.notes += 1
        for start, end, entry in planted:
            hit = _covered(start, end, text, spans)
            for label in _kind_label(entry):
                report.planted[label] += 1
                report.found[label] += hit
            if not hit and len(report.missed_examples) < 50:
                report.missed_examples.append(f"{entry.kind.value}: {entry.detail}")
        report.detected_spans += len(spans)
        report.correct_spans += sum(
            1 for s in spans if any(s.start < end and start < s.end for start, end, _ in planted)
        )
    report.seconds = detect_seconds
    return report


def _resources(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".ndjson":
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    document = orjson.loads(path.read_bytes())
    if document.get("resourceType") == "Bundle":
        return [e["resource"] for e in document.get("entry") or () if "resource" in e]
    return [document]


def text_section(cohort: Path, manifest: Path) -> dict[str, Any]:
    """Figures for ``clinflow leaks --text-source``: the default text policy on the cohort.

    Detection does not depend on the project key (only replacement does), so a fixed
    evaluation key is used and no deployment keys are read.
    """
    from clinflow.deid.pseudonym import Pseudonymizer

    detector = TextDeidentifier(Pseudonymizer(b"clinflow-text-evaluation-only"))
    return evaluate(cohort, manifest, detector).as_dict()


def meets_targets(figures: dict[str, object]) -> bool:
    """Text targets: recall >= 0.99, precision >= 0.90, the patient's own ids all caught."""
    by_kind = figures.get("recall_by_kind")
    assert isinstance(by_kind, dict)
    own = [
        by_kind.get(k, 1.0) for k in ("patient_name", "patient_mrn", "patient_ssn", "patient_phone")
    ]
    recall = figures.get("recall_overall")
    precision = figures.get("precision")
    assert isinstance(recall, float) and isinstance(precision, float)
    return recall >= 0.99 and precision >= 0.90 and all(v == 1.0 for v in own)


# ----- the hand-annotated sets (clinflow.deid.text.corpus) --------------------------------

# Detected entity label -> the annotation category it answers to (for precision by category).
_ENTITY_CATEGORY = {
    "PERSON": "NAME",
    "DATE_TIME": "DATE",
    "AGE": "AGE",
    "PHONE_NUMBER": "CONTACT",
    "EMAIL_ADDRESS": "CONTACT",
    "URL": "CONTACT",
    "IP_ADDRESS": "CONTACT",
    "MRN": "ID",
    "US_SSN": "ID",
    "ID": "ID",
    "USERNAME": "ID",
    "LOCATION": "LOCATION",
    "ZIP": "LOCATION",
    "HOSPITAL": "LOCATION",
}


def f_beta(precision: float, recall: float, beta: float = 2.0) -> float:
    """F-beta (F2 weighs recall four times as much as precision: a missed name is worse)."""
    if precision <= 0 or recall <= 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


@dataclass
class AnnotatedReport:
    """Recall per PHI type, precision overall and per category, on annotated notes.

    A gold span is *found* when every letter or digit of it lies inside detected spans; a
    detected span is *correct* when it overlaps a gold span (of any type). ``patient_own``
    counts gold spans that the patient's own record names (recall target 1.0).
    """

    notes: int = 0
    gold: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    detected: Counter[str] = field(default_factory=Counter)  # by category
    correct: Counter[str] = field(default_factory=Counter)
    by_style: dict[str, Counter[str]] = field(default_factory=dict)
    seconds: float = 0.0
    missed: Counter[str] = field(default_factory=Counter)  # "TYPE in STYLE" counts, no values

    def recall(self, phi_type: str | None = None) -> float:
        if phi_type is None:
            total = sum(v for k, v in self.gold.items() if k != "patient_own")
            hit = sum(v for k, v in self.found.items() if k != "patient_own")
            return hit / total if total else 1.0
        return self.found[phi_type] / self.gold[phi_type] if self.gold[phi_type] else 1.0

    def precision(self, category: str | None = None) -> float:
        detected = self.detected[category] if category else sum(self.detected.values())
        correct = self.correct[category] if category else sum(self.correct.values())
        return correct / detected if detected else 1.0

    def as_dict(self) -> dict[str, Any]:
        from clinflow.deid.text.corpus import PhiType

        types = sorted(t for t in self.gold if t != "patient_own")
        names = [t for t in types if t in ("CLINICIAN", "RELATIVE", "OTHER_PERSON", "PATIENT")]
        name_gold = sum(self.gold[t] for t in names)
        per_type: dict[str, dict[str, float | int]] = {}
        for phi_type in types:
            category = PhiType(phi_type).category.value
            recall = self.recall(phi_type)
            precision = self.precision(category)
            per_type[phi_type] = {
                "n": self.gold[phi_type],
                "recall": round(recall, 4),
                "precision_of_category": round(precision, 4),
                "f2": round(f_beta(precision, recall), 4),
            }
        return {
            "notes": self.notes,
            "spans": sum(self.gold[t] for t in types),
            "recall_overall": round(self.recall(), 4),
            "precision": round(self.precision(), 4),
            "f2": round(f_beta(self.precision(), self.recall()), 4),
            "recall_names": round(
                sum(self.found[t] for t in names) / name_gold if name_gold else 1.0, 4
            ),
            "recall_clinician_relative": round(
                (self.found["CLINICIAN"] + self.found["RELATIVE"])
                / (self.gold["CLINICIAN"] + self.gold["RELATIVE"])
                if self.gold["CLINICIAN"] + self.gold["RELATIVE"]
                else 1.0,
                4,
            ),
            "recall_patient_own": round(self.recall("patient_own"), 4),
            "patient_own_spans": self.gold["patient_own"],
            "by_type": per_type,
            "precision_by_category": {
                c: round(self.precision(c), 4) for c in sorted(self.detected)
            },
            "notes_per_s": round(self.notes / self.seconds, 1) if self.seconds else None,
            "missed": dict(self.missed.most_common(30)),
        }


def evaluate_annotated(
    notes: Iterable[AnnotatedNote], detector: TextDeidentifier | Detector
) -> AnnotatedReport:
    """Score a detector on hand-annotated notes (``corpus.load_annotated_notes``)."""
    detect = detector.analyze if isinstance(detector, TextDeidentifier) else detector
    report = AnnotatedReport()
    for note in notes:
        known = known_for_note(note.record, note.people)
        tick = time.perf_counter()
        spans = detect(note.text, known)
        report.seconds += time.perf_counter() - tick
        report.notes += 1
        own: list[tuple[int, int, str]] = []
        if note.record is not None:
            patient_only = KnownIdentifiers()
            patient_only.add_from_patient(note.record)
            own = patient_only.find(note.text)
        style = report.by_style.setdefault(note.style, Counter())
        for gold in note.spans:
            hit = _covered(gold.start, gold.end, note.text, spans)
            labels = [gold.type.value]
            if any(s < gold.end and gold.start < e for s, e, _ in own):
                labels.append("patient_own")
            for label in labels:
                report.gold[label] += 1
                report.found[label] += hit
            style["gold"] += 1
            style["found"] += hit
            if not hit:
                report.missed[f"{gold.type.value} in {note.style}"] += 1
        for span in spans:
            category = _ENTITY_CATEGORY.get(span.entity, "OTHER")
            report.detected[category] += 1
            if any(span.start < g.end and g.start < span.end for g in note.spans):
                report.correct[category] += 1
    return report


# ----- surrogate swap: the same notes with other words in their PHI slots (ADR 0123) ---------

# kept as written: the patient's own identifiers (the record names them) and the types whose
# shape, not their words, the rules read (a date's digits, a phone's groups)
_SWAP_KEPT = frozenset({"DATE", "AGE", "PHONE", "FAX", "EMAIL", "URL", "IP"})


def _case_like(original: str, new: str) -> str:
    if original.islower():
        return new.lower()
    if original.isupper() and any(c.isalpha() for c in original):
        return new.upper()
    return new


def surrogate_swap(
    sets: dict[str, list[AnnotatedNote]], seed: int = 7
) -> dict[str, list[AnnotatedNote]]:
    """Each set's notes with every annotated span that is not the patient's own identifier
    (nor a date, age or contact) replaced by a surface of the same type from *another* set,
    in the original's case style (all lower, all capitals, or as drawn). Layout, cues and
    grammar stay; only the words in the slots change, so a rule that found a slot because
    its words were listed somewhere misses here, as on a new writer's notes. Deterministic
    for a seed; the span offsets are those of the new text."""
    import random

    from clinflow.deid.text.corpus import AnnotatedSpan

    pool: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for label, notes in sets.items():
        for note in notes:
            for span in note.spans:
                surface = note.surface(span)
                if "\n" not in surface and len(surface) < 40:
                    pool[span.type.value][label].append(surface)
    swapped: dict[str, list[AnnotatedNote]] = {}
    for label, notes in sets.items():
        rng = random.Random(seed)
        out_notes = []
        for note in notes:
            own: list[tuple[int, int, str]] = []
            if note.record is not None or note.people:
                known = known_for_note(note.record, note.people)
                own = known.find(note.text) if known is not None else []
            parts: list[str] = []
            spans: list[AnnotatedSpan] = []
            position = length = 0
            for span in sorted(note.spans, key=lambda s: (s.start, s.end)):
                if span.start < position:
                    continue  # nested or overlapping gold: keep the first
                surface = note.surface(span)
                candidates = [
                    s for other, found in pool[span.type.value].items() if other != label
                    for s in found
                ]
                keep = (
                    span.type.value in _SWAP_KEPT
                    or not candidates
                    or any(s < span.end and span.start < e for s, e, _ in own)
                )
                new = surface if keep else _case_like(surface, rng.choice(candidates))
                parts.append(note.text[position : span.start])
                length += span.start - position
                spans.append(AnnotatedSpan(length, length + len(new), span.type))
                parts.append(new)
                length += len(new)
                position = span.end
            parts.append(note.text[position:])
            out_notes.append(
                AnnotatedNote(
                    note.id, note.style, "".join(parts), tuple(spans), note.record, note.people
                )
            )
        swapped[label] = out_notes
    return swapped
