"""Check a dataset against its manifest and the audit log; compare a rebuild with the original.

``verify_dataset(folder, audit_store)``: every file listed exists with its SHA-256 and nothing
else is there; every record's bytes are where the manifest says (a DICOM or note file, or one
line of its ndjson file) with its content hash; every record names a consent and one of the
dataset's agreements covering its class; the audit log verifies and holds the dataset's
disclosures, naming the manifest's hash and every research record the dataset carries.

``diff_manifests(old, new, explain)``: which records were dropped (with why), added or
changed, what the build depended on changed (code version, policy set, key epoch), and
whether everything else is byte for byte the same.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import orjson
from pydantic import ValidationError

from clinflow.audit.store import AuditStore
from clinflow.consent.dua import AgreementSet, DataUseAgreement
from clinflow.datasets.build import FORMAT, MANIFEST, META_FILES
from clinflow.datasets.items import canonical
from clinflow.errors import ConfigError

MAX_PROBLEMS = 50


@dataclass
class VerifyResult:
    records: int = 0
    files: int = 0
    disclosures: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "files": self.files,
            "disclosures_in_audit_log": self.disclosures,
            "problems": self.problems,
            "notes": self.notes,
        }


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path}: not a readable dataset manifest ({type(exc).__name__})"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a {FORMAT} manifest")
    _check_shape(path, manifest)
    return manifest


RECORD_FIELDS = ("record_id", "kind", "file", "data_class", "patient", "lineage_id", "consent",
                 "dua", "content_sha256")  # fmt: skip


def safe_name(name: object) -> bool:
    """A relative path inside the dataset: no absolute path, no ``..``, no backslash."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return not PurePosixPath(name).is_absolute() and ".." not in parts and "." not in parts


