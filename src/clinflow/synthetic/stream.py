"""A synthetic cohort as a timed stream of raw source inputs, in clinical-time order.

``generate_stream(options)`` yields ``TimedInput(at_s, envelope)``: the same resources and
DICOM instances ``clinflow generate`` writes for the same options (both run the phases of
``clinflow.synthetic.timeline``), each as the raw input an interface engine would deliver:

- ``source=fhir``: one FHIR resource (JSON) per envelope, except a patient's first message,
  a transaction Bundle with the Patient and the Encounter (an ADT admission: ingest learns
  the patient's MRN from it before any resource refers to ``Patient/<id>``), and each
  charting time's vital signs, one transaction Bundle of 7 Observations (a bedside monitor's
  ORU^R01 with one OBX per vital sign, as an interface engine delivers it);
- ``source=consent``: a Consent, at admission, and the scheduled revocations (labels.json)
  as updates with status ``inactive`` at their time (R5: preceded by a replacement Consent
  without the revoked purpose; see ``timeline.consent_withdrawals``);
- ``source=dicom``: one DICOM Part 10 instance per envelope, at its acquisition time (a
  study's instances arrive over a few minutes), then its ImagingStudy.

Envelopes are raw: ``message_id = content_message_id(payload)``, ``patient = ""`` (ingest
resolves it), ``event_time`` the clinical time (charting, note, order, acquisition, consent
time), ``attributes = {"path": ..., "format": "fhir-json" | "dicom"}``. ``path`` names where
the item sits in the file generator's output and carries no PHI: a DICOM file's relative
path, ``fhir/bundles/<patient id>.json#<Type>/<id>`` for a resource (the manifest's ``file``
and ``location``), ``fhir/updates/<patient id>.ndjson#Consent/<id>`` for a consent update.

Order: by event time, ties by patient index, then phase (admission, consent, vitals,
notes, clinical, imaging, consent updates), then emission order. ``at_s = (event_time -
scenario.start) / speed``; ``speed`` 0 or infinite means as fast as possible (``at_s`` 0).

Lazy: a heap holds one entry per running phase of each admitted patient (a parked generator,
a few KB with the ``Patient``), a phase builds a step only when it is due, and the manifest
(``options.manifest``) is written as items are yielded, so memory does not grow with what
was generated, only (by a few KB per patient) with the cohort size.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import orjson

from clinflow.envelope import Envelope, SourceKind, TimedInput, source_input
from clinflow.synthetic.dicom.imaging import dicom_file_bytes, iter_imaging_for_patient
from clinflow.synthetic.fhir.resources import (
    PatientFhir,
    ResourceBlock,
    bundle_entry,
    transaction_bundle,
)
from clinflow.synthetic.manifest import ManifestWriter, PhiEntry
from clinflow.synthetic.population import make_patient
from clinflow.synthetic.scenario import Scenario
from clinflow.synthetic.timeline import (
    STREAM_PHASES,
    Emit,
    ImagingBuilder,
    PatientTimeline,
    Step,
    Wake,
)

FHIR_FORMAT = "fhir-json"
DICOM_FORMAT = "dicom"


@dataclass(frozen=True, slots=True)
class StreamOptions:
    patients: int
    seed: int
    scenario: Scenario
    speed: float = 0.0  # clinical seconds per stream second; 0 or inf: as fast as possible
    manifest: Path | None = None  # where the PHI manifest of what was yielded goes
    imaging_builder: ImagingBuilder | None = None  # injected (tests); default: DICOM module


@dataclass(slots=True)
class StreamSink(PatientFhir):
    """Keeps what a phase step added, one resource at a time, instead of a Bundle."""

    added: list[tuple[str, str, str]] = field(default_factory=list)  # (type, id, JSON)

    def add(self, resource: dict[str, object]) -> str:
        kind, rid = str(resource["resourceType"]), str(resource["id"])
        self.added.append((kind, rid, orjson.dumps(resource).decode()))
        return rid

    def add_block(self, kind: str, block: ResourceBlock) -> None:
        texts = block.lines.split("\n")
        self.added.extend((kind, rid, text) for rid, text in zip(block.ids, texts, strict=True))

    def take(self) -> tuple[list[tuple[str, str, str]], list[PhiEntry]]:
        added, phi = self.added, self.phi
        self.added, self.phi = [], []
        return added, phi


@dataclass(slots=True)
class _Running:
    """One phase of one patient, parked in the heap until its next step is due."""

    steps: Iterator[Step]
    sink: StreamSink
    last: datetime
    ready: list[Envelope] | None = None  # built, to be yielded when popped
    ready_phi: list[PhiEntry] | None = None


def at_seconds(event_time: datetime, start: datetime, speed: float) -> float:
    """Stream time of an event: clinical seconds since ``start`` divided by ``speed``."""
    if speed <= 0 or math.isinf(speed):
        return 0.0
    return max(0.0, (event_time - start).total_seconds() / speed)


def _envelopes(step: Emit, sink: StreamSink) -> tuple[list[Envelope], list[PhiEntry]]:
    added, phi = sink.take()
    out: list[Envelope] = []
    where = sink.bundle_file
    # the patient's record and updates share the file stem: one route per patient (no PHI)
    route = "r-" + hashlib.sha256(PurePosixPath(where).stem.encode()).hexdigest()[:16]
    if step.bundle is not None and added:
        entries = (bundle_entry(kind, rid, text) for kind, rid, text in added)
        payload = transaction_bundle(step.bundle, entries)
        location = f"{where}#Bundle/{step.bundle}"
        out.append(
            source_input(payload, SourceKind.FHIR, step.at, location, FHIR_FORMAT, route)
        )
    else:
        for kind, rid, text in added:
            source = SourceKind.CONSENT if kind == "Consent" else SourceKind.FHIR
            location = f"{where}#{kind}/{rid}"
            out.append(
                source_input(text.encode(), source, step.at, location, FHIR_FORMAT, route)
            )
    if step.dicom is not None:
        data = dicom_file_bytes(step.dicom.dataset)
        out.append(
            source_input(data, SourceKind.DICOM, step.at, step.dicom.path, DICOM_FORMAT, route)
        )
        phi = [*phi, *step.dicom.phi]
    return out, phi


# heap entry: (time, patient index, phase number, running phase or None for an admission)
_Entry = tuple[datetime, int, int, "_Running | None"]


def _park(heap: list[_Entry], index: int, phase: int, running: _Running) -> None:
    """Advance ``running`` to its next step and put it back in the heap (or drop it)."""
    step = next(running.steps, None)
    if step is None:
        return
    at = max(step.at, running.last)  # a phase's times never go back
    running.last = at
    if isinstance(step, Wake):
        running.ready = running.ready_phi = None
    else:
        running.ready, running.ready_phi = _envelopes(Emit(at, step.dicom, step.bundle),
                                                      running.sink)
    heapq.heappush(heap, (at, index, phase, running))


def _admit(heap: list[_Entry], tl: PatientTimeline) -> None:
    # A step is built and its sink drained in one ``_park`` call, so the phases of a patient
    # share a sink (one for the record, one for the updates).
    version = tl.scenario.fhir_version
    record = StreamSink(tl.patient, version, tl.bundle_file)
    updates = StreamSink(tl.patient, version, tl.updates_file)
    for number, phase in enumerate(STREAM_PHASES):
        sink = updates if phase.updates else record
        running = _Running(phase.build(tl, sink), sink, tl.patient.admitted_at)
        _park(heap, tl.patient.index, number, running)


def generate_stream(options: StreamOptions) -> Generator[TimedInput, None, None]:
    """The cohort as a timed stream (see the module docstring); deterministic for a seed."""
    scenario = options.scenario
    imaging = options.imaging_builder or (
        iter_imaging_for_patient if scenario.imaging_fraction > 0 else None
    )
    # Admission times first: one small entry per patient, the Patient rebuilt when admitted.
    heap: list[_Entry] = [
        (make_patient(options.seed, index, scenario)[0].admitted_at, index, -1, None)
        for index in range(options.patients)
    ]
    heapq.heapify(heap)
    handle = options.manifest.open("wb") if options.manifest is not None else None
    manifest = ManifestWriter(handle) if handle is not None else None
    try:
        while heap:
            at, index, phase, running = heapq.heappop(heap)
            if running is None:
                _admit(heap, PatientTimeline.of(options.seed, index, scenario, imaging))
                continue
            if running.ready is not None:
                if manifest is not None:
                    for entry in running.ready_phi or ():
                        manifest.add(entry)
                at_s = at_seconds(at, scenario.start, options.speed)
                for envelope in running.ready:
                    yield TimedInput(at_s, envelope)
            _park(heap, index, phase, running)
    finally:
        if handle is not None:
            handle.close()
