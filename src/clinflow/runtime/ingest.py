"""Ingest as a stream stage: raw source inputs in, pseudonymous envelopes out.

A source (generator stream, folder watcher, Kafka producer) hands the runtime RAW envelopes:
``patient`` empty, ``attributes["path"]`` a PHI-free location, ``message_id`` the content
hash (the idempotency key: the same bytes always get the same id, as ``clinflow deid dicom``
audits them). ``IngestStage`` parses each one, finds its patient and emits it with the keyed
pseudonym of the patient's MRN (``Pseudonymizer``) and its data categories:

- a FHIR Bundle (one patient's record, as an EHR export drops it) → one envelope per
  Consent in it (source ``consent``, ahead of the rest, so the registry knows them before the
  Bundle's data reaches a gate) and the Bundle itself (source ``fhir``);
- one FHIR resource (a streamed feed) → one envelope; a Patient makes its id known, later
  resources find their patient through ``subject``/``patient``/``beneficiary``;
- a Patient with ``link`` type ``replaces`` (HL7 v2 ADT^A40) merges the linked record into
  this one (ADR 0102): recorded in the deployment's merge index and audited once; inputs that
  still carry a merged record's MRN are attributed to the surviving patient;
- a DICOM instance → one envelope (``PatientID`` is the patient key, as in the DICOM
  de-identifier).

Every accepted input gets an ingest AuditEvent; a bad one raises ``InputRejected`` with a
PHI-free reason, which the runtime quarantines and audits.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clinflow.audit import events as audit_events
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.envelope import Envelope, SourceKind, content_message_id
from clinflow.errors import InputRejected
from clinflow.interfaces import AuditSink
from clinflow.patient_ids import PATIENT_REFERENCE_FIELDS, PSEUDONYM_RE, patient_mrn
from clinflow.patient_merges import PatientMerges
from clinflow.sqlite_store import open_wal

STAGE = "ingest"
VITAL_SIGNS = "vital-signs"
LABORATORY = "laboratory"


def is_vital_sign(resource: Mapping[str, Any]) -> bool:
    return has_category(resource, VITAL_SIGNS)


def is_laboratory(resource: Mapping[str, Any]) -> bool:
    return has_category(resource, LABORATORY)


def has_category(resource: Mapping[str, Any], wanted: str) -> bool:
    """An Observation with a category coding of code ``wanted``."""
    if resource.get("resourceType") != "Observation":
        return False
    categories = resource.get("category")
    # Elements of the wrong JSON type (fuzzing, issue 13) are not vital signs, not crashes.
    for category in categories if isinstance(categories, list) else ():
        codings = category.get("coding") if isinstance(category, dict) else None
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict) and coding.get("code") == wanted:
                return True
    return False


def vital_signs_in(payload: bytes) -> int:
    """Vital-sign Observations a raw FHIR input carries (a charting time's set of 7 arrives
    as one message, as a monitor's ORU^R01 does): what load figures count "vitals/s" in."""
    if b"vital-signs" not in payload:
        return 0
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return 0
    if not isinstance(document, dict):
        return 0
    return sum(is_vital_sign(resource) for resource in bundle_resources(document))


def bundle_resources(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The resources of a Bundle, or the document itself when it is one resource."""
    if document.get("resourceType") != "Bundle":
        yield dict(document)
        return
    entries = document.get("entry")
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            yield entry["resource"]


def _event_time(resources: list[dict[str, Any]]) -> datetime:
    times = []
    for resource in resources:
        value = resource.get("effectiveDateTime") or resource.get("date")
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            times.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return max(times) if times else datetime.now(UTC)


ROUTE_ATTR = "route"  # set by sources: a PHI-free key of the source patient (partitioning)
# set by sources that know their sending system (a FHIR server's base URL, an MLLP port):
# named in each ingest AuditEvent; PHI-free (no query values, no credentials)
SOURCE_SYSTEM_ATTR = "source_system"


def route_key(envelope: Envelope) -> str:
    """Partition key of a raw input: the source's patient route, so one patient's inputs stay
    in order on one partition before ingest knows the pseudonym; else the message id."""
    return envelope.attributes.get(ROUTE_ATTR) or envelope.patient or envelope.message_id


_DIRECTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS patient_refs (
    ref_token TEXT PRIMARY KEY,
    pseudonym TEXT NOT NULL,
    sealed_key BLOB
) WITHOUT ROWID;
"""
_SEAL_DOMAIN = "patient-directory-key"


class PatientDirectory:
    """FHIR ``Patient/<id>`` → pseudonym and patient key (MRN), learnt from Patient resources,
    kept in SQLite so a restarted or rebalanced worker still resolves references and its FHIR
    de-identifier still knows the patient key (pseudonym, date shift) of a patient admitted
    before it started. Ids are stored as keyed tokens, never as themselves; the MRN is sealed
    (AES-256-GCM under a key derived from the project key, bound to its token). A small
    in-memory cache serves the hot path."""

    def __init__(self, path: Path | None, pseudonymizer: Pseudonymizer) -> None:
        self._conn = open_wal(path, _DIRECTORY_SCHEMA) if path is not None else None
        if self._conn is not None:
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(patient_refs)")}
            if "sealed_key" not in columns:  # a ledger.db written before keys were kept
                with contextlib.suppress(sqlite3.OperationalError):  # another process did it
                    self._conn.execute("ALTER TABLE patient_refs ADD COLUMN sealed_key BLOB")
        self._pseudonymizer = pseudonymizer
        self._aead = AESGCM(pseudonymizer.digest(_SEAL_DOMAIN, "aes-256-gcm"))
        self._cache: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def token(self, fhir_id: str) -> str:
        """The keyed token a ``Patient/<id>`` is stored under (never the id itself)."""
        return self._pseudonymizer.token("ingest-patient-ref", fhir_id, 24)

    def remember(self, token: str, pseudonym: str, patient_key: str | None = None) -> None:
        if self._cache.get(token) == pseudonym and (
            patient_key is None or self._keys.get(token) == patient_key
        ):
            return
        self._cache[token] = pseudonym
        sealed = None
        if patient_key is not None:
            self._keys[token] = patient_key
            nonce = os.urandom(12)
            sealed = nonce + self._aead.encrypt(nonce, patient_key.encode(), token.encode())
        if self._conn is not None:
            with self._lock:
                self._conn.execute(
                    "INSERT OR REPLACE INTO patient_refs VALUES (?, ?, ?)",
                    (token, pseudonym, sealed),
                )

    def patient_key(self, fhir_id: str) -> str | None:
        """The patient key (MRN) of ``Patient/<fhir_id>`` if a Patient with that id was
        ingested by any process on this data dir; None otherwise."""
        token = self.token(fhir_id)
        found = self._keys.get(token)
        if found is not None or self._conn is None:
            return found
        with self._lock:
            row = self._conn.execute(
                "SELECT sealed_key FROM patient_refs WHERE ref_token = ?", (token,)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        sealed = bytes(row[0])
        try:
            found = self._aead.decrypt(sealed[:12], sealed[12:], token.encode()).decode()
        except InvalidTag:
            return None  # sealed under another project key: not ours to use
        self._keys[token] = found
        return found

    def lookup(self, token: str) -> str | None:
        found = self._cache.get(token)
        if found is None and self._conn is not None:
            with self._lock:
                row = self._conn.execute(
                    "SELECT pseudonym FROM patient_refs WHERE ref_token = ?", (token,)
                ).fetchone()
            if row is not None:
                found = self._cache[token] = str(row[0])
        return found

    def knows(self, pseudonym: str) -> bool:
        """True when a Patient with this pseudonym was ingested (by any process here)."""
        if pseudonym in self._cache.values():
            return True
        if self._conn is None:
            return False
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM patient_refs WHERE pseudonym = ? LIMIT 1", (pseudonym,)
            ).fetchone()
        return row is not None

    def close(self) -> None:
        if self._conn is not None:
            with self._lock:
                self._conn.close()


class IngestStage:
    """``process(raw envelope) -> [envelopes]`` with the patient's pseudonym filled in."""

    name = STAGE

    def __init__(
        self,
        pseudonymizer: Pseudonymizer,
        audit: AuditSink,
        directory: PatientDirectory | None = None,
        merges: PatientMerges | None = None,
        on_merge: Callable[[str, str], object] | None = None,
    ) -> None:
        self.pseudonymizer = pseudonymizer
        self.audit = audit
        self.directory = directory or PatientDirectory(None, pseudonymizer)
        self.merges = merges  # None: a Patient that merges another one is refused
        # (surviving, merged) after a new merge is recorded: the runtime extends the
        # survivor's revocations in force to the merged record (ADR 0102)
        self.on_merge = on_merge

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.patient:  # already ingested (a replay of a derived message)
            return [envelope]
        location = envelope.attributes.get("path") or f"message {envelope.message_id}"
        if envelope.source is SourceKind.DICOM or envelope.attributes.get("format") == "dicom":
            outputs = [self._dicom(envelope, location)]
        else:
            outputs = self._fhir(envelope, location)
        system = envelope.attributes.get(SOURCE_SYSTEM_ATTR)
        for output in outputs:
            self.audit.append(
                audit_events.ingest(
                    patient=output.patient,
                    message_id=output.message_id,
                    source_kind=output.source.value,
                    source_system=system,
                )
            )
        return outputs

    # ----- FHIR -----------------------------------------------------------------------------
    def _fhir(self, raw: Envelope, location: str) -> list[Envelope]:
        try:
            document = orjson.loads(raw.payload)
        except orjson.JSONDecodeError as exc:
            raise InputRejected("invalid JSON", location) from exc
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            raise InputRejected("not a FHIR resource (no resourceType)", location)
        resources = list(bundle_resources(document))
        pseudonym = self._patient_of(document, resources, location)
        self._record_merges(resources, pseudonym, raw, location)
        resource_types = sorted({str(r.get("resourceType")) for r in resources})
        outputs = []
        if document.get("resourceType") == "Bundle":
            for index, resource in enumerate(resources):
                if resource.get("resourceType") == "Consent":
                    payload = orjson.dumps(resource)
                    outputs.append(
                        Envelope(
                            message_id=content_message_id(payload),
                            source=SourceKind.CONSENT,
                            patient=pseudonym,
                            payload=payload,
                            event_time=_event_time([resource]),
                            ingest_time=raw.ingest_time,
                            lineage=(raw.message_id,),
                            attributes={"path": f"{location}#entry[{index}]"},
                        )
                    )
        is_consent = document.get("resourceType") == "Consent"
        source = SourceKind.CONSENT if is_consent else SourceKind.FHIR
        categories = ["fhir", *resource_types]
        if any(is_vital_sign(r) for r in resources):
            categories.append(VITAL_SIGNS)
        if any(is_laboratory(r) for r in resources):
            categories.append(LABORATORY)
        outputs.append(
            replace(
                raw,
                source=source,
                patient=pseudonym,
                event_time=_event_time(resources),
                attributes={
                    **raw.attributes,
                    "path": location,
                    "category": ",".join(categories),
                    "resource_type": str(document.get("resourceType")),
                },
            )
        )
        return outputs

    def _patient_of(
        self, document: dict[str, Any], resources: list[dict[str, Any]], location: str
    ) -> str:
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        if document.get("resourceType") == "Bundle" and len(patients) > 1:
            raise InputRejected("more than one Patient in the Bundle", f"{location} Bundle")
        if patients:
            mrn = patient_mrn(patients[0])
            if mrn is None:
                where = f"{location} Patient.identifier"
                raise InputRejected("Patient has no MR identifier", where)
            pseudonym = self._surviving(self.pseudonymizer.patient_pseudonym(mrn))
            if patients[0].get("id"):
                token = self._key(str(patients[0]["id"]))
                self.directory.remember(token, pseudonym, patient_key=mrn)
            return pseudonym
        for resource in resources:
            for field in PATIENT_REFERENCE_FIELDS:
                reference = (resource.get(field) or {}) if isinstance(resource, dict) else {}
                if not isinstance(reference, dict):
                    continue
                ref = reference.get("reference")
                if isinstance(ref, str) and ref.startswith("Patient/"):
                    target = ref.removeprefix("Patient/")
                    if target.startswith("PT-"):
                        # already pseudonymous (a de-identified feed)
                        return self._surviving(target)
                    found = self.directory.lookup(self._key(target))
                    if found is not None:
                        return self._surviving(found)
                    raise InputRejected(
                        "patient not known yet: send the Patient resource first",
                        f"{location} {resource.get('resourceType')}.{field}",
                    )
        raise InputRejected("no patient: no Patient resource and no patient reference", location)

    def _key(self, fhir_id: str) -> str:
        return self.directory.token(fhir_id)

    # ----- merges (ADR 0102) ------------------------------------------------------------------
    def _surviving(self, pseudonym: str) -> str:
        """The patient an input is attributed to: the surviving one when ``pseudonym``'s
        record was merged into another (an input still carrying the prior MRN)."""
        return self.merges.surviving(pseudonym) if self.merges is not None else pseudonym

    def _record_merges(
        self, resources: list[dict[str, Any]], surviving: str, raw: Envelope, location: str
    ) -> None:
        """A Patient with ``link`` type ``replaces`` (HL7 v2 ADT^A40) merges the linked
        record into this one: recorded once (a resent A40 changes nothing) and audited."""
        for resource in resources:
            if resource.get("resourceType") != "Patient":
                continue
            links = resource.get("link")
            for index, link in enumerate(links if isinstance(links, list) else ()):
                if not isinstance(link, dict) or link.get("type") != "replaces":
                    continue
                where = f"{location} Patient.link[{index}]"
                merged = self._prior_pseudonym(link, where)
                if self.merges is None:
                    raise InputRejected("patient merges are not kept by this runtime", where)
                if merged != surviving and not (
                    self.directory.knows(merged) or self.merges.known(merged)
                ):
                    raise InputRejected(
                        "patient merge names a prior patient not known here"
                        " (send its record first)",
                        where,
                    )
                try:
                    new = self.merges.record(
                        merged,
                        surviving,
                        merged_at=datetime.now(UTC).isoformat(),
                        message_id=raw.message_id,
                    )
                except InputRejected as exc:
                    raise InputRejected(exc.reason, where) from exc
                if new:
                    self.audit.append(
                        audit_events.patient_merge(
                            patient=surviving,
                            merged=merged,
                            message_id=raw.message_id,
                            source_system=raw.attributes.get(SOURCE_SYSTEM_ATTR),
                        )
                    )
                    if self.on_merge is not None:
                        self.on_merge(surviving, merged)

    def _prior_pseudonym(self, link: dict[str, Any], where: str) -> str:
        """The pseudonym of the record a ``replaces`` link names: by its MR identifier, else
        by a ``Patient/<id>`` this deployment has ingested."""
        other = link.get("other")
        if not isinstance(other, dict):
            raise InputRejected("patient merge link without other", where)
        identifier = other.get("identifier")
        if isinstance(identifier, dict):
            mrn = patient_mrn({"identifier": [identifier]})
            if mrn is not None:
                return self.pseudonymizer.patient_pseudonym(mrn)
        ref = other.get("reference")
        if isinstance(ref, str) and ref.startswith("Patient/"):
            target = ref.removeprefix("Patient/")
            if PSEUDONYM_RE.match(target):
                return target
            found = self.directory.lookup(self._key(target))
            if found is not None:
                return found
        raise InputRejected(
            "patient merge names a prior patient not known here (no MR identifier, or a"
            " Patient reference never ingested)",
            where,
        )

    # ----- DICOM ----------------------------------------------------------------------------
    def _dicom(self, raw: Envelope, location: str) -> Envelope:
        from pydicom import dcmread
        from pydicom.errors import InvalidDicomError

        try:
            ds = dcmread(BytesIO(raw.payload), stop_before_pixels=True)
            patient_id = str(ds.get("PatientID", "") or "")
            modality = str(ds.get("Modality", "") or "")
        except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
            reason = f"not a readable DICOM file ({type(exc).__name__})"
            raise InputRejected(reason, location) from exc
        if not patient_id:
            raise InputRejected("no PatientID", f"{location} (0010,0020)")
        attributes = {**raw.attributes, "path": location, "category": "dicom"}
        if modality:
            attributes["modality"] = modality
        return replace(
            raw,
            source=SourceKind.DICOM,
            patient=self._surviving(self.pseudonymizer.patient_pseudonym(patient_id)),
            attributes=attributes,
        )
