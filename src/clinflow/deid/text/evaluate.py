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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from clinflow.deid.fhir.index import PatientIndex
from clinflow.deid.text.engine import Span, TextDeidentifier
from clinflow.deid.text.known import KnownIdentifiers
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