def _check_shape(path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a manifest that is not shaped like one (a hostile or damaged file) with an
    error naming the field, before anything trusts it."""

    def bad(field: str) -> ConfigError:
        return ConfigError(f"{path}: {field}: malformed manifest field")

    for key in ("dataset_id", "as_of", "recipient", "purpose"):
        if not isinstance(manifest.get(key), str):
            raise bad(key)
    try:
        if datetime.fromisoformat(manifest["as_of"]).tzinfo is None:
            raise bad("as_of")
    except ValueError as exc:
        raise bad("as_of") from exc
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise bad("files")
    for name, digest in files.items():
        if not safe_name(name) or not isinstance(digest, str):
            raise bad("files")
    agreements = manifest.get("agreements")
    if not isinstance(agreements, list) or not agreements:
        raise bad("agreements")
    for index, agreement in enumerate(agreements):
        try:
            summary = {**agreement, "purposes": [manifest["purpose"]],
                       "recipient": manifest["recipient"]}  # fmt: skip
            DataUseAgreement.model_validate(summary)
        except (TypeError, ValidationError) as exc:
            raise bad(f"agreements[{index}]") from exc
    records = manifest.get("records")
    if not isinstance(records, list):
        raise bad("records")
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not all(
            isinstance(record.get(key), str) for key in RECORD_FIELDS
        ):
            raise bad(f"records[{index}]")
        if not safe_name(record["file"]):
            raise bad(f"records[{index}].file")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_files(folder: Path, manifest: dict[str, Any], result: VerifyResult) -> None:
    body = {key: value for key, value in manifest.items() if key != "dataset_id"}
    if manifest["dataset_id"] != "ds-" + hashlib.sha256(canonical(body)).hexdigest()[:20]:
        result.fail("manifest: its contents do not match its dataset id (altered)")
    listed: dict[str, str] = manifest.get("files", {})
    on_disk = {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() not in META_FILES
    }
    for name in sorted(on_disk - set(listed)):
        result.fail(f"{name}: file not in the manifest")
    lines: dict[str, Counter[str]] = {}
    for name, digest in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            result.fail(f"{name}: listed in the manifest, missing")
            continue
        data = path.read_bytes()
        result.files += 1
        if _sha(data) != digest:
            result.fail(f"{name}: SHA-256 differs from the manifest")
        if name.endswith(".ndjson"):
            lines[name] = Counter(_sha(line) for line in data.split(b"\n") if line)
    agreements = {
        a["id"]: DataUseAgreement.model_validate(
            {**a, "purposes": [manifest.get("purpose", "HRESCH")],
             "recipient": manifest.get("recipient", "-")}
        )
        for a in manifest.get("agreements", [])
    }  # fmt: skip
    for record in manifest.get("records", []):
        result.records += 1
        rid = record.get("record_id", "?")
        if not record.get("consent") or not record.get("dua"):
            result.fail(f"record {rid}: no consent or no data use agreement in its lineage")
        agreement = agreements.get(record.get("dua", ""))
        if agreement is None or not agreement.covers_class(record.get("data_class", "")):
            result.fail(f"record {rid}: its agreement does not cover {record.get('data_class')}")
        name = record.get("file", "")
        if name.endswith(".ndjson"):
            found = lines.get(name, Counter())
            if found[record.get("content_sha256", "")] <= 0:
                result.fail(f"record {rid}: no line of {name} has its content hash")
            else:
                found[record["content_sha256"]] -= 1
        elif (folder / name).is_file():
            if _sha((folder / name).read_bytes()) != record.get("content_sha256"):
                result.fail(f"record {rid}: {name} content hash differs")
        else:
            result.fail(f"record {rid}: {name} missing")
    for name, left in sorted(lines.items()):
        if sum(n for n in left.values() if n > 0):
            result.fail(f"{name}: lines no record accounts for")


def verify_agreements(
    manifest: dict[str, Any], agreements: AgreementSet, result: VerifyResult
) -> None:
    """The manifest's agreements are the deployment's, as written; those its records name
    were in force at its as-of."""
    as_of = datetime.fromisoformat(manifest["as_of"])
    used = {record["dua"] for record in manifest["records"]}
    for summary in manifest["agreements"]:
        actual = agreements.get(summary["id"])
        if actual is None:
            result.fail(f"agreement {summary['id']}: not among the deployment's agreements")
            continue
        expected = {
            "version": actual.version,
            "data_classes": list(actual.data_classes),
            "modalities": list(actual.modalities),
            "deidentification": actual.deidentification.value,
            "period": {"start": actual.period.start.isoformat(),
                       "end": actual.period.end.isoformat()},
            "reidentification_keys": actual.reidentification_keys,
        }  # fmt: skip
        for key, value in expected.items():
            if summary.get(key) != value:
                result.fail(f"agreement {actual.id}: {key} differs from the agreement on file")
        if actual.recipient != manifest["recipient"]:
            result.fail(f"agreement {actual.id}: recipient differs from the agreement on file")
        if actual.id in used and not actual.in_force(as_of):
            result.fail(f"agreement {actual.id}: permits records but not in force at as-of")


def verify_audit(
    store: AuditStore, manifest: dict[str, Any], raw_manifest: bytes, result: VerifyResult
) -> None:
    """The dataset's disclosures are in the audit log, for this manifest, covering every
    research record (lineage id) it carries."""
    wanted_hash = _sha(raw_manifest)
    dataset_id = manifest["dataset_id"]
    disclosed: set[str] = set()
    for _index, _leaf, entry in store.iter_entries():
        if b"urn:clinflow:dataset" not in entry or dataset_id.encode() not in entry:
            continue
        event = orjson.loads(entry)
        entities = event.get("entity", [])
        matches = False
        for entity in entities:
            ident = entity.get("what", {}).get("identifier", {})
            if ident.get("system") == "urn:clinflow:dataset" and ident.get("value") == dataset_id:
                details = {
                    d["type"]["coding"][0]["code"]: d.get("valueString")
                    for d in entity.get("detail", [])
                }
                matches = details.get("manifest-sha256") == wanted_hash
        if not matches:
            continue
        result.disclosures += 1
        for entity in entities:
            ident = entity.get("what", {}).get("identifier", {})
            if ident.get("system") == "urn:clinflow:message":
                disclosed.add(str(ident.get("value")))
    missing = sorted({r["lineage_id"] for r in manifest.get("records", [])} - disclosed)
    if missing:
        result.fail(
            f"audit log: {len(missing)} research record(s) of the dataset have no disclosure"
            f" entry for manifest {wanted_hash[:12]} (first: {missing[0]})"
        )


def note_code_change(manifest: dict[str, Any], running: str, result: VerifyResult) -> None:
    """Say when the dataset was built by other code than the one verifying it: it still
    verifies, but a rebuild will carry the new code version and may differ."""
    built = manifest.get("code_version")
    if built != running:
        result.notes.append(
            f"code changed: built by {built}, this is {running}; a rebuild may differ"
        )


# ------------------------------------------------------------------------- rebuild diff

# What a build depends on besides the research store, as the manifest records it.
PROVENANCE = {
    "code_version": "code changed (package version or source hash)",
    "policy_set_hash": "policy set changed (policy YAML or the deployment's agreements)",
    "key_epoch": "pseudonymization key changed",
}

Explain = Callable[[dict[str, Any]], tuple[str, str]]


def diff_manifests(old: dict[str, Any], new: dict[str, Any], explain: Explain) -> dict[str, Any]:
    """What a rebuild changed: records dropped (``explain`` says why), added, changed, and
    what the build depended on (``PROVENANCE``) changed."""
    provenance = [
        {"field": key, "old": old.get(key), "new": new.get(key), "reason": reason}
        for key, reason in PROVENANCE.items()
        if old.get(key) != new.get(key)
    ]
    since = ", ".join(PROVENANCE[str(item["field"])] for item in provenance)
    before = {r["record_id"]: r for r in old["records"]}
    after = {r["record_id"]: r for r in new["records"]}
    removed = []
    for rid in sorted(set(before) - set(after)):
        code, detail = explain(before[rid])
        record = before[rid]
        removed.append(
            {
                "record_id": rid,
                "patient": record["patient"],
                "data_class": record["data_class"],
                "file": record["file"],
                "reason": code,
                "detail": detail,
            }
        )
    added = [
        {"record_id": rid, "patient": after[rid]["patient"], "data_class": after[rid]["data_class"]}
        for rid in sorted(set(after) - set(before))
    ]
    changed = [
        {
            "record_id": rid,
            "old_sha256": before[rid]["content_sha256"],
            "new_sha256": after[rid]["content_sha256"],
            "reason": f"content differs: {since or 'the stored record changed'}",
        }
        for rid in sorted(set(before) & set(after))
        if before[rid]["content_sha256"] != after[rid]["content_sha256"]
    ]
    old_files, new_files = old["files"], new["files"]
    files_changed = sorted(
        name
        for name in set(old_files) | set(new_files)
        if old_files.get(name) != new_files.get(name)
    )
    return {
        "old_dataset_id": old["dataset_id"],
        "new_dataset_id": new["dataset_id"],
        "old_as_of": old["as_of"],
        "new_as_of": new["as_of"],
        "identical": not (removed or added or changed or files_changed or provenance),
        "code_changed": any(item["field"] == "code_version" for item in provenance),
        "provenance_changed": provenance,
        "unchanged_records": len(set(before) & set(after)) - len(changed),
        "removed_by_reason": dict(sorted(Counter(r["reason"] for r in removed).items())),
        "removed": removed,
        "added": added,
        "changed": changed,
        "files_changed": files_changed,
    }
