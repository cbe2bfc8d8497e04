"""The figures of one demo pipeline run: collected by the pipeline, printed and saved as JSON.

Everything here is a count, a pseudonym-free id (receipt ids) or a PHI-free reason: the report
is safe to print, commit as an example or attach to a ticket.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from clinflow.audit.verify import VerifyReport
    from clinflow.consent.receipt import Receipt
    from clinflow.deid.leaks.scanner import LeakReport


@dataclass
class DemoReport:
    patients: int
    seed: int
    scenario: str = ""
    data_dir: str = ""
    deteriorating: int = 0
    inputs: Counter[str] = field(default_factory=Counter)
    quarantined: list[str] = field(default_factory=list)  # "location: reason", never PHI
    quarantined_deid: int = 0
    quarantined_total: int = 0
    consents_loaded: int = 0
    consents_rejected: int = 0
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    deid_dicom_files: int = 0
    deid_fhir_files: int = 0
    deid_fhir_resources: int = 0
    released_research: Counter[str] = field(default_factory=Counter)
    patients_scored: int = 0
    scores: int = 0
    alerts: int = 0
    receipts: list[dict[str, Any]] = field(default_factory=list)
    leak_files_scanned: int = 0
    leak_manifest_entries: int = 0
    residual_phi: int = -1  # -1 until the scan ran
    residual_by_kind: dict[str, int] = field(default_factory=dict)
    consent_violations: int = 0
    revoked_research_remaining: int = 0
    revoked_with_scores: int = 0
    research_held: int = 0
    research_payloads_held: int = 0
    audit_entries: int = 0
    audit_checkpoints: int = 0
    audit_verified: bool = False
    audit_failures: list[str] = field(default_factory=list)
    duplicates: int = 0  # inputs the ledger had already seen (a re-run with the same seed)
    run: dict[str, Any] = field(default_factory=dict)  # the runtime's per-hop statistics
    # per source kind, from the audit log: ingested = released + denied + quarantined
    accounting: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
    ok: bool = False
    reason: str | None = None

    # ----- collection -----------------------------------------------------------------------
    def record_leaks(self, leaks: LeakReport) -> None:
        self.leak_files_scanned = leaks.files_scanned
        self.leak_manifest_entries = leaks.entries
        self.residual_phi = leaks.residual
        self.residual_by_kind = leaks.by_kind()

    def record_receipt(self, receipt: Receipt) -> None:
        self.receipts.append(
            {
                "receipt_id": receipt.receipt_id,
                "purposes": list(receipt.purposes),
                "complete": receipt.complete,
                "records_found": receipt.records_found,
                "deleted": sum(a.deleted + a.derived_deleted for a in receipt.actions),
                "keys_destroyed": len(receipt.keys_destroyed),
                "targets": sorted(a.target for a in receipt.actions),
            }
        )

    def record_audit(self, verified: VerifyReport) -> None:
        self.audit_entries = verified.entries
        self.audit_checkpoints = verified.checkpoints
        self.audit_verified = verified.ok
        self.audit_failures = [str(f) for f in verified.failures]

    def finish(self) -> None:
        """Decide the outcome: the first failed check is the reason."""
        checks = (
            (self.residual_phi == 0,
             f"residual PHI in research releases: {self.residual_phi} ("
             + ", ".join(f"{kind} {n}" for kind, n in self.residual_by_kind.items()) + ")"),
            (self.consent_violations == 0,
             f"consent violations in the research store: {self.consent_violations}"),
            (self.revoked_research_remaining == 0,
             f"records of revoked scopes still held: {self.revoked_research_remaining}"),
            (self.research_payloads_held == self.research_held,
             f"research rows without their payload: {self.research_payloads_held}"
             f" payloads held, {self.research_held} rows"),
            (all(r["complete"] for r in self.receipts), "a revocation receipt is incomplete"),
            (all(a["balanced"] for a in self.accounting.values()),
             "an input is unaccounted for in the audit log (ingested != released + denied"
             " + quarantined)"),
            (self.audit_verified, "audit log does not verify: "
             + (self.audit_failures[0] if self.audit_failures else "unknown")),
        )  # fmt: skip
        failed = [reason for ok, reason in checks if not ok]
        self.ok = not failed
        self.reason = failed[0] if failed else None

    # ----- output ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "patients": self.patients,
            "seed": self.seed,
            "scenario": self.scenario,
            "data_dir": self.data_dir,
            "deteriorating_patients": self.deteriorating,
            "inputs": dict(sorted(self.inputs.items())),
            "duplicates_skipped": self.duplicates,
            "quarantined": {
                "at_ingest": len(self.quarantined),
                "at_deid": self.quarantined_deid,
                "in_store": self.quarantined_total,
                "reasons": self.quarantined,
            },
            "consent": {
                "loaded": self.consents_loaded,
                "rejected": self.consents_rejected,
                "decisions": self.decisions,
                "violations": self.consent_violations,
            },
            "deidentified": {
                "dicom_files": self.deid_dicom_files,
                "fhir_files": self.deid_fhir_files,
                "fhir_resources": self.deid_fhir_resources,
            },
            "research": {
                "released": dict(sorted(self.released_research.items())),
                "released_total": sum(self.released_research.values()),
                "held_after_revocation": self.research_held,
                "payloads_held": self.research_payloads_held,
                "revoked_scope_remaining": self.revoked_research_remaining,
            },
            "scoring": {
                "patients_scored": self.patients_scored,
                "scores": self.scores,
                "alerts": self.alerts,
                "revoked_patients_with_treatment_scores": self.revoked_with_scores,
            },
            "revocations": {
                "count": len(self.receipts),
                "complete": sum(1 for r in self.receipts if r["complete"]),
                "records_found": sum(r["records_found"] for r in self.receipts),
                "records_deleted": sum(r["deleted"] for r in self.receipts),
                "keys_destroyed": sum(r["keys_destroyed"] for r in self.receipts),
                "receipts": self.receipts,
            },
            "leaks": {
                "manifest_entries": self.leak_manifest_entries,
                "files_scanned": self.leak_files_scanned,
                "residual_phi": self.residual_phi,
                "residual_by_kind": self.residual_by_kind,
            },
            "audit": {
                "entries": self.audit_entries,
                "checkpoints": self.audit_checkpoints,
                "verified": self.audit_verified,
                "failures": self.audit_failures,
            },
            "accounting": self.accounting,
            "runtime": self.run,
            "timings_s": self.timings_s,
            "total_s": self.total_s,
        }

    def render(self, console: Console) -> None:
        data = self.to_json()
        table = Table(title=f"clinflow demo: embedded pipeline, {self.patients} patients "
                      f"(seed {self.seed})", show_header=True)  # fmt: skip
        table.add_column("stage")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for kind, count in data["inputs"].items():
            table.add_row("ingest", f"inputs: {kind}", str(count))
        table.add_row("ingest", "quarantined (bad inputs)", str(len(self.quarantined)))
        table.add_row("ingest", "duplicates skipped (seen before)", str(self.duplicates))
        table.add_row("consent", "Consents loaded", str(self.consents_loaded))
        for purpose, counts in self.decisions.items():
            table.add_row("consent", f"{purpose} permit / deny (messages)",
                          f"{counts['permit']} / {counts['deny']}")  # fmt: skip
        table.add_row("de-identify", "DICOM files", str(self.deid_dicom_files))
        table.add_row("de-identify", "FHIR resources (files)",
                      f"{self.deid_fhir_resources} ({self.deid_fhir_files})")  # fmt: skip
        for kind, count in data["research"]["released"].items():
            table.add_row("research", f"released: {kind}", str(count))
        table.add_row("research", "held after revocations", str(self.research_held))
        table.add_row("scoring", "patients scored", str(self.patients_scored))
        table.add_row("scoring", "NEWS2 scores / alerts", f"{self.scores} / {self.alerts}")
        revocations = data["revocations"]
        table.add_row("revocation", "receipts (complete)",
                      f"{revocations['count']} ({revocations['complete']})")  # fmt: skip
        found, deleted = revocations["records_found"], revocations["records_deleted"]
        table.add_row("revocation", "records found / deleted", f"{found} / {deleted}")
        table.add_row("revocation", "data keys destroyed", str(revocations["keys_destroyed"]))
        table.add_row("revocation", "revoked patients' treatment scores kept",
                      str(self.revoked_with_scores))  # fmt: skip
        table.add_row("checks", "residual PHI (research)", str(self.residual_phi))
        table.add_row("checks", "revoked-scope records left", str(self.revoked_research_remaining))
        table.add_row("checks", "consent violations", str(self.consent_violations))
        for kind, account in sorted(self.accounting.items()):
            table.add_row(
                "checks",
                f"{kind}: ingested = released + denied + quarantined",
                f"{account['ingested']} = {account['released']} + {account['denied']}"
                f" + {account['quarantined']}" + ("" if account["balanced"] else " (NO)"),
            )
        table.add_row("audit", "entries / checkpoints",
                      f"{self.audit_entries} / {self.audit_checkpoints}")  # fmt: skip
        table.add_row("audit", "verified", "yes" if self.audit_verified else "NO")
        for stage, seconds in self.timings_s.items():
            table.add_row("time", stage, f"{seconds:.2f} s")
        table.add_row("time", "total", f"{self.total_s:.2f} s")
        console.print(table)
