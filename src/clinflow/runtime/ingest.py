"""Ingest for the embedded runtime: cohort files in, ``Envelope``s out, bad inputs quarantined.

Each input file becomes one envelope whose ``patient`` is the keyed pseudonym of the
patient's MRN (``Pseudonymizer``), whose ``message_id`` is the content hash (the idempotency
key: the same bytes always get the same id, as ``clinflow deid dicom`` audits them), and whose
``attributes["path"]`` is the path relative to the cohort (kept in the runtime, never released).
Every accepted input gets an ingest AuditEvent; every rejected one goes to the quarantine with a
validation-failure AuditEvent naming the stage and the reason, never a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from clinflow.audit import events as audit_events
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.envelope import Envelope, SourceKind, content_message_id
from clinflow.errors import InputRejected
from clinflow.interfaces import AuditSink
from clinflow.patient_ids import patient_mrn
from clinflow.quarantine import Quarantine

STAGE = "ingest"
VITAL_SIGNS = "vital-signs"
NOTE_TYPE = "DocumentReference"

_Parsed = TypeVar("_Parsed")


@dataclass(frozen=True, slots=True)
class PatientBundle:
    """One patient's FHIR Bundle as ingested, with what the later stages pick from it."""

    envelope: Envelope
    fhir_id: str
    vitals: tuple[dict[str, Any], ...]
    notes: int
    consents: int


@dataclass
class IngestReport:
    bundles: list[PatientBundle] = field(default_factory=list)
    dicom: list[Envelope] = field(default_factory=list)
    inputs: Counter[str] = field(default_factory=Counter)  # kind -> count
    quarantined: list[str] = field(default_factory=list)  # "location: reason", never PHI


def _is_vital_sign(resource: Mapping[str, Any]) -> bool:
    for category in resource.get("category") or []:
        for coding in category.get("coding") or []:
            if coding.get("code") == VITAL_SIGNS:
                return True
    return False


def _latest_time(resources: list[dict[str, Any]]) -> datetime | None:
    times = [r.get("effectiveDateTime") for r in resources]
    parsed = [datetime.fromisoformat(t) for t in times if isinstance(t, str)]
    return max(parsed) if parsed else None


