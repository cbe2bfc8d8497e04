"""Pipeline stage: FHIR envelope in, de-identified FHIR envelope out (streams, no files).

``FhirDeidStage.process(envelope)`` de-identifies the envelope's payload (one resource or a
Bundle) with the same runner ``clinflow deid fhir`` uses on files, so both paths share the
engine, validation, quarantine of bad entries and audit. Message ids follow the DICOM stage's
rule: the AuditEvent names the input envelope's ``message_id`` and the released envelope's
(``Envelope.derive``), so the de-identification entry and the release join on one id.

The engine's patient index grows as the stream goes: a Bundle is indexed before it is
de-identified (its own Patient, practitioners and relatives become known identifiers for
the notes in it), and a Patient resource streamed on its own stays known for the notes of
that patient that arrive later in the same worker.

The work is split in two so it can run in a worker process (``clinflow.runtime.offload``,
ADR 0110): ``compute`` de-identifies and returns a picklable ``DeidOutcome`` (no store
touched: quarantine puts are recorded), ``apply`` does the side effects in the runtime's own
process (quarantine, AuditEvents, the released envelope), in input order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from clinflow.deid.fhir.io import FhirDeidRunner, RunReport, parse_document
from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import InputRejected
from clinflow.interfaces import Rejection
from clinflow.patient_ids import PATIENT_REFERENCE_FIELDS

STAGE = "deid-fhir"
# a note about no one: what ``warm_up`` de-identifies
_WARM_UP = (
    b'{"resourceType":"Bundle","type":"collection","entry":[{"resource":'
    b'{"resourceType":"DocumentReference","status":"current","content":[{"attachment":'
    b'{"contentType":"text/plain","data":"V2FybS11cCBub3RlLg=="}}]}}]}'
)


def _index_pairs(document: dict[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    if document.get("resourceType") != "Bundle":
        return [(document, None)]
    pairs = []
    entries = document.get("entry")
    for entry in entries if isinstance(entries, list) else ():  # else rejected by the runner
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            full_url = entry.get("fullUrl")
            pairs.append((entry["resource"], full_url if isinstance(full_url, str) else None))
    return pairs


@dataclass
class RecordedQuarantine:
    """A quarantine that records puts (in a worker process) for the parent to replay into
    the real one (``QuarantineSink.put``)."""

    puts: list[Rejection] = field(default_factory=list)

    def put(self, rejection: Rejection) -> int:
        self.puts.append(rejection)
        return -len(self.puts)


@dataclass
class DeidOutcome:
    """What de-identifying one FHIR envelope produced; picklable.

    ``payload`` is the de-identified document, or None when the whole document was rejected
    (``rejected`` = reason, location) or the work failed (``error`` = the exception type);
    ``audit`` the rules applied per patient pseudonym; ``quarantined`` the entries left out."""

    payload: bytes | None
    audit: dict[str, Counter[str]] = field(default_factory=dict)
    quarantined: list[Rejection] = field(default_factory=list)
    rejected: tuple[str, str] | None = None
    error: str | None = None


class StageWorkError(Exception):
    """The stage's work failed in a worker process; ``kind`` names the exception type."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class FhirDeidStage:
    """``process(envelope) -> list[Envelope]``; non-FHIR envelopes pass through untouched.

    ``patient_key(fhir_id)`` (the streaming runtime's persisted patient directory) answers
    for a ``Patient/<id>`` this process has not seen: a patient admitted before a restart,
    or on another Kafka worker before a rebalance, keeps its key (pseudonym, date shift).
    ``offload``: a pool of worker processes that run ``compute`` (the embedded runtime uses
    it when set; ``process`` stays in-process)."""

    name = STAGE

    def __init__(
        self, runner: FhirDeidRunner, patient_key: Callable[[str], str | None] | None = None
    ) -> None:
        self.runner = runner
        self.patient_key = patient_key
        self.offload: Any = None

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.source is not SourceKind.FHIR:
            return [envelope]
        return self.apply(envelope, self.compute(envelope.message_id, envelope.payload))

    def compute(self, message_id: str, payload: bytes) -> DeidOutcome:
        """De-identify one FHIR message; a whole-document rejection or failure is returned,
        not raised (a worker process sends it back)."""
        label = f"message {message_id}"
        audit: dict[str, Counter[str]] = {}
        try:
            document = parse_document(payload, label)
            out = self._deidentify(document, label, audit)
        except InputRejected as exc:
            return DeidOutcome(None, audit, self._drain(), rejected=(exc.reason, exc.location))
        except Exception as exc:  # noqa: BLE001 - reported as a stage error of this message
            return DeidOutcome(None, audit, self._drain(), error=type(exc).__name__)
        return DeidOutcome(orjson.dumps(out), audit, self._drain())

    def apply(self, envelope: Envelope, outcome: DeidOutcome | None) -> list[Envelope]:
        """The side effects of ``outcome`` in this process; raises what ``process`` raised."""
        if outcome is None or envelope.source is not SourceKind.FHIR:
            return [envelope]
        quarantine = self.runner.quarantine
        if quarantine is not None:
            for rejection in outcome.quarantined:
                quarantine.put(rejection)
        if outcome.rejected is not None:
            raise InputRejected(*outcome.rejected)
        if outcome.error is not None or outcome.payload is None:
            raise StageWorkError(outcome.error or "no output")
        released = envelope.derive(outcome.payload)
        self.runner.audit_deidentified(envelope.message_id, released.message_id, outcome.audit)
        return [released]

    def warm_up(self) -> None:
        """Load what de-identifying a first note loads lazily (name lists, NLP pipeline:
        ~0.5 s) now, so it does not pause a running stream; the counts stay untouched."""
        self.compute("warm-up", _WARM_UP)
        self.take_report()

    def take_report(self) -> RunReport:
        """The counts since the last call (a worker process sends them to its parent)."""
        report, self.runner.report = self.runner.report, RunReport()
        return report

    def _drain(self) -> list[Rejection]:
        quarantine = self.runner.quarantine
        if not isinstance(quarantine, RecordedQuarantine) or not quarantine.puts:
            return []
        puts, quarantine.puts = quarantine.puts, []
        return puts

    def _deidentify(
        self, document: dict[str, Any], label: str, audit: dict[str, Counter[str]]
    ) -> dict[str, Any]:
        pairs = _index_pairs(document)
        index = self.runner.engine.index
        if self.patient_key is not None:
            for resource, _ in pairs:
                for field_name in PATIENT_REFERENCE_FIELDS:
                    value = resource.get(field_name)
                    ref = value.get("reference") if isinstance(value, dict) else None
                    if not isinstance(ref, str) or not ref.startswith("Patient/"):
                        continue
                    patient_id = ref.removeprefix("Patient/")
                    if not index.has_patient(patient_id):
                        key = self.patient_key(patient_id)
                        if key is not None:
                            index.patient_keys[patient_id] = key
        index.add_all(pairs)
        try:
            return self.runner.deidentify_document(document, label, audit)
        finally:
            # A fullUrl resolves inside its own Bundle only (FHIR Bundle rules): forget them,
            # or a stream of vital-sign Bundles grows the index for ever. A Patient's stays:
            # it is also how the index knows the patient.
            for resource, full_url in pairs:
                if full_url is not None and resource.get("resourceType") != "Patient":
                    index.full_urls.pop(full_url, None)
