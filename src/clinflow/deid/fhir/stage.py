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
from typing import Any

import orjson

from clinflow.deid.fhir.io import FhirDeidRunner, parse_document
from clinflow.envelope import Envelope, SourceKind

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
    """``process(envelope) -> list[Envelope]``; non-FHIR envelopes pass through untouched."""

    name = STAGE

    def __init__(self, runner: FhirDeidRunner) -> None:
        self.runner = runner

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.source is not SourceKind.FHIR:
            return [envelope]
        label = f"message {envelope.message_id}"
        document = parse_document(envelope.payload, label)
        self.runner.engine.index.add_all(_index_pairs(document))
        audit: dict[str, Counter[str]] = {}
        out = self.runner.deidentify_document(document, label, audit)
        released = envelope.derive(orjson.dumps(out))
        self.runner.audit_deidentified(envelope.message_id, released.message_id, audit)
        return [released]
