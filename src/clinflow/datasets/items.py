"""The pieces of a research dataset: fingerprints of what a build depends on, and how one
research record (a DICOM instance or a FHIR Bundle) splits into dataset items."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from clinflow.config import DataDir, policies_dir
from clinflow.consent.dua import DUA_FOLDER, imaging_class, resource_class
from clinflow.sinks.research import ResearchRecord

# ------------------------------------------------------------------------- fingerprints


def key_epoch(project_key: bytes) -> str:
    """A fingerprint of the pseudonymization key (HMAC of a fixed label): it changes when the
    key does, and reveals nothing of it."""
    return hmac.new(project_key, b"clinflow-key-epoch", hashlib.sha256).hexdigest()[:16]


def policy_set_hash(data_dir: DataDir | None = None) -> str:
    """SHA-256 over every policy YAML (path and bytes, sorted) and the deployment's DUAs."""
    digest = hashlib.sha256()
    roots = [("policies", policies_dir())]
    if data_dir is not None:
        roots.append(("data-dir-dua", data_dir.root / DUA_FOLDER))
    for label, root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.yaml")):
            digest.update(f"{label}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def source_hash(package_root: Path) -> str:
    """SHA-256 over the package's Python source files (relative path and bytes, sorted by
    path), walked without following symbolic links: the policies and scenarios shipped
    beside it are fingerprinted by ``policy_set_hash``, caches are not source."""
    digest = hashlib.sha256()
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(package_root):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = Path(folder) / name
                found.append((path.relative_to(package_root).as_posix(), path))
    for relative, path in sorted(found):
        digest.update(f"{relative}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package version and a hash of the installed source (computed once per process):
    two builds by different code differ even when the version number does not."""
    import clinflow

    root = Path(clinflow.__file__).resolve().parent
    return f"clinflow {clinflow.__version__}+src.{source_hash(root)[:16]}"


def canonical(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


# ------------------------------------------------------------------------- splitting records


def _modality(data: bytes) -> str | None:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    except (InvalidDicomError, OSError, ValueError, AttributeError, KeyError):
        return None
    value = str(dataset.get("Modality", "") or "").strip()
    return value or None


def _note_text(resource: dict[str, Any]) -> bytes | None:
    for content in resource.get("content") or []:
        attachment = content.get("attachment") if isinstance(content, dict) else None
        data = attachment.get("data") if isinstance(attachment, dict) else None
        if isinstance(data, str):
            try:
                return base64.b64decode(data, validate=True)
            except ValueError:
                return None
    return None


@dataclass(frozen=True, slots=True)
class Piece:
    """One dataset item before the DUA check: id, kind, file, bytes, data class."""

    record_id: str
    kind: str  # dicom | fhir | note
    file: str
    data: bytes
    data_class: str


def pieces(record: ResearchRecord, payload: bytes) -> Iterator[Piece]:
    """The items of one research record: a DICOM instance, or each resource of a Bundle (a
    DocumentReference also yields its note text)."""
    patient = record.patient
    if record.category.split(",")[0] == "dicom":
        data_class = imaging_class(_modality(payload))
        file = f"dicom/{patient}/{record.output_id}.dcm"
        yield Piece(record.output_id, "dicom", file, payload, data_class)
        return
    document = orjson.loads(payload)
    entries = document.get("entry") if isinstance(document, dict) else None
    resources = (
        [entry.get("resource") for entry in entries or [] if isinstance(entry, dict)]
        if isinstance(document, dict) and document.get("resourceType") == "Bundle"
        else [document]
    )
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict) or not resource.get("resourceType"):
            continue
        record_id = f"{record.output_id}#{index}"
        data_class = resource_class(resource)
        kind = str(resource["resourceType"])
        yield Piece(record_id, "fhir", f"fhir/{kind}.ndjson", canonical(resource), data_class)
        if kind == "DocumentReference":
            text = _note_text(resource)
            if text is not None:
                file = f"notes/{patient}/{record.output_id}-{index}.txt"
                yield Piece(f"{record_id}/text", "note", file, text, data_class)
