"""The load of a ``clinflow replay``: where the inputs come from, when each one is due, and
the faults woven into that schedule.

- ``open_source``: a scenario (``icu-ward`` or ``synthetic/icu-ward.yaml``: the synthetic
  cohort as a timed stream), a generated cohort folder (``clinflow generate --out``), or a
  recording (``clinflow record``). Each gives ``TimedInput`` items in the source's own time.
- ``schedule``: open loop. Every input's arrival is fixed from its index (``N/s``, with an
  optional ramp) or its source time (``xN``) before anything runs, so a slow pipeline cannot
  slow the load down and hide its latency (no coordinated omission). Faults are decided by a
  seeded RNG as the schedule is built: the same source, rate, spec and seed give the same
  schedule, message for message.

Injected inputs never carry PHI in their locations (``replay-fault/...``); a revocation
event carries only the patient's pseudonym.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from clinflow.envelope import Envelope, SourceKind, TimedInput, content_message_id, source_input
from clinflow.errors import ConfigError
from clinflow.runtime.replay_spec import Fault, FaultKind, FaultPlan, Load

REVOKE_AGENT_PATH = "replay-fault/revoke-storm"


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """A source of raw inputs in its own time; ``items()`` can be iterated more than once."""

    kind: str  # scenario | cohort | recording
    name: str  # PHI-free description (scenario name, folder or file name)
    items: Callable[[], Iterator[TimedInput]]
    manifest: Path | None  # the PHI ground truth of what it yields, when known
    header: dict[str, Any] = field(default_factory=dict)  # what a recording of it says


def open_source(text: str, *, patients: int, seed: int, manifest: Path | None) -> ReplaySource:
    """Resolve SOURCE: a recording file, a cohort folder, a scenario file or name.

    ``manifest``: where a scenario's stream writes its PHI manifest (the leak scan's ground
    truth); a cohort folder and a recording bring their own."""
    from clinflow.config import scenarios_dir
    from clinflow.runtime.recording import is_recording, read_header, read_recording

    path = Path(text)
    if is_recording(path):
        sidecar = path.with_name(path.name + ".manifest.ndjson")
        return ReplaySource(
            "recording",
            path.name,
            lambda: read_recording(path),
            sidecar if sidecar.is_file() else None,
            read_header(path),
        )
    if path.is_dir():
        return _cohort_source(path)
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        return _scenario_source(path, patients=patients, seed=seed, manifest=manifest)
    named = scenarios_dir() / f"{text}.yaml"
    if "/" not in text and named.is_file():
        return _scenario_source(named, patients=patients, seed=seed, manifest=manifest)
    known = ", ".join(sorted(p.stem for p in scenarios_dir().glob("*.yaml")))
    raise ConfigError(
        f"SOURCE {text!r}: not a recording, a cohort folder, a scenario file or a "
        f"scenario name ({known})"
    )


def _scenario_source(
    path: Path, *, patients: int, seed: int, manifest: Path | None
) -> ReplaySource:
    from clinflow.synthetic.scenario import load_scenario
    from clinflow.synthetic.stream import StreamOptions, generate_stream

    scenario = load_scenario(path)
    options = StreamOptions(
        patients=patients, seed=seed, scenario=scenario, speed=1.0, manifest=manifest
    )
    header = {
        "source": "scenario",
        "scenario": path.stem,
        "patients": patients,
        "seed": seed,
        "timing": "clinical seconds from the scenario start",
    }
    return ReplaySource("scenario", path.stem, lambda: generate_stream(options), manifest, header)


def _cohort_source(folder: Path) -> ReplaySource:
    from clinflow.runtime.pipeline import cohort_inputs, raw_envelope

    if not (folder / "fhir" / "bundles").is_dir():
        raise ConfigError(
            f"SOURCE {str(folder)!r}: a folder, but not a generated cohort "
            f"(no fhir/bundles/ in it; make one with clinflow generate --out)"
        )

    def items() -> Iterator[TimedInput]:
        for location, data, kind in cohort_inputs(folder):
            yield TimedInput(0.0, raw_envelope(location, data, kind))

    manifest = folder / "manifest.ndjson"
    header = {"source": "cohort", "timing": "none (a folder has no timing: all at 0)"}
    return ReplaySource(
        "cohort", folder.name, items, manifest if manifest.is_file() else None, header
    )


# ----- the schedule -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scheduled:
    """An input and the second (from the start of the run) it is due; ``fault`` names what
    injected it (None: a source input)."""

    at_s: float
    envelope: Envelope
    fault: FaultKind | None = None


@dataclass
class FaultLog:
    """What the faults did, for the report's timeline: every injection's scheduled time."""

    times: dict[str, list[float]] = field(default_factory=dict)
    storms: list[dict[str, Any]] = field(default_factory=list)  # at_s, patients, purposes
    revoked: dict[str, tuple[str, ...]] = field(default_factory=dict)  # pseudonym -> purposes

    def add(self, kind: FaultKind, at_s: float) -> None:
        self.times.setdefault(kind.value, []).append(at_s)

    def counts(self) -> Counter[str]:
        return Counter({kind: len(times) for kind, times in self.times.items()})


class Patients:
    """Pseudonyms of the patients admitted so far, learnt from the inputs that name them (an
    admission Bundle with its Patient), in admission order."""

    def __init__(self, pseudonym_of_mrn: Callable[[str], str]) -> None:
        self._pseudonym_of_mrn = pseudonym_of_mrn
        self._routes: dict[str, str] = {}
        self.admitted: list[str] = []

    def knows_route(self, envelope: Envelope) -> bool:
        route = envelope.attributes.get("route")
        return route is not None and route in self._routes

    def learn(self, envelope: Envelope) -> None:
        if envelope.source is not SourceKind.FHIR or self.knows_route(envelope):
            return
        if b'"Patient"' not in envelope.payload:
            return
        from clinflow.patient_ids import patient_mrn
        from clinflow.runtime.ingest import bundle_resources

        try:
            document = orjson.loads(envelope.payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(document, dict):
            return
        for resource in bundle_resources(document):
            if resource.get("resourceType") == "Patient":
                mrn = patient_mrn(resource)
                if mrn is None:
                    return
                pseudonym = self._pseudonym_of_mrn(mrn)
                if pseudonym not in self.admitted:
                    self.admitted.append(pseudonym)
                route = envelope.attributes.get("route")
                if route is not None:
                    self._routes[route] = pseudonym
                return


class FaultInjector:
    """Decides, input by input, what the fault plan adds; deterministic for a seed."""

    def __init__(self, plan: FaultPlan, seed: int, patients: Patients) -> None:
        self.plan = plan
        self.rng = random.Random(f"clinflow-replay-faults:{seed}")
        self.patients = patients
        self.log = FaultLog()
        self._malformed = 0
        self._last_event_time: datetime | None = None

    def around(self, at_s: float, envelope: Envelope) -> list[Scheduled]:
        """The source input and whatever the faults add to it (possibly later)."""
        known_before = self.patients.knows_route(envelope)
        self.patients.learn(envelope)
        self._last_event_time = envelope.event_time
        out = [Scheduled(at_s, envelope)]
        research = envelope.source in (SourceKind.FHIR, SourceKind.DICOM)
        for fault in self.plan.faults:
            if fault.kind not in (FaultKind.MALFORMED, FaultKind.DUPLICATE, FaultKind.REORDER):
                continue
            if not fault.active(at_s) or self.rng.random() >= fault.ratio:
                continue
            if fault.kind is FaultKind.MALFORMED and research:
                out.append(Scheduled(at_s, self._malformed_copy(envelope), fault.kind))
                self.log.add(fault.kind, at_s)
            elif fault.kind is FaultKind.DUPLICATE:
                out.append(Scheduled(at_s + fault.delay_s, envelope, fault.kind))
                self.log.add(fault.kind, at_s + fault.delay_s)
            elif (
                fault.kind is FaultKind.REORDER
                and known_before
                and envelope.source is SourceKind.FHIR
                and out[0].fault is None
            ):
                held = at_s + self.rng.uniform(0.1, 1.0) * fault.shift_s
                out[0] = Scheduled(held, envelope, fault.kind)
                self.log.add(fault.kind, held)
        return out

    def storm(self, fault: Fault) -> list[Scheduled]:
        """Revocation events, at the storm's time, for a share of the patients admitted."""
        admitted = self.patients.admitted
        wanted = (
            fault.patients
            if fault.patients is not None
            else round((fault.share or 0.0) * len(admitted))
        )
        chosen = self.rng.sample(admitted, min(wanted, len(admitted)))
        purposes = list(fault.purposes)
        at_time = self._last_event_time or datetime.now(UTC)
        out = []
        for number, pseudonym in enumerate(chosen):
            payload = orjson.dumps(
                {
                    "type": "revoke",
                    "purposes": purposes,
                    "retroactive": True,
                    "patient": pseudonym,
                    "requested_at_s": fault.start_s,
                }
            )
            envelope = Envelope(
                message_id=content_message_id(payload),
                source=SourceKind.CONSENT,
                patient=pseudonym,  # already pseudonymous: ingest passes it on as it is
                payload=payload,
                event_time=at_time,
                attributes={"path": f"{REVOKE_AGENT_PATH}#{number}", "format": "revoke-event"},
            )
            out.append(Scheduled(fault.start_s, envelope, fault.kind))
            self.log.revoked[pseudonym] = tuple(purposes)
        self.log.storms.append(
            {
                "at_s": fault.start_s,
                "patients": len(chosen),
                "admitted": len(admitted),
                "purposes": purposes or ["all"],
            }
        )
        self.log.add(fault.kind, fault.start_s)
        return out

    def _malformed_copy(self, envelope: Envelope) -> Envelope:
        """An undecodable input of the same kind: truncated JSON, or bytes that are no DICOM."""
        self._malformed += 1
        number = self._malformed
        route = envelope.attributes.get("route")
        if envelope.source is SourceKind.DICOM:
            data = b"\x00" * 64 + b"replay fault %d: not a DICOM file" % number
            return source_input(
                data,
                SourceKind.DICOM,
                envelope.event_time,
                f"replay-fault/malformed-{number}.dcm",
                "dicom",
                route,
            )
        cut = envelope.payload[: max(1, len(envelope.payload) // 2)]
        data = cut + b"\n#replay fault %d: truncated" % number
        return source_input(
            data,
            SourceKind.FHIR,
            envelope.event_time,
            f"replay-fault/malformed-{number}.json",
            "fhir-json",
            route,
        )


@dataclass
class ScheduleState:
    """Filled in as the schedule is consumed."""

    base: int = 0  # source inputs scheduled
    exhausted: bool = False  # the source ended before the duration did
    last_at_s: float = 0.0


def schedule(
    items: Iterator[TimedInput],
    load: Load,
    injector: FaultInjector,
    *,
    duration_s: float | None,
    state: ScheduleState,
) -> Iterator[Scheduled]:
    """Inputs in order of arrival, faults included (see the module docstring)."""
    later: list[tuple[float, int, Scheduled]] = []  # held back: duplicates, reordered inputs
    storms = sorted(injector.plan.of(FaultKind.REVOKE_STORM), key=lambda f: f.start_s)
    sequence = 0

    def due(until: float) -> Iterator[Scheduled]:
        nonlocal storms
        while True:
            next_later = later[0][0] if later else None
            next_storm = storms[0].start_s if storms else None
            candidates = [t for t in (next_later, next_storm) if t is not None and t <= until]
            if not candidates:
                return
            if next_storm is not None and next_storm == min(candidates):
                fault, storms = storms[0], storms[1:]
                yield from injector.storm(fault)
            else:
                yield heapq.heappop(later)[2]

    for index, item in enumerate(items):
        at_s = load.arrival(index, item.at_s)
        if duration_s is not None and at_s >= duration_s:
            break
        yield from due(at_s)
        state.base += 1
        state.last_at_s = at_s
        for scheduled in injector.around(at_s, item.envelope):
            if scheduled.at_s <= at_s:
                yield scheduled
            else:
                sequence += 1
                heapq.heappush(later, (scheduled.at_s, sequence, scheduled))
    else:
        state.exhausted = True
    limit = duration_s if duration_s is not None else float("inf")
    storms = [s for s in storms if s.start_s < limit]
    yield from due(float("inf"))


def arrival_envelope(scheduled: Scheduled, start: datetime) -> Envelope:
    """The envelope as it arrives: ``ingest_time`` is its SCHEDULED arrival, so time spent
    waiting for a busy pipeline counts in its latency."""
    from datetime import timedelta

    return replace(scheduled.envelope, ingest_time=start + timedelta(seconds=scheduled.at_s))
