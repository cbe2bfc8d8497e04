"""Dataset operations over one deployment: build, verify, rebuild with a diff report.

The CLI (``datasets.commands``) opens the deployment (composition root) and calls these.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinflow.consent.decision import DecisionQuery
from clinflow.consent.dua import AgreementSet, load_deployment_agreements
from clinflow.consent.retention import RESEARCH_STORE, default_retention
from clinflow.datasets.build import (
    MANIFEST,
    PURPOSE,
    REBUILD_REPORT,
    RECIPIENT_STORE,
    BuildResult,
    Sources,
    build_dataset,
    replace_tree,
)
from clinflow.datasets.items import code_version, key_epoch, policy_set_hash
from clinflow.datasets.verify import (
    VerifyResult,
    diff_manifests,
    note_code_change,
    read_manifest,
    verify_agreements,
    verify_audit,
    verify_files,
)

if TYPE_CHECKING:
    from clinflow.audit.store import AuditStore
    from clinflow.runtime.deployment import Deployment


def sources_for(deployment: Deployment) -> Sources:
    held = default_retention().store(RESEARCH_STORE).deidentification
    assert held is not None
    return Sources(
        research=deployment.research,
        registry=deployment.consent.registry,
        agreements=load_deployment_agreements(deployment.data_dir),
        held=held,
        key_epoch=key_epoch(deployment.keyring.project_key()),
        policy_set_hash=policy_set_hash(deployment.data_dir),
        audit=deployment.audit,
        merges=deployment.lineage.merges,
    )


def build(
    deployment: Deployment, dua_ids: Sequence[str], as_of: datetime, out: Path
) -> BuildResult:
    return build_dataset(sources_for(deployment), dua_ids, as_of, out)


def verify(
    folder: Path, store: AuditStore | None, agreements: AgreementSet | None = None
) -> VerifyResult:
    """Files against the manifest; with ``agreements``, the manifest's agreements against
    the deployment's; with ``store``, disclosures against the audit log."""
    manifest = read_manifest(folder)
    result = VerifyResult()
    verify_files(folder, manifest, result)
    note_code_change(manifest, code_version(), result)
    if agreements is not None:
        verify_agreements(manifest, agreements, result)
    if store is not None:
        verify_audit(store, manifest, (folder / MANIFEST).read_bytes(), result)
    return result


def rebuild(
    deployment: Deployment, folder: Path, as_of: datetime, out: Path | None = None
) -> dict[str, Any]:
    """Rebuild ``folder``'s dataset (same agreements) at ``as_of``; in place unless ``out``.

    Returns the diff report, also written to ``REBUILD_REPORT.json`` in the new dataset."""
    old = read_manifest(folder)
    dua_ids = [agreement["id"] for agreement in old["agreements"]]
    sources = sources_for(deployment)
    staged = out or folder.with_name(f".{folder.name}.rebuild-{os.getpid()}")
    result = build_dataset(sources, dua_ids, as_of, staged, require_in_force=False)
    excluded = {item.record_id: (item.code, item.detail) for item in result.excluded}

    def explain(record: dict[str, Any]) -> tuple[str, str]:
        known = excluded.get(record["record_id"])
        if known is not None:
            return known
        query = DecisionQuery(record["patient"], PURPOSE, frozenset(), RECIPIENT_STORE)
        consent = sources.registry.decide(query, as_of)
        if not consent.permitted:
            code = "consent-withdrawn" if consent.revocation_id else "consent-denied"
            return code, consent.reason
        agreement = sources.agreements.decide(
            PURPOSE, [record["data_class"]], as_of, held=sources.held, only=dua_ids
        )
        if not agreement.permitted:
            return agreement.code, agreement.reason
        for item in deployment.lineage.find(
            record["patient"], include_retracted=True, with_inputs=False
        ):
            if item.output_id == record["lineage_id"] and item.retracted_at is not None:
                return "retracted", "retracted from the research store (see its receipt)"
        return "missing", "no longer in the research store"

    report = diff_manifests(old, result.manifest, explain)
    target = out or folder
    if out is None:
        replace_tree(staged, folder)
    (target / REBUILD_REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
