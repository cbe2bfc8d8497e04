"""Build a de-identified research dataset from the research store, under data use agreements.

``build_dataset(sources, dua_ids, as_of, out)`` reads every record of the research store
(sealed, de-identified DICOM instances and FHIR Bundles), and keeps an item only when, at
``as_of``, the patient's Consent permits research for it (a Consent record, not a fallback)
and one of the listed agreements in force covers its data class. Items are written as

    dicom/<patient>/<output id>.dcm       the de-identified instance, bytes as stored
    fhir/<ResourceType>.ndjson            one resource per line (sorted keys), sorted by id
    notes/<patient>/<record id>.txt       the text of each DocumentReference attachment
    manifest.json                         every item: lineage, consent, DUA, hashes, ...
    DATASET_CARD.md                       cohort, modalities, exclusions, privacy measures

Nothing depends on the clock or on iteration order: the same research store, keys, policies
and ``as_of`` give byte-identical files (``rebuild`` relies on it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from clinflow.audit import events as audit_events
from clinflow.consent.decision import DecisionQuery, DecisionSource
from clinflow.consent.dua import AgreementSet, DataUseAgreement, DeidLevel
from clinflow.consent.registry import ConsentRegistry
from clinflow.consent.retention import MERGED_NOTE, survivor_withdrawal
from clinflow.crypto.datakeys import KEY_ID_BYTES, MAGIC
from clinflow.datasets.items import Piece, canonical, code_version, pieces
from clinflow.errors import ConfigError, KeyError_
from clinflow.interfaces import AuditSink
from clinflow.patient_merges import PatientMerges
from clinflow.sinks.research import ResearchStore

FORMAT = "clinflow-dataset/1"
MANIFEST = "manifest.json"
CARD = "DATASET_CARD.md"
REBUILD_REPORT = "REBUILD_REPORT.json"
META_FILES = frozenset({MANIFEST, CARD, REBUILD_REPORT})
PURPOSE = "HRESCH"
RECIPIENT_STORE = "research-store"
AGENT = "clinflow-dataset"
KEY_ID_SLICE = slice(len(MAGIC), len(MAGIC) + KEY_ID_BYTES)  # a sealed token's key id


@dataclass(frozen=True, slots=True)
class Sources:
    """What a build reads: the deployment's stores and fingerprints (built by the command)."""

    research: ResearchStore
    registry: ConsentRegistry
    agreements: AgreementSet
    held: DeidLevel
    key_epoch: str
    policy_set_hash: str
    audit: AuditSink | None = None
    merges: PatientMerges | None = None  # records merged into others follow their withdrawal


@dataclass(frozen=True, slots=True)
class Item:
    """A piece the consent and an agreement release: the research record it came from, the
    Consent and agreement that permit it, the data key its record is sealed under."""

    piece: Piece
    patient: str
    output_id: str
    lineage: tuple[str, ...]
    consent: str
    dua: str
    data_key: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.piece.data).hexdigest()


@dataclass(frozen=True, slots=True)
class Exclusion:
    record_id: str
    patient: str
    data_class: str
    code: str
    detail: str


@dataclass
class BuildResult:
    out: Path
    manifest: dict[str, Any]
    items: list[Item]
    excluded: list[Exclusion] = field(default_factory=list)

    @property
    def dataset_id(self) -> str:
        return str(self.manifest["dataset_id"])


# ------------------------------------------------------------------------- the build


def _agreements(sources: Sources, dua_ids: Sequence[str]) -> list[DataUseAgreement]:
    chosen: list[DataUseAgreement] = []
    for dua_id in dua_ids:
        agreement = sources.agreements.get(dua_id)
        if agreement is None:
            known = ", ".join(sources.agreements.ids()) or "none"
            raise ConfigError(f"--dua {dua_id}: no such data use agreement (known: {known})")
        chosen.append(agreement)
    if not chosen:
        raise ConfigError("--dua: name at least one data use agreement")
    recipients = {agreement.recipient for agreement in chosen}
    if len(recipients) > 1:
        raise ConfigError("--dua: the agreements name different recipients; one dataset each")
    return chosen


