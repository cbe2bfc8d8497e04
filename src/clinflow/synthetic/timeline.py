"""One patient's record as phases of timed steps: the builder files and the stream share.

A phase (admission, consents, vitals, labs, infusions, notes, clinical, imaging) is a
generator that adds resources to a ``PatientFhir`` sink and yields ``Step``s saying when they
happened:

- ``Wake(at)``: nothing built yet; do not resume me before ``at`` (the timed stream keeps a
  phase parked in its heap without building ahead);
- ``Emit(at, ...)``: what I added to the sink since the last ``Emit``, plus ``dicom`` if
  given, happened at ``at`` (non-decreasing within a phase).

``clinflow.synthetic.generator`` runs every phase of a patient to the end into one sink and
writes the Bundle, the ndjson lines and the DICOM files; ``clinflow.synthetic.stream`` runs
the phases of all patients interleaved by time, each into its own sink, and hands every step
out as source envelopes. Both therefore produce the same resources and manifest entries.

Each phase draws from its own RNG, derived from (seed, patient index, phase name): a phase
can be built when it is due, alone, without replaying the phases drawn before it, and
nothing of a patient is kept between steps but the generator frames and the ``Patient``
(see docs/adr/0061-generator-timed-stream.md).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from clinflow.synthetic.clinical import ClinicalEvent, ClinicalPlan
from clinflow.synthetic.dicom.imaging import BuiltFile, ImagingEvent, StudyStart
from clinflow.synthetic.fhir import billing, clinical
from clinflow.synthetic.fhir import resources as fhir
from clinflow.synthetic.fhir.imaging import imaging_study
from clinflow.synthetic.fhir.infusions import norepinephrine_administration
from clinflow.synthetic.fhir.labs import lab_observations
from clinflow.synthetic.fhir.registration import (
    RegistrationPlan,
    duplicate_mrn,
    duplicate_patient,
    merge_patient,
)
from clinflow.synthetic.fhir.vitals import vital_blocks
from clinflow.synthetic.infusions import rate_records
from clinflow.synthetic.labs import lab_sets
from clinflow.synthetic.manifest import PhiKind, Subject
from clinflow.synthetic.model import Patient, StudyRecord
from clinflow.synthetic.notes import write_note
from clinflow.synthetic.population import make_patient
from clinflow.synthetic.scenario import Scenario
from clinflow.synthetic.vitals import trajectory


@dataclass(frozen=True, slots=True)
class Wake:
    at: datetime


@dataclass(frozen=True, slots=True)
class Emit:
    at: datetime
    dicom: BuiltFile | None = None
    bundle: str | None = None  # stream: send this step's resources as one transaction Bundle


Step = Wake | Emit


class ImagingBuilder(Protocol):
    """The DICOM generator's lazy entry point (``iter_imaging_for_patient``)."""

    def __call__(
        self,
        patient: Patient,
        rng: random.Random,
        study_time: datetime,
        modalities: Sequence[str],
        burned_in_fraction: float,
    ) -> Iterator[ImagingEvent]: ...


@dataclass(frozen=True, slots=True)
class PatientTimeline:
    """Patient ``index`` of a cohort and what its phases need (cheap: no resources)."""

    seed: int
    scenario: Scenario
    patient: Patient
    imaging: ImagingBuilder | None

    @classmethod
    def of(
        cls, seed: int, index: int, scenario: Scenario, imaging: ImagingBuilder | None
    ) -> PatientTimeline:
        patient, _ = make_patient(seed, index, scenario)
        return cls(seed, scenario, patient, imaging)

    def rng(self, phase: str) -> random.Random:
        """The phase's own generator: depends only on (seed, index, phase)."""
        material = f"clinflow-synthetic:{self.seed}:{self.patient.index}:{phase}".encode()
        return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:16], "big"))

    @property
    def encounter_id(self) -> str:
        return f"{self.patient.fhir_id}-enc"

    @property
    def bundle_file(self) -> str:
        return f"fhir/bundles/{self.patient.fhir_id}.json"

    @property
    def updates_file(self) -> str:
        """Where later updates (consent withdrawals) of the patient's resources are named."""
        return f"fhir/updates/{self.patient.fhir_id}.ndjson"

    @property
    def discharged(self) -> datetime:
        return self.patient.admitted_at + timedelta(hours=self.scenario.vitals_hours)


