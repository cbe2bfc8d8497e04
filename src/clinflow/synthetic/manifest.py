"""The PHI ground truth: every identifier the generator plants, and where it put it.

The manifest is newline-delimited JSON (``manifest.ndjson``), one ``PhiEntry`` per line, in
generation order (deterministic for a seed). The leak scanner checks every output byte stream
against it; de-identification quality is measured against it.

``location`` grammar, by ``file`` type:
- DICOM: a tag path, ``(0010,0010)`` or nested ``(0008,1110)[0].(0008,1155)``; private tags as
  ``(0011,1010)`` with ``creator`` in ``detail``; burned-in text as ``pixels[frame]:x,y,w,h``;
  file meta as ``meta.(0002,0003)``.
- FHIR JSON: ``ResourceType/id#element.path[0].sub`` (FHIRPath-like, 0-based indexes).
- Free text inside a FHIR resource: ``ResourceType/id#path@start-end`` with character offsets
  into the decoded text (e.g. a DocumentReference attachment's base64-decoded data).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

import orjson


class PhiKind(StrEnum):
    """HIPAA Safe Harbor identifier categories (45 CFR 164.514(b)(2)) plus DICOM UIDs."""

    NAME = "name"
    GEOGRAPHIC = "geographic"  # street, city, zip smaller than a state
    DATE = "date"  # any date element except year, related to the individual
    AGE_OVER_89 = "age_over_89"
    PHONE = "phone"
    FAX = "fax"
    EMAIL = "email"
    SSN = "ssn"
    MRN = "mrn"
    HEALTH_PLAN = "health_plan"
    ACCOUNT = "account"
    LICENSE = "license"
    VEHICLE = "vehicle"
    DEVICE = "device"  # device identifiers and serial numbers
    URL = "url"
    IP = "ip"
    BIOMETRIC = "biometric"
    PHOTO = "photo"
    OTHER_ID = "other_id"  # accession numbers, study ids, any other unique code
    UID = "uid"  # DICOM UIDs: must be remapped, not merely hidden
    INSTITUTION = "institution"  # hospital/department names: removed by the DICOM profile


class Subject(StrEnum):
    """Whose identifier it is: Safe Harbor covers the patient, relatives, employers, household."""

    PATIENT = "patient"
    RELATIVE = "relative"
    CLINICIAN = "clinician"
    INSTITUTION = "institution"
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class PhiEntry:
    value: str
    kind: PhiKind
    subject: Subject
    patient: str  # the patient's source id (MRN) the identifier belongs with
    file: str  # path relative to the output directory
    location: str  # see module docstring
    detail: str = ""  # e.g. "birth_date", "relative:mother", "creator=ACME 1.1"

    def to_json(self) -> bytes:
        # orjson serializes (slotted) dataclasses natively, fields in declaration order:
        # the same bytes as ``orjson.dumps(asdict(self))`` at a fraction of the cost.
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, line: bytes | str) -> PhiEntry:
        raw = orjson.loads(line)
        raw["kind"] = PhiKind(raw["kind"])
        raw["subject"] = Subject(raw["subject"])
        return cls(**raw)


class ManifestWriter:
    """Streams entries to ``manifest.ndjson`` and keeps a running SHA-256 of what it wrote."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()
        self.count = 0

    def add(self, entry: PhiEntry) -> None:
        line = entry.to_json() + b"\n"
        self._handle.write(line)
        self._hash.update(line)
        self.count += 1

    def write_raw(self, lines: bytes) -> None:
        """Append already-serialized entries (from a worker process), newline-terminated."""
        self._handle.write(lines)
        self._hash.update(lines)
        self.count += lines.count(b"\n")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def read_manifest(path: Path) -> Iterator[PhiEntry]:
    """Iterate entries of a manifest file without loading it whole."""
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield PhiEntry.from_json(line)