def _consent_reason(source: DecisionSource) -> str:
    if source is DecisionSource.REVOCATION:
        return "consent-withdrawn"
    if source is DecisionSource.POLICY:
        return "no-consent"
    return "consent-denied"


def select(
    sources: Sources, dua_ids: Sequence[str], as_of: datetime
) -> tuple[list[Item], list[Exclusion]]:
    """Every item the agreements and consents permit at ``as_of``, and what was left out."""
    _agreements(sources, dua_ids)
    items: list[Item] = []
    excluded: list[Exclusion] = []
    for record in sources.research.records():
        try:
            raw = sources.research.sealed(record.output_id)
            payload = sources.research.read(record.output_id)
        except (KeyError_, OSError) as exc:
            detail = "sealed under a destroyed key" if isinstance(exc, KeyError_) else "missing"
            excluded.append(Exclusion(record.output_id, record.patient, "-", "unreadable", detail))
            continue
        categories = frozenset(part for part in record.category.split(",") if part)
        query = DecisionQuery(record.patient, PURPOSE, categories, RECIPIENT_STORE)
        consent = sources.registry.decide(query, as_of)
        if consent.permitted and sources.merges is not None:
            withdrawn = survivor_withdrawal(sources.registry, sources.merges, record, query, as_of)
            if withdrawn is not None:
                consent = replace(withdrawn, reason=f"{withdrawn.reason} ({MERGED_NOTE})")
        try:
            split = list(pieces(record, payload))
        except orjson.JSONDecodeError:
            excluded.append(
                Exclusion(record.output_id, record.patient, "-", "unreadable", "not valid JSON")
            )
            continue
        for piece in split:
            if not consent.permitted or consent.consent_id is None:
                code = _consent_reason(consent.source) if not consent.permitted else "no-consent"
                excluded.append(
                    Exclusion(piece.record_id, record.patient, piece.data_class, code,
                              consent.reason)
                )  # fmt: skip
                continue
            decision = sources.agreements.decide(
                PURPOSE, [piece.data_class], as_of, held=sources.held, only=dua_ids
            )
            if not decision.permitted or decision.agreement_id is None:
                excluded.append(
                    Exclusion(piece.record_id, record.patient, piece.data_class, decision.code,
                              decision.reason)
                )  # fmt: skip
                continue
            items.append(
                Item(
                    piece=piece,
                    patient=record.patient,
                    output_id=record.output_id,
                    lineage=record.lineage,
                    consent=f"Consent/{consent.consent_id}",
                    dua=decision.agreement_id,
                    data_key=raw[KEY_ID_SLICE].hex(),
                )
            )
    items.sort(key=lambda item: item.piece.record_id)
    excluded.sort(key=lambda item: item.record_id)
    return items, excluded


def _files(items: Sequence[Item]) -> dict[str, bytes]:
    lines: dict[str, list[bytes]] = {}
    files: dict[str, bytes] = {}
    for piece in (item.piece for item in items):
        if piece.kind == "fhir":
            lines.setdefault(piece.file, []).append(piece.data)
        else:
            files[piece.file] = piece.data
    for name, content in lines.items():
        files[name] = b"\n".join(content) + b"\n"
    return dict(sorted(files.items()))


