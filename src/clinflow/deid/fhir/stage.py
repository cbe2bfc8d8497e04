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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from clinflow.deid.fhir.io import FhirDeidRunner, parse_document
from clinflow.envelope import Envelope, SourceKind
from clinflow.patient_ids import PATIENT_REFERENCE_FIELDS

STAGE = "deid-fhir"


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


class FhirDeidStage:
    """``process(envelope) -> list[Envelope]``; non-FHIR envelopes pass through untouched.

    ``patient_key(fhir_id)`` (the streaming runtime's persisted patient directory) answers
    for a ``Patient/<id>`` this process has not seen: a patient admitted before a restart,
    or on another Kafka worker before a rebalance, keeps its key (pseudonym, date shift)."""

    name = STAGE

    def __init__(
        self, runner: FhirDeidRunner, patient_key: Callable[[str], str | None] | None = None
    ) -> None:
        self.runner = runner
        self.patient_key = patient_key

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.source is not SourceKind.FHIR:
            return [envelope]
        label = f"message {envelope.message_id}"
        document = parse_document(envelope.payload, label)
        pairs = _index_pairs(document)
        index = self.runner.engine.index
        if self.patient_key is not None:
            for resource, _ in pairs:
                for field in PATIENT_REFERENCE_FIELDS:
                    value = resource.get(field)
                    ref = value.get("reference") if isinstance(value, dict) else None
                    if not isinstance(ref, str) or not ref.startswith("Patient/"):
                        continue
                    patient_id = ref.removeprefix("Patient/")
                    if not index.has_patient(patient_id):
                        key = self.patient_key(patient_id)
                        if key is not None:
                            index.patient_keys[patient_id] = key
        index.add_all(pairs)
        audit: dict[str, Counter[str]] = {}
        try:
            out = self.runner.deidentify_document(document, label, audit)
        finally:
            # A fullUrl resolves inside its own Bundle only (FHIR Bundle rules): forget them,
            # or a stream of vital-sign Bundles grows the index for ever. A Patient's stays:
            # it is also how the index knows the patient.
            for resource, full_url in pairs:
                if full_url is not None and resource.get("resourceType") != "Patient":
                    index.full_urls.pop(full_url, None)
        released = envelope.derive(orjson.dumps(out))
        self.runner.audit_deidentified(envelope.message_id, released.message_id, audit)
        return [released]
