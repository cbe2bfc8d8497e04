"""The consent capability's operations for one deployment (CLI and API use this).

Built by the composition root (``clinflow.runtime.deployment``) from the deployment's stores:
load Consent resources, consent status, revoke with receipt (and retry an incomplete one),
the gate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from clinflow.audit.events import Agent
from clinflow.config import DataDir
from clinflow.consent.decision import DecisionQuery
from clinflow.consent.gate import ConsentGate
from clinflow.consent.model import ConsentRecord, parse_consent
from clinflow.consent.policy import ConsentPolicy
from clinflow.consent.receipt import Receipt
from clinflow.consent.registry import ConsentRegistry
from clinflow.consent.revocation import RevocationService
from clinflow.crypto.datakeys import DataKeyStore
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import ConfigError, InputRejected
from clinflow.interfaces import AuditSink, Rejection
from clinflow.lineage import LineageIndex
from clinflow.patient_ids import PSEUDONYM_PREFIX, patient_mrn
from clinflow.quarantine import Quarantine
from clinflow.sinks.registry import RetractionRegistry
from clinflow.sinks.research import ResearchStore


@dataclass
class LoadReport:
    loaded: int = 0
    revocations: list[Receipt] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # locations, never values


def _resources(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, resource) from a JSON resource/Bundle or an ndjson file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ndjson":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield f"{path.name}:{number}", orjson.loads(line)
                except orjson.JSONDecodeError:
                    yield f"{path.name}:{number}", None
        return
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        yield path.name, None
        return
    if isinstance(document, Mapping) and document.get("resourceType") == "Bundle":
        for index, entry in enumerate(document.get("entry") or []):
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            yield f"{path.name}#entry[{index}]", resource
    else:
        yield path.name, document


def _input_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    files = []
    for file in sorted(path.rglob("*")):
        if file.suffix == ".json" and file.name != "labels.json":
            files.append(file)
        elif file.suffix == ".ndjson" and file.name.startswith(("Patient", "Consent")):
            files.append(file)
    return files


@dataclass(frozen=True, slots=True)
class ScheduledRevocation:
    """A revocation the generator scheduled (``labels.json``), for replay drivers."""

    patient: str  # pseudonym
    purpose: str
    revoke_at: datetime
    consent_id: str


# A service, not a value: compared by identity, and no repr that would print its stores and keys.
@dataclass(kw_only=True, eq=False, repr=False)
class ConsentService:
    """The consent operations users call (CLI and API), over stores opened by the caller.

    It opens nothing itself: ``clinflow.runtime.deployment.Deployment`` (the composition root)
    opens a data directory's stores once and builds this service from them, so the CLI, the
    API, ``serve`` and the runtimes share the same registry, lineage and targets.
    """

    data_dir: DataDir
    pseudonymizer: Pseudonymizer
    policy: ConsentPolicy
    registry: ConsentRegistry
    lineage: LineageIndex
    datakeys: DataKeyStore
    research: ResearchStore
    quarantine: Quarantine
    targets: RetractionRegistry
    audit: AuditSink
    revocations: RevocationService = field(init=False)

    def __post_init__(self) -> None:
        self.revocations = RevocationService(
            self.registry, self.lineage, self.targets, self.datakeys, self.audit
        )

    # -------------------------------------------------------------- patients

    def pseudonym_for(self, mrn: str) -> str:
        return self.pseudonymizer.patient_pseudonym(mrn)

    def resolve_patient(self, record: ConsentRecord, fhir_ids: Mapping[str, str]) -> str:
        """Pseudonym of a Consent's patient: ``Patient/PT-…`` as is, else via its MRN."""
        reference_id = record.patient_ref.rpartition("/")[2]
        if reference_id.startswith(PSEUDONYM_PREFIX):
            return reference_id
        if record.patient_identifier is not None:
            return self.pseudonym_for(record.patient_identifier)
        mrn = fhir_ids.get(reference_id)
        if mrn is None:
            raise InputRejected(
                "patient not resolvable: reference a pseudonym, carry an MR identifier, or"
                " include the Patient resource in the same file",
                f"Consent/{record.consent_id}",
            )
        return self.pseudonym_for(mrn)

    # -------------------------------------------------------------- operations

    def load(self, path: Path) -> LoadReport:
        """Ingest Consent resources from a file or folder; bad ones are quarantined.

        Files: a Bundle or single resource (``.json``) or ndjson. A folder is read recursively;
        in ndjson folders (Bulk export) only ``Patient*`` and ``Consent*`` files are read.
        Patients resolve through Patient resources anywhere in what is loaded.
        """
        report = LoadReport()
        items = [item for file in _input_files(path) for item in _resources(file)]
        fhir_ids = {
            str(res["id"]): mrn
            for _, res in items
            if isinstance(res, Mapping) and res.get("resourceType") == "Patient" and res.get("id")
            for mrn in [patient_mrn(res)]
            if mrn is not None
        }
        for location, resource in items:
            if isinstance(resource, Mapping) and resource.get("resourceType") != "Consent":
                continue  # Patients and other resources ride along; only Consents are loaded
            try:
                if resource is None:
                    raise InputRejected("not valid JSON", location)
                record = parse_consent(resource, source=location)
                patient = self.resolve_patient(record, fhir_ids)
            except InputRejected as exc:
                self.quarantine.put(
                    Rejection(
                        "consent-load",
                        exc.location or location,
                        exc.reason,
                        payload=orjson.dumps(resource) if resource else None,
                    )
                )
                report.rejected.append(exc.location or location)
                continue
            receipt = self.revocations.apply_consent(patient, record)
            report.loaded += 1
            if receipt is not None:
                report.revocations.append(receipt)
        return report

    def scheduled_revocations(self, labels: Path) -> list[ScheduledRevocation]:
        """Revocations scheduled in a generator's ``labels.json``, MRNs pseudonymized."""
        try:
            data = orjson.loads(labels.read_bytes())
            return [
                ScheduledRevocation(
                    patient=self.pseudonym_for(str(item["mrn"])),
                    purpose=str(item["purpose"]),
                    revoke_at=datetime.fromisoformat(str(item["revoke_at"])),
                    consent_id=str(item["consent"]),
                )
                for item in data.get("consent_revocations", [])
            ]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{labels}: cannot read consent_revocations ({type(exc).__name__})"
            ) from exc

    def revoke(
        self,
        patient: str,
        purposes: list[str] | None = None,
        *,
        retroactive: bool = True,
        requested_by: str | Agent = "clinflow-cli",
    ) -> Receipt:
        return self.revocations.revoke(
            patient, purposes, retroactive=retroactive, requested_by=requested_by
        )

    def retry(self, receipt_id: str, *, requested_by: str | Agent = "clinflow-cli") -> Receipt:
        """Finish an incomplete revocation: sweep again for what its receipt left behind.

        Retraction is idempotent and the lineage marks only what was retracted, so the new
        sweep reaches exactly the targets the first one could not (a new receipt says so).
        """
        previous = self.revocations.receipt(receipt_id)
        if previous is None:
            raise ConfigError(f"--retry {receipt_id}: no such receipt")
        return self.revocations.revoke(
            previous.patient,
            list(previous.purposes),
            retroactive=previous.retroactive,
            requested_by=requested_by,
        )

    def gate(self, destination: str) -> ConsentGate:
        return ConsentGate(self.registry, self.audit, destination=destination)

    def status(self, patient: str) -> dict[str, Any]:
        """The consent state of a patient: version, consents, revocations, per-purpose decision."""
        surviving = self.lineage.merges.surviving(patient)
        decisions = {}
        for purpose in self.policy.purposes:
            decision = self.registry.decide(DecisionQuery(patient, purpose))
            decisions[purpose] = {
                "decision": decision.effect.value,
                "source": decision.source.value,
                "reason": decision.reason,
            }
        return {
            "patient": patient,
            "version": self.registry.version(patient),
            "consents": [
                {
                    "id": c.consent_id,
                    "status": c.status,
                    "fhir_version": c.fhir_version.value,
                    "decision": c.root.effect.value,
                }
                for c in self.registry.consents(patient)
            ],
            "revocations": [
                {
                    "id": r.revocation_id,
                    "purposes": sorted(r.purposes),
                    "effective_at": r.effective_at.isoformat(),
                    "retroactive": r.retroactive,
                }
                for r in self.registry.revocations(patient)
            ],
            "decisions": decisions,
            "receipts": [r.receipt_id for r in self.revocations.receipts(patient)],
            # records merged into this patient (ADR 0102): its revocations cover them too
            "merged_patients": self.lineage.merges.aliases(patient),
            "merged_into": None if surviving == patient else surviving,
        }

    def summary(self) -> list[dict[str, Any]]:
        """One line per patient in the registry."""
        return [
            {
                "patient": patient,
                "version": self.registry.version(patient),
                "consents": len(self.registry.consents(patient)),
                "revocations": len(self.registry.revocations(patient, in_force_only=True)),
            }
            for patient in self.registry.patients()
        ]