def _manifest(
    sources: Sources,
    agreements: Sequence[DataUseAgreement],
    as_of: datetime,
    items: Sequence[Item],
    excluded: Sequence[Exclusion],
    files: dict[str, bytes],
) -> dict[str, Any]:
    records = [
        {
            "record_id": item.piece.record_id,
            "kind": item.piece.kind,
            "file": item.piece.file,
            "data_class": item.piece.data_class,
            "patient": item.patient,
            "lineage_id": item.output_id,
            "lineage": list(item.lineage),
            "consent": item.consent,
            "dua": item.dua,
            "policy_set_hash": sources.policy_set_hash,
            "key_epoch": sources.key_epoch,
            "data_key": item.data_key,
            "code_version": code_version(),
            "content_sha256": item.sha256,
        }
        for item in items
    ]
    body: dict[str, Any] = {
        "format": FORMAT,
        "as_of": as_of.isoformat(),
        "purpose": PURPOSE,
        "recipient": agreements[0].recipient,
        "agreements": [
            {
                "id": a.id,
                "version": a.version,
                "title": a.title,
                "data_classes": list(a.data_classes),
                "modalities": list(a.modalities),
                "deidentification": a.deidentification.value,
                "period": {"start": a.period.start.isoformat(), "end": a.period.end.isoformat()},
                "reidentification_keys": a.reidentification_keys,
            }
            for a in agreements
        ],
        "deidentification_held": sources.held.value,
        "policy_set_hash": sources.policy_set_hash,
        "key_epoch": sources.key_epoch,
        "code_version": code_version(),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "records": records,
        "exclusions": dict(sorted(Counter(e.code for e in excluded).items())),
    }
    body["dataset_id"] = "ds-" + hashlib.sha256(canonical(body)).hexdigest()[:20]
    return body


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def write_tree(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` under ``out`` (a fresh folder: an existing one must be empty)."""
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out {out}: folder exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def build_dataset(
    sources: Sources,
    dua_ids: Sequence[str],
    as_of: datetime,
    out: Path,
    *,
    require_in_force: bool = True,
) -> BuildResult:
    """Select, write the dataset, its manifest and card; audit the disclosure per patient.
    A new build needs an agreement in force; a rebuild (``require_in_force=False``) may come
    out empty, its report saying why."""
    from clinflow.datasets.card import render_card

    agreements = _agreements(sources, dua_ids)
    if require_in_force and not any(a.in_force(as_of) for a in agreements):
        raise ConfigError(f"--dua: no listed agreement is in force at {as_of.date().isoformat()}")
    items, excluded = select(sources, dua_ids, as_of)
    files = _files(items)
    manifest = _manifest(sources, agreements, as_of, items, excluded, files)
    result = BuildResult(out, manifest, items, excluded)
    files[MANIFEST] = manifest_bytes(manifest)
    files[CARD] = render_card(manifest, excluded).encode()
    write_tree(out, files)
    if sources.audit is not None:
        audit_disclosures(sources.audit, manifest, files[MANIFEST])
    return result


def audit_disclosures(audit: AuditSink, manifest: dict[str, Any], raw_manifest: bytes) -> None:
    """One disclosure AuditEvent per patient in the dataset, naming the dataset and manifest
    hash and every research record (lineage id) of theirs it carries."""
    by_patient: dict[str, set[str]] = {}
    for record in manifest["records"]:
        by_patient.setdefault(record["patient"], set()).add(record["lineage_id"])
    detail: dict[str, str | int | bool] = {
        "manifest-sha256": hashlib.sha256(raw_manifest).hexdigest(),
        "dua": ",".join(a["id"] for a in manifest["agreements"]),
        "as-of": manifest["as_of"],
    }
    for patient, outputs in sorted(by_patient.items()):
        audit.append(
            audit_events.build_event(
                audit_events.EventCode.DISCLOSE,
                agents=[
                    audit_events.Agent(AGENT),
                    audit_events.Agent(manifest["recipient"], requestor=False, type="IRCP"),
                ],
                patient=patient,
                purposes=[PURPOSE],
                entities=[
                    audit_events.Entity(
                        "dataset", manifest["dataset_id"], role="job", detail=detail
                    ),
                    *(audit_events.Entity("message", output) for output in sorted(outputs)),
                ],  # fmt: skip
            )
        )


def replace_tree(staged: Path, target: Path) -> None:
    """Swap a freshly built folder into ``target``'s place (old one removed after)."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(old)
    staged.rename(target)
    shutil.rmtree(old)