class Ingest:
    """Reads a generated cohort folder (``fhir/bundles/*.json`` and ``dicom/**``)."""

    def __init__(
        self, pseudonymizer: Pseudonymizer, quarantine: Quarantine, audit: AuditSink
    ) -> None:
        self.pseudonymizer = pseudonymizer
        self.quarantine = quarantine
        self.audit = audit

    def run(self, cohort: Path) -> IngestReport:
        report = IngestReport()
        for path in sorted((cohort / "fhir" / "bundles").glob("*.json")):
            bundle = self._read(report, cohort, path, self._bundle)
            if bundle is None:
                continue
            report.bundles.append(bundle)
            report.inputs["fhir-bundle"] += 1
            report.inputs["vital-sign-observation"] += len(bundle.vitals)
            report.inputs["note"] += bundle.notes
            report.inputs["consent"] += bundle.consents
            self._accepted(bundle.envelope)
        for path in self._dicom_files(cohort):
            envelope = self._read(report, cohort, path, self._dicom)
            if envelope is None:
                continue
            report.dicom.append(envelope)
            report.inputs["dicom"] += 1
            self._accepted(envelope)
        return report

    @staticmethod
    def _dicom_files(cohort: Path) -> Iterator[Path]:
        root = cohort / "dicom"
        if root.is_dir():
            yield from (path for path in sorted(root.rglob("*")) if path.is_file())

    def _read(
        self,
        report: IngestReport,
        cohort: Path,
        path: Path,
        parse: Callable[[bytes, str], _Parsed],
    ) -> _Parsed | None:
        """Read one input file and parse it; a rejected input is quarantined and gives None."""
        location = path.relative_to(cohort).as_posix()
        data = path.read_bytes()
        try:
            return parse(data, location)
        except InputRejected as exc:
            self._reject(report, data, exc, location)
            return None

    # ----- one input ------------------------------------------------------------------------
    def _bundle(self, data: bytes, location: str) -> PatientBundle:
        try:
            bundle = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputRejected("invalid JSON", location) from exc
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise InputRejected("not a FHIR Bundle", location)
        resources = [
            entry["resource"]
            for entry in bundle.get("entry") or []
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)
        ]
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        if len(patients) != 1:
            raise InputRejected("expected exactly one Patient resource", f"{location} Bundle")
        mrn = patient_mrn(patients[0])
        if mrn is None:
            raise InputRejected("Patient has no MR identifier", f"{location} Patient.identifier")
        fhir_id = str(patients[0].get("id", ""))
        pseudonym = self.pseudonymizer.patient_pseudonym(mrn)
        vitals = [
            r for r in resources if r.get("resourceType") == "Observation" and _is_vital_sign(r)
        ]
        envelope = Envelope(
            message_id=content_message_id(data),
            source=SourceKind.FHIR,
            patient=pseudonym,
            payload=data,
            event_time=_latest_time(vitals) or datetime.now(UTC),
            attributes={"path": location, "category": "fhir"},
        )
        return PatientBundle(
            envelope=envelope,
            fhir_id=fhir_id,
            vitals=tuple(vitals),
            notes=sum(1 for r in resources if r.get("resourceType") == NOTE_TYPE),
            consents=sum(1 for r in resources if r.get("resourceType") == "Consent"),
        )

    def _dicom(self, data: bytes, location: str) -> Envelope:
        from io import BytesIO

        from pydicom import dcmread
        from pydicom.errors import InvalidDicomError

        try:
            ds = dcmread(BytesIO(data), stop_before_pixels=True)
            patient_id = str(ds.get("PatientID", "") or "")
            modality = str(ds.get("Modality", "") or "")
        except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
            reason = f"not a readable DICOM file ({type(exc).__name__})"
            raise InputRejected(reason, location) from exc
        if not patient_id:
            raise InputRejected("no PatientID", f"{location} (0010,0020)")
        attributes = {"path": location, "category": "dicom"}
        if modality:
            attributes["modality"] = modality
        return Envelope(
            message_id=content_message_id(data),
            source=SourceKind.DICOM,
            patient=self.pseudonymizer.patient_pseudonym(patient_id),
            payload=data,
            event_time=datetime.now(UTC),
            attributes=attributes,
        )

    # ----- audit and quarantine ---------------------------------------------------------------
    def _accepted(self, envelope: Envelope) -> None:
        self.audit.append(
            audit_events.ingest(
                patient=envelope.patient,
                message_id=envelope.message_id,
                source_kind=envelope.source.value,
            )
        )

    def _reject(
        self, report: IngestReport, data: bytes, exc: InputRejected, location: str
    ) -> None:
        where = exc.location or location
        quarantine_id = self.quarantine.put(STAGE, where, exc.reason, payload=data)
        report.quarantined.append(f"{where}: {exc.reason}")
        self.audit.append(
            audit_events.validation_failure(
                message_id=content_message_id(data),
                stage=STAGE,
                reason=exc.reason,
                quarantine_id=quarantine_id,
            )
        )


def vitals_for_treatment(bundle: PatientBundle) -> Envelope | None:
    """The bundle's vital-sign Observations for the ICU endpoint, subject = the pseudonym.

    Treatment data is identified data for a covered purpose, but the endpoint only ever sees the
    pseudonym: the subject reference is rewritten here and the minimum-necessary stage strips
    everything else the endpoint may not receive.
    """
    if not bundle.vitals:
        return None
    subject = {"reference": f"Patient/{bundle.envelope.patient}"}
    observations = [{**resource, "subject": subject} for resource in bundle.vitals]
    observations.sort(key=lambda r: str(r.get("effectiveDateTime", "")))
    return bundle.envelope.derive(
        orjson.dumps(observations),
        purpose="TREAT",
        attributes={"category": "vital-signs", "path": bundle.envelope.attributes["path"]},
    )
