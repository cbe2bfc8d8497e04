"""Running the DICOM de-identifier over files and envelopes: quarantine and audit included.

``deidentify_tree`` is what ``clinflow deid dicom IN OUT`` runs: IN a file or a folder
(recursively), outputs mirror the input's relative paths under OUT, files that cannot be
processed go to the quarantine with a reason, and one AuditEvent per file goes to the injected
:class:`~clinflow.interfaces.AuditSink`. ``DicomDeidStage`` is the same for the pipeline:
``process(envelope) -> list[Envelope]``.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clinflow.audit import events
from clinflow.audit.buffer import BufferedSink
from clinflow.deid.dicom.engine import DeidResult, DicomDeidentifier
from clinflow.envelope import Envelope, SourceKind, content_message_id, derive_message_id
from clinflow.errors import ConfigError, InputRejected
from clinflow.interfaces import AuditSink, Rejection
from clinflow.quarantine import Quarantine, printable_location

if TYPE_CHECKING:
    from clinflow.deid.pseudonym import Pseudonymizer

STAGE = "deid-dicom"
PATIENT_ID_TAG = 0x00100020
METHOD = "dicom-ps3.15-e1-1"


@dataclass(slots=True)
class Rejected:
    location: str
    reason: str
    quarantine_id: int | None


@dataclass(slots=True)
class BatchReport:
    files: int = 0
    deidentified: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    warnings: int = 0
    burned_in_masked: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "files": self.files,
            "deidentified": self.deidentified,
            "quarantined": len(self.rejected),
            "burned_in_masked": self.burned_in_masked,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "seconds": round(self.seconds, 3),
            "pydicom_warnings": self.warnings,
            "rejected": [
                {"location": r.location, "reason": r.reason, "quarantine_id": r.quarantine_id}
                for r in self.rejected
            ],
        }


def iter_inputs(source: Path) -> Iterator[tuple[Path, str]]:
    """(path, relative location) of every file under ``source`` in a stable order."""
    if source.is_file():
        yield source, source.name
        return
    if not source.is_dir():
        raise ConfigError(f"input {source}: no such file or directory")
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            yield path, path.relative_to(source).as_posix()


def output_location(location: str, result: DeidResult, engine: DicomDeidentifier) -> str:
    """The input's relative path, with any folder or file name that is one of the file's
    identifiers (PACS exports name folders by patient id or name) replaced by a keyed token."""
    parts = Path(location).parts
    renamed = []
    for index, part in enumerate(parts):
        stem, dot, suffix = part.partition(".") if index == len(parts) - 1 else (part, "", "")
        if stem.casefold() in result.identifiers:
            stem = "X" + engine.pseudonymizer.token("path", stem, 12)
        renamed.append(stem + dot + suffix)
    return "/".join(renamed)


def _audit_success(
    sink: AuditSink, result: DeidResult, input_id: str, output: bytes, policy_hash: str
) -> None:
    """The de-identification AuditEvent: ``input_id`` in, ``derive_message_id`` of it out, so
    the entry joins the released envelope (``Envelope.derive`` uses the same rule)."""
    sink.append(
        events.deidentification(
            patient=result.patient_pseudonym,
            message_id=input_id,
            output_message_id=derive_message_id(input_id, output),
            policy_hash=policy_hash,
            method=METHOD,
            actions=dict(result.actions),
        )
    )


def _audit_rejected(
    sink: AuditSink, input_id: str, reason: str, quarantine_id: int, patient: str | None = None
) -> None:
    sink.append(
        events.validation_failure(
            message_id=input_id,
            source_kind="dicom",
            stage=STAGE,
            reason=reason,
            patient=patient,
            quarantine_id=quarantine_id,
        )
    )


def deidentify_tree(
    source: Path,
    target: Path,
    engine: DicomDeidentifier,
    quarantine: Quarantine | None = None,
    audit: AuditSink | None = None,
    progress: Callable[[int], None] | None = None,
) -> BatchReport:
    """De-identify every file under ``source`` into ``target`` (same relative paths)."""
    source, target = source.resolve(), target.resolve()
    folder = source.is_dir()
    if folder and (target == source or source in target.parents):
        raise ConfigError(f"output {target}: must not be inside the input folder")
    report = BatchReport()
    buffered = BufferedSink(audit) if audit is not None else None
    started = time.perf_counter()
    try:
        for path, location in iter_inputs(source):
            _deidentify_file(path, location, target, folder, engine, quarantine, buffered, report)
            if progress is not None:
                progress(1)
    finally:  # everything written so far has its AuditEvent, even if the run dies
        if buffered is not None:
            buffered.flush()
        report.seconds = time.perf_counter() - started
    return report


def _deidentify_file(
    path: Path,
    location: str,
    target: Path,
    folder: bool,
    engine: DicomDeidentifier,
    quarantine: Quarantine | None,
    audit: AuditSink | None,
    report: BatchReport,
) -> None:
    """One file of ``deidentify_tree``: written and audited, or quarantined with a reason
    naming the file (printable: an undecodable name is shown with ``\\xNN`` escapes). An
    error of one file never stops the run."""
    shown = printable_location(location)
    report.files += 1
    data = b""
    writing: Path | None = None
    try:
        data = path.read_bytes()
        report.bytes_in += len(data)
        output, result = engine.deidentify_bytes(data, shown)
        out_name = output_location(location, result, engine)
        out_path = target / out_name if folder else target / Path(out_name).name
        out_path.parent.mkdir(parents=True, exist_ok=True)
        writing = out_path
        out_path.write_bytes(output)
    except InputRejected as exc:
        reason = exc.reason
    except OSError as exc:  # unreadable input or unwritable output (disk full ...)
        reason = f"cannot read or write ({exc.strerror or 'I/O error'})"
        if writing is not None:
            writing.unlink(missing_ok=True)  # no half-written output left behind
    except Exception as exc:  # a defect on one input must not stop the batch
        reason = f"internal error ({type(exc).__name__}); file skipped"
    else:
        report.deidentified += 1
        report.bytes_out += len(output)
        report.warnings += result.warnings
        report.burned_in_masked += result.mask is not None
        if audit is not None:
            policy_hash = engine.policy.policy_hash
            _audit_success(audit, result, content_message_id(data), output, policy_hash)
        return
    patient = dicom_patient_pseudonym(data, engine.pseudonymizer)
    qid = (
        quarantine.put(Rejection(STAGE, shown, reason, data or None, patient))
        if quarantine is not None
        else None
    )
    report.rejected.append(Rejected(shown, reason, qid))
    if audit is not None and qid is not None:
        _audit_rejected(audit, content_message_id(data), reason, qid, patient)


def dicom_patient_pseudonym(data: bytes, pseudonymizer: Pseudonymizer) -> str | None:
    """The pseudonym of the patient a DICOM payload names by PatientID (the MRN), or None
    when it names none or cannot be read: so a rejected file can be purged on revocation."""
    if not data:
        return None
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                io.BytesIO(data), stop_before_pixels=True, force=True,
                specific_tags=[PATIENT_ID_TAG],
            )
            value = ds.get(PATIENT_ID_TAG)
            key = str(value.value).strip() if value is not None and value.value else ""
    except Exception:  # any unreadable file: no patient can be named
        return None
    return pseudonymizer.patient_pseudonym(key) if key else None


@dataclass(eq=False, repr=False)  # a pipeline stage: compared by identity
class DicomDeidStage:
    """Pipeline stage: DICOM envelope in, de-identified envelope out (or quarantined)."""

    engine: DicomDeidentifier
    quarantine: Quarantine
    audit: AuditSink | None = None

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.source is not SourceKind.DICOM:
            return [envelope]
        location = envelope.attributes.get("path", envelope.message_id)
        try:
            output, result = self.engine.deidentify_bytes(envelope.payload, location)
        except InputRejected as exc:
            named = dicom_patient_pseudonym(envelope.payload, self.engine.pseudonymizer)
            qid = self.quarantine.put(
                Rejection(STAGE, location, exc.reason, envelope.payload, envelope.patient or named)
            )
            if self.audit is not None:
                _audit_rejected(self.audit, envelope.message_id, exc.reason, qid, named)
            return []
        if self.audit is not None:
            _audit_success(
                self.audit, result, envelope.message_id, output, self.engine.policy.policy_hash
            )
        return [envelope.derive(output, patient=result.patient_pseudonym)]