PhaseBuild = Callable[[PatientTimeline, fhir.PatientFhir], Iterator[Step]]


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    build: PhaseBuild
    updates: bool = False  # True: not part of the record files (stream-only updates)


# ----------------------------------------------------------------------------- admission


def admission(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """Patient and Encounter at admission (the stream sends them as one Bundle)."""
    fhir.patient_resource(out)
    fhir.encounter_resource(out, tl.encounter_id, tl.discharged)
    yield Emit(tl.patient.admitted_at, bundle=f"admission-{tl.patient.fhir_id}")


# ----------------------------------------------------------------------------- consent


@dataclass(frozen=True, slots=True)
class ConsentPlan:
    decisions: tuple[tuple[str, str, bool], ...]  # (purpose, consent id, permit)
    revocations: tuple[dict[str, str], ...]  # labels.json entries

    @property
    def permitted(self) -> list[str]:
        return [purpose for purpose, _, permit in self.decisions if permit]


def consent_plan(tl: PatientTimeline) -> ConsentPlan:
    """Per purpose: permit or deny; which research permits get revoked (and when)."""
    rng = tl.rng("consent")
    settings = tl.scenario.consent
    p = tl.patient
    revoke_at = tl.scenario.start + timedelta(hours=settings.revocation_after_hours)
    r5 = tl.scenario.fhir_version == "R5"
    decisions = []
    revocations = []
    # R5: one Consent per patient, base decision deny, one permit exception per opted-in
    # purpose (R5 `provision` is an exception to `decision`, ADR 0040). R4B: one per purpose.
    for purpose, probability in settings.permit_probability.items():
        consent_id = f"{p.fhir_id}-consent" if r5 else f"{p.fhir_id}-consent-{purpose.lower()}"
        permit = rng.random() < probability
        decisions.append((purpose, consent_id, permit))
        if (
            permit
            and purpose == settings.revocation_purpose
            and rng.random() < settings.revocation_fraction
        ):
            revocations.append(
                {
                    "patient": p.fhir_id,
                    "mrn": p.mrn,
                    "consent": consent_id,
                    "purpose": purpose,
                    "revoke_at": fhir.iso(revoke_at),
                }
            )
    return ConsentPlan(tuple(decisions), tuple(revocations))


def consents(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """The consents signed at admission."""
    plan = consent_plan(tl)
    signed = tl.patient.admitted_at
    if tl.scenario.fhir_version == "R5":
        fhir.consent_resource_r5(out, f"{tl.patient.fhir_id}-consent", plan.permitted, signed)
    else:
        for purpose, consent_id, permit in plan.decisions:
            fhir.consent_resource(out, consent_id, purpose, permit, signed)
    yield Emit(signed)


def consent_withdrawals(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """The scheduled revocations as Consent updates with status ``inactive`` (stream only).

    ``clinflow.consent`` sweeps what an active-to-inactive update withdraws, i.e. every
    purpose the old consent permitted that the registry no longer permits. R4B: the
    per-purpose consent becomes inactive, which withdraws exactly that purpose. R5 has one
    consent for all purposes, so the patient first signs a replacement without the revoked
    purpose (``<id>-r1``) and then the old one becomes inactive: only that purpose is lost.
    A revocation scheduled before the admission happens at the admission.
    """
    plan = consent_plan(tl)
    p = tl.patient
    for revocation in plan.revocations:
        at = max(datetime.fromisoformat(revocation["revoke_at"]), p.admitted_at)
        yield Wake(at)
        purpose, consent_id = revocation["purpose"], revocation["consent"]
        if tl.scenario.fhir_version == "R5":
            remaining = [kept for kept in plan.permitted if kept != purpose]
            fhir.consent_resource_r5(out, f"{consent_id}-r1", remaining, at)
            fhir.consent_resource_r5(
                out, consent_id, plan.permitted, p.admitted_at, status="inactive"
            )
        else:
            fhir.consent_resource(
                out, consent_id, purpose, True, p.admitted_at, status="inactive"
            )
        yield Emit(at)


# ----------------------------------------------------------------------------- vitals


def vitals(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """One charting time's 7 Observations per step, every ``vitals_interval_minutes``; the
    stream sends each set as one message (a transaction Bundle, as an interface engine
    delivers a monitor's ORU^R01 with one OBX per vital sign)."""
    p, scenario = tl.patient, tl.scenario
    interval = timedelta(minutes=scenario.vitals_interval_minutes)
    blocks = vital_blocks(
        p.fhir_id,
        tl.encounter_id,
        trajectory(
            tl.rng("vitals"),
            p.admitted_at,
            scenario.vitals_points,
            scenario.vitals_interval_minutes,
            p.deterioration_onset,
            p.extra.get("pattern"),
        ),
    )
    for point in range(scenario.vitals_points):
        at = p.admitted_at + interval * point
        yield Wake(at)
        block = next(blocks)
        out.add_block("Observation", block)
        if block.first_of_day:
            out.plant(
                f"Observation/{block.first_id}",
                "effectiveDateTime",
                block.at,
                PhiKind.DATE,
                Subject.PATIENT,
                "first vital sign of the day (all vitals of the patient share these dates)",
            )
        del block  # parked generators keep nothing of what they built
        yield Emit(at, bundle=f"vitals-{p.fhir_id}-{point:04d}")


# ----------------------------------------------------------------------------- labs


def labs(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """Each blood draw's results (``clinflow.synthetic.labs``) as one message: a transaction
    Bundle of laboratory Observations, as a lab system sends one ORU^R01 per order."""
    p, scenario = tl.patient, tl.scenario
    if scenario.labs_interval_hours <= 0:
        return
    sets = lab_sets(
        tl.rng("labs"),
        p.admitted_at,
        tl.discharged,
        scenario.labs_interval_hours,
        p.deterioration_onset,
        p.extra.get("pattern"),
    )
    yield from _daily_messages(
        tl, sets, "labs",
        lambda lab_set, plant: lab_observations(out, tl.encounter_id, lab_set, plant_date=plant),
    )  # fmt: skip


# ----------------------------------------------------------------------------- infusions


def infusions(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """A septic patient's norepinephrine pump records (``clinflow.synthetic.infusions``), each
    one message: a transaction Bundle of one MedicationAdministration."""
    p, scenario = tl.patient, tl.scenario
    if scenario.vasopressor_record_minutes <= 0:
        return
    records = rate_records(
        tl.rng("infusions"),
        tl.discharged,
        scenario.vasopressor_record_minutes,
        p.deterioration_onset,
        p.extra.get("pattern"),
    )
    yield from _daily_messages(
        tl, records, "infusion",
        lambda record, plant: norepinephrine_administration(
            out, tl.encounter_id, record, plant_date=plant
        ),
    )  # fmt: skip


class _Timed(Protocol):
    @property
    def at(self) -> datetime: ...
    @property
    def number(self) -> int: ...


_T = TypeVar("_T", bound=_Timed)


def _daily_messages(
    tl: PatientTimeline, items: Iterable[_T], kind: str, write: Callable[[_T, bool], object]
) -> Iterator[Step]:
    """Each item (a lab draw, a pump record) as one message at its time, written by ``write``;
    the first of each clinical day plants its date in the manifest (``plant`` True)."""
    days: set[object] = set()
    for item in items:
        yield Wake(item.at)
        day = item.at.date()
        write(item, day not in days)
        days.add(day)
        yield Emit(item.at, bundle=f"{kind}-{tl.patient.fhir_id}-{item.number:03d}")


# ----------------------------------------------------------------------------- registration


def registration_plan(tl: PatientTimeline) -> RegistrationPlan | None:
    """Whether the patient is registered twice; when the duplicate is made and merged."""
    fraction = tl.scenario.duplicate_registration_fraction
    if fraction <= 0:
        return None
    rng = tl.rng("registration")
    if rng.random() >= fraction:
        return None
    p = tl.patient
    stay_minutes = max(2, int(tl.scenario.vitals_hours * 60))
    registered = p.admitted_at + timedelta(minutes=rng.randint(5, max(5, stay_minutes // 4)))
    merged = registered + timedelta(minutes=rng.randint(30, max(30, stay_minutes // 2)))
    return RegistrationPlan(
        registered=registered,
        merged=min(merged, tl.discharged),
        duplicate_id=f"{p.fhir_id}-dup",
        duplicate_mrn=duplicate_mrn(tl.seed, p.index),
    )


def duplicate_registration(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """A duplicate record of the patient, then its merge into the patient's own (stream
    only: ``clinflow.synthetic.fhir.registration``)."""
    plan = registration_plan(tl)
    if plan is None:
        return
    yield Wake(plan.registered)
    duplicate_patient(out, plan)
    yield Emit(plan.registered)
    yield Wake(plan.merged)
    merge_patient(out, plan)
    yield Emit(plan.merged)


# ----------------------------------------------------------------------------- notes


def notes(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """DocumentReferences spread evenly over the stay, each from its own RNG."""
    p, scenario = tl.patient, tl.scenario
    count = scenario.notes_per_patient
    for number in range(count):
        written = p.admitted_at + timedelta(
            hours=scenario.vitals_hours * (number + 1) / (count + 1)
        )
        written -= timedelta(seconds=written.second, microseconds=written.microsecond)
        yield Wake(written)
        type_code, note = write_note(p, tl.rng(f"note:{number}"), written)
        fhir.document_reference(
            out, f"{p.fhir_id}-note-{number}", tl.encounter_id, type_code, note, written
        )
        yield Emit(written)


# ----------------------------------------------------------------------------- clinical


def clinical_record(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """Conditions, medication orders, a diagnostic report, the claim and the payer's EOB."""
    pid = tl.patient.fhir_id
    plan = ClinicalPlan.draw(tl.rng("clinical"), tl.patient, tl.discharged)
    discharged = fhir.iso(tl.discharged)
    for at, event, number in plan.events:
        yield Wake(at)
        if event is ClinicalEvent.CONDITION:
            clinical.condition_resource(out, f"{pid}-cond-{number}", tl.encounter_id, plan, number)
        elif event is ClinicalEvent.MEDICATION:
            clinical.medication_request(
                out, f"{pid}-medrx-{number}", tl.encounter_id, plan, number, f"{pid}-cond-0"
            )
        elif event is ClinicalEvent.REPORT:
            clinical.diagnostic_report(
                out, f"{pid}-report-0", tl.encounter_id, plan, tl.rng("report")
            )
        elif event is ClinicalEvent.CLAIM:
            billing.claim_resource(out, f"{pid}-claim", plan, discharged)
        else:
            billing.explanation_of_benefit(out, f"{pid}-eob", f"{pid}-claim", plan, discharged)
        yield Emit(at)


# ----------------------------------------------------------------------------- imaging


def _pick_modalities(rng: random.Random, scenario: Scenario) -> list[str]:
    names = list(scenario.modality_mix)
    weights = [scenario.modality_mix[name] for name in names]
    count = 1 if rng.random() < 0.7 else 2
    return [rng.choices(names, weights)[0] for _ in range(count)]


def imaging(tl: PatientTimeline, out: fhir.PatientFhir) -> Iterator[Step]:
    """Some patients get studies: each instance when acquired, then the ImagingStudy."""
    p, scenario = tl.patient, tl.scenario
    if tl.imaging is None:
        return
    plan = tl.rng("imaging-plan")  # whether and when: known at admission, nothing else drawn
    if plan.random() >= scenario.imaging_fraction:
        return
    study_time = p.admitted_at + timedelta(minutes=plan.randint(20, 180))
    del plan
    yield Wake(study_time)
    rng = tl.rng("imaging")
    modalities = _pick_modalities(rng, scenario)
    events = tl.imaging(p, rng, study_time, modalities, scenario.burned_in_fraction)
    sop_classes: dict[str, str] = {}
    last = study_time
    number = 0
    for event in events:
        if isinstance(event, StudyStart):
            last = max(last, event.started)
            yield Wake(last)
        elif isinstance(event, BuiltFile):
            meta = event.dataset.file_meta
            sop_classes[str(meta.MediaStorageSOPInstanceUID)] = str(meta.MediaStorageSOPClassUID)
            last = max(last, event.acquired or last)
            yield Emit(last, dicom=event)
        elif isinstance(event, StudyRecord):
            imaging_study(out, f"{p.fhir_id}-img-{number}", tl.encounter_id, event, sop_classes)
            number += 1
            sop_classes = {}
            yield Emit(last)


RECORD_PHASES = (
    Phase("admission", admission),
    Phase("consent", consents),
    Phase("vitals", vitals),
    Phase("notes", notes),
    Phase("clinical", clinical_record),
    Phase("imaging", imaging),
    Phase("labs", labs),
    Phase("infusions", infusions),
)
STREAM_PHASES = (
    *RECORD_PHASES,
    Phase("consent-update", consent_withdrawals, updates=True),
    Phase("registration", duplicate_registration, updates=True),
)
