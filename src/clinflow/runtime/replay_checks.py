"""The checks of a finished replay, from the deployment's stores and its audit log: inputs
lost (no ingest or quarantine AuditEvent), repeated disclosures and reprocessed inputs,
accounting per kind, quarantine by reason, consent violations (held research records the
registry now denies), revoked patients' records left in the research store, lineage index
or scoring store, residual PHI (the leak scanner over the decrypted research store laid out
like the source, against its manifest) and ``audit verify``."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from clinflow.runtime.replay_report import Account, Correctness

if TYPE_CHECKING:
    from clinflow.config import DataDir
    from clinflow.runtime.deployment import Deployment


def check_run(
    deployment: Deployment,
    entries: list[bytes],
    *,
    released: int,
    expected: set[str],
    sink_duplicates: int,
    revoked: dict[str, tuple[str, ...]],
    manifest: Path | None,
    locations: dict[str, str],
) -> Correctness:
    """Every correctness figure of a finished run (``manifest`` None: no leak scan).

    ``entries``: the run's AuditEvents; ``released``: research releases the pipeline counted;
    ``expected``: the source inputs' message ids; ``revoked``: the storm's patients and
    purposes; ``locations``: source input id -> its PHI-free path (for the leak scan)."""
    from clinflow.runtime.accounting import account_research

    audited, disclosures, ingested = _audited_ids(entries)
    accounts = account_research(entries)
    quarantined = Counter(item.reason for item in deployment.quarantine.list(status=None))
    revoked_patients, remaining = _revoked_remaining(deployment, revoked)
    correctness = Correctness(
        lost=len(expected - audited),
        duplicated_at_sinks=sink_duplicates,
        duplicate_disclosures=sum(1 for n in disclosures.values() if n > 1),
        reprocessed=sum(1 for n in ingested.values() if n > 1),
        quarantined=sum(quarantined.values()),
        quarantined_by_reason=dict(sorted(quarantined.items())),
        residual_phi=None,
        residual_by_kind={},
        leak_files_scanned=0,
        consent_violations=_consent_violations(deployment),
        revoked_patients=revoked_patients,
        revoked_data_remaining=remaining,
        audit_entries=len(entries),
        audit_verified=None,
        audit_failures=[],
        accounting={kind: Account(**a.to_json()) for kind, a in accounts.items()},
        counts_match_audit=released == sum(disclosures.values()),
    )
    if manifest is not None:
        _leak_scan(deployment, manifest, locations, correctness)
    return correctness


def _audited_ids(entries: Iterable[bytes]) -> tuple[set[str], Counter[str], Counter[str]]:
    """Message ids with an ingest or validation-failure entry (first message entity),
    research disclosures per message id, ingest entries per message id."""
    from clinflow.runtime.accounting import RESEARCH_PURPOSE

    audited: set[str] = set()
    disclosures: Counter[str] = Counter()
    ingested: Counter[str] = Counter()
    for entry in entries:
        event: dict[str, Any] = orjson.loads(entry)
        code = event.get("code", {}).get("coding", [{}])[0].get("code")
        ids = [
            e["what"]["identifier"]["value"]
            for e in event.get("entity") or ()
            if e.get("what", {}).get("identifier", {}).get("system") == "urn:clinflow:message"
        ]
        if code in ("ingest", "validation-failure") and ids:
            audited.add(ids[0])
            ingested[ids[0]] += code == "ingest"
        elif code == "disclose":
            purposes = {
                c.get("code")
                for p in event.get("authorization") or ()
                for c in p.get("coding") or ()
            }
            if RESEARCH_PURPOSE in purposes:
                disclosures.update(ids)
    return audited, disclosures, ingested


def _consent_violations(deployment: Deployment) -> int:
    """Research records held whose purpose the registry now denies."""
    from clinflow.consent.decision import DecisionQuery

    registry = deployment.consent.registry
    return sum(
        1
        for record in deployment.research.records()
        if not registry.decide(DecisionQuery(record.patient, record.purpose)).permitted
    )


def _revoked_remaining(
    deployment: Deployment, revoked: dict[str, tuple[str, ...]]
) -> tuple[int, int]:
    """(patients revoked, their records of the revoked purposes still held anywhere)."""
    policy = deployment.consent.registry.policy
    remaining = 0
    for patient, purposes in revoked.items():
        chosen = purposes or policy.revocable_purposes()
        remaining += sum(1 for r in deployment.research.records(patient) if r.purpose in chosen)
        remaining += len(deployment.lineage.find(patient, chosen, with_inputs=False))
        if "TREAT" in chosen:
            remaining += deployment.scoring_store.count(patient)
    return len(revoked), remaining


def _leak_scan(
    deployment: Deployment, manifest: Path, locations: dict[str, str], correctness: Correctness
) -> None:
    """Decrypt the research store into a scratch tree laid out like the source (one file per
    source file: a Bundle's resources appended together) and scan it against the manifest."""
    from clinflow.deid.leaks.scanner import scan

    scratch = deployment.data_dir.root / "replay-leak-scan"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    try:
        for record in deployment.research.records():
            location = locations.get(record.lineage[0]) if record.lineage else None
            if location is None or location.startswith("replay-fault/"):
                continue
            target = scratch / location.split("#", 1)[0]
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "ab", opener=_private) as handle:
                handle.write(deployment.research.read(record.output_id) + b"\n")
        leaks = scan(manifest, scratch, deployment.pseudonymizer.date_offset_days)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    correctness.residual_phi = leaks.residual
    correctness.residual_by_kind = leaks.by_kind()
    correctness.leak_files_scanned = leaks.files_scanned


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def verify_audit(root: DataDir, correctness: Correctness) -> None:
    """``audit verify`` of the data directory, into ``correctness``."""
    from clinflow.audit.log import DEFAULT_ORIGIN
    from clinflow.audit.store import open_existing_store
    from clinflow.audit.verify import trusted_verifiers, verify_log

    store = open_existing_store(root)
    try:
        verified = verify_log(
            store, trusted_verifiers(root, DEFAULT_ORIGIN, []), origin=DEFAULT_ORIGIN
        )
    finally:
        store.close()
    correctness.audit_verified = verified.ok
    correctness.audit_failures = [str(f) for f in verified.failures][:20]
