"""Legal basis and retention per store (``policies/retention.yaml``) and their enforcement.

Every store declares why it may hold what it holds (``treatment``, ``consent+dua``,
``legal_obligation``) and for how long. ``RetentionEnforcer.enforce(as_of)`` checks every
record of the research store (``consent+dua``) against its basis at ``as_of``: the patient's
consent for the purpose (and, for a record released under a pseudonym since merged into
another, ADR 0102, the surviving patient's revocations), a data use agreement in force
covering the record's data class, and the retention period since release. What has outlived
its basis is retracted through the same machinery as a consent revocation
(``RevocationService.retract_records``: every retraction target, purge AuditEvents, the
lineage marked, a receipt), and the patient's data keys of the purpose are destroyed when
nothing of theirs is left under it. The stores held for treatment (quarantine, scoring) lose
their basis by age alone: ``clinflow.consent.retention_stores``. Afterwards it checks again:
nothing without a basis may remain (``verified``). See docs/adr/0094-data-use-agreements.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from clinflow.audit.events import PURPOSES
from clinflow.config import DataDir, policies_dir
from clinflow.consent.decision import Decision, DecisionQuery, DecisionSource
from clinflow.consent.dua import (
    AgreementSet,
    DeidLevel,
    ReleaseAgreements,
    classes_of_categories,
    load_deployment_agreements,
)
from clinflow.consent.registry import ConsentRegistry
from clinflow.consent.retention_report import RetentionReport, StoreReport
from clinflow.consent.retention_stores import (
    AGENT,
    QuarantineRetention,
    ScoringRetention,
    TimedStore,
    enforce_timed,
)
from clinflow.consent.revocation import RevocationService
from clinflow.consent.service import ConsentService
from clinflow.errors import ConfigError
from clinflow.lineage import LineageIndex, LineageRecord
from clinflow.patient_merges import PatientMerges
from clinflow.policy_loader import PolicyModel, Shape, read_document
from clinflow.scoring.store import ScoringStore
from clinflow.sinks.research import ResearchRecord, ResearchStore

DEFAULT_RETENTION_PATH = policies_dir() / "retention.yaml"
SHAPE = Shape(rule_maps=frozenset({"stores"}))
RESEARCH_STORE = "research-store"


class LegalBasis(StrEnum):
    TREATMENT = "treatment"
    CONSENT_DUA = "consent+dua"
    LEGAL_OBLIGATION = "legal_obligation"


class RetentionPeriod(PolicyModel):
    days: int | None = Field(default=None, ge=1)
    years: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_unit(self) -> RetentionPeriod:
        if (self.days is None) == (self.years is None):
            raise ValueError("give exactly one of days or years")
        return self

    @property
    def total_days(self) -> int:
        return self.days if self.days is not None else 365 * (self.years or 0)


class StoreRetention(PolicyModel):
    """One store's declaration."""

    basis: LegalBasis
    purposes: tuple[str, ...] = ()
    deidentification: DeidLevel | None = None
    retention: RetentionPeriod
    enforced: bool = False
    description: str = ""


class RetentionPolicy(PolicyModel):
    version: int = Field(ge=1)
    stores: dict[str, StoreRetention]

    def store(self, name: str) -> StoreRetention:
        return self.stores[name]


def load_retention(path: Path | None = None) -> RetentionPolicy:
    """Read and validate the retention policy; a bad file raises ``PolicyError``."""
    document = read_document(path or DEFAULT_RETENTION_PATH, SHAPE)
    policy = document.validate(RetentionPolicy)
    for name, store in policy.stores.items():
        for index, purpose in enumerate(store.purposes):
            if purpose not in PURPOSES:
                raise document.error(
                    ("stores", name, "purposes", index), f"unknown purpose of use {purpose!r}"
                )
    research = policy.stores.get(RESEARCH_STORE)
    if research is None:
        raise document.error(("stores",), f"{RESEARCH_STORE} must declare its basis")
    if research.basis is not LegalBasis.CONSENT_DUA or not research.purposes:
        raise document.error(
            ("stores", RESEARCH_STORE, "basis"), "the research store holds under consent+dua"
        )
    if research.deidentification is None:
        raise document.error(
            ("stores", RESEARCH_STORE, "deidentification"), "declare the level it holds"
        )
    return policy


@lru_cache(maxsize=1)
def default_retention() -> RetentionPolicy:
    return load_retention(DEFAULT_RETENTION_PATH)


def research_release_agreements(
    data_dir: DataDir | None = None, agreements: AgreementSet | None = None
) -> ReleaseAgreements:
    """What a research gate checks besides consent: the deployment's agreements, for data at
    the level the research store declares."""
    level = default_retention().store(RESEARCH_STORE).deidentification
    assert level is not None  # load_retention refuses a research store without one
    return ReleaseAgreements(agreements or load_deployment_agreements(data_dir), level)


# ------------------------------------------------------------------------- enforcement


@dataclass(frozen=True, slots=True)
class Expired:
    """A record past its basis, and why (a reason code and a PHI-free explanation)."""

    record: ResearchRecord
    code: str  # consent-withdrawn | dua-expired | retention-elapsed
    reason: str
    basis_id: str


def _released_before(
    registry: ConsentRegistry, consent: Decision, record: ResearchRecord, patient: str = ""
) -> bool:
    """A record released before a non-retroactive revocation keeps its basis (ADR 0042: such
    a revocation purges only what came after its effective time). ``patient``: whose
    revocation it is (default the record's own patient)."""
    if consent.revocation_id is None:
        return False
    for revocation in registry.revocations(patient or record.patient):
        if revocation.revocation_id == consent.revocation_id:
            return not revocation.retroactive and record.event_time < revocation.effective_at
    return False


MERGED_NOTE = "the patient this record was merged into"


def survivor_withdrawal(
    registry: ConsentRegistry,
    merges: PatientMerges,
    record: ResearchRecord,
    query: DecisionQuery,
    as_of: datetime,
) -> Decision | None:
    """The surviving patient's withdrawal that also covers ``record``, released under a
    pseudonym since merged into them (ADR 0102: a revocation in force of the survivor covers
    the records merged into them, as if they had been theirs all along), even when it was
    never recorded for the merged pseudonym (made before the merge, and the merge's
    extension did not run). None when the record's patient was not merged, or the survivor
    has not withdrawn (their lack of a consent of their own does not govern the record)."""
    survivor = merges.surviving(record.patient)
    if survivor == record.patient:
        return None
    decision = registry.decide(replace(query, patient=survivor), as_of)
    if decision.permitted or decision.source is not DecisionSource.REVOCATION:
        return None
    if _released_before(registry, decision, record, survivor):
        return None
    return decision


@dataclass
class RetentionEnforcer:
    """Checks the research store against its declared basis; retracts what outlived it."""

    policy: RetentionPolicy
    agreements: ReleaseAgreements
    revocations: RevocationService
    research: ResearchStore
    lineage: LineageIndex
    timed: tuple[TimedStore, ...] = ()  # stores held for treatment: expire by age alone
    merges: PatientMerges | None = None

    def expired(self, as_of: datetime) -> list[Expired]:
        """Research records without a basis at ``as_of`` (consent, DUA, retention period)."""
        rule = self.policy.store(RESEARCH_STORE)
        released = self._released_at()
        limit = timedelta(days=rule.retention.total_days)
        found: list[Expired] = []
        registry = self.revocations.registry
        for record in self.research.records():
            categories = frozenset(part for part in record.category.split(",") if part)
            query = DecisionQuery(record.patient, record.purpose, categories, RESEARCH_STORE)
            consent = registry.decide(query, as_of)
            if not consent.permitted and not _released_before(registry, consent, record):
                basis = consent.revocation_id or consent.consent_id or "policy"
                found.append(Expired(record, "consent-withdrawn", consent.reason, basis))
                continue
            withdrawn = self._withdrawn_by_survivor(record, query, as_of)
            if withdrawn is not None:
                found.append(withdrawn)
                continue
            agreement = self.agreements.agreements.decide(
                record.purpose,
                classes_of_categories(categories),
                as_of,
                held=self.agreements.held,
            )
            if not agreement.permitted:
                code = "dua-expired" if agreement.code == "dua-expired" else "no-dua"
                found.append(Expired(record, code, agreement.reason, "dua"))
                continue
            at = released.get(record.output_id)
            if at is not None and at + limit < as_of:
                reason = f"retention of {rule.retention.total_days} days elapsed"
                found.append(Expired(record, "retention-elapsed", reason, "retention"))
        return found

    def _withdrawn_by_survivor(
        self, record: ResearchRecord, query: DecisionQuery, as_of: datetime
    ) -> Expired | None:
        if self.merges is None:
            return None
        registry = self.revocations.registry
        decision = survivor_withdrawal(registry, self.merges, record, query, as_of)
        if decision is None:
            return None
        reason = f"{decision.reason} ({MERGED_NOTE})"
        return Expired(record, "consent-withdrawn", reason, decision.revocation_id or "merge")

    def _released_at(self) -> dict[str, datetime]:
        times: dict[str, datetime] = {}
        for patient in {record.patient for record in self.research.records()}:
            for item in self.lineage.find(patient, include_retracted=True, with_inputs=False):
                if item.sink == RESEARCH_STORE:
                    times[item.output_id] = datetime.fromtimestamp(item.released_at, UTC)
        return times

    def enforce(self, as_of: datetime) -> RetentionReport:
        report = RetentionReport(as_of=as_of.isoformat())
        timed = {store.name: store for store in self.timed}
        for name, rule in sorted(self.policy.stores.items()):
            if name in timed:
                days = rule.retention.total_days
                result = StoreReport(name, rule.basis.value, days, rule.enforced)
                enforce_timed(timed[name], result, as_of, self.revocations, report)
                report.stores.append(result)
            elif name != RESEARCH_STORE:
                note = "declared; not enforced by this job" + (
                    "" if not rule.enforced else " (no enforcement implemented for this store)"
                )
                report.stores.append(
                    StoreReport(name, rule.basis.value, rule.retention.total_days, False, note=note)
                )
        rule = self.policy.store(RESEARCH_STORE)
        store = StoreReport(
            RESEARCH_STORE, rule.basis.value, rule.retention.total_days, rule.enforced
        )
        report.stores.append(store)
        store.held_before = len(self.research.records())
        expired = self.expired(as_of) if rule.enforced else []
        store.by_reason = dict(Counter(item.code for item in expired))
        by_patient: dict[str, list[Expired]] = {}
        for item in expired:
            by_patient.setdefault(item.record.patient, []).append(item)
        for patient, items in sorted(by_patient.items()):
            self._retract(patient, items, rule.purposes, report)
        store.held_after = len(self.research.records())
        store.removed = store.held_before - store.held_after
        report.remaining_without_basis += len(self.expired(as_of)) if rule.enforced else 0
        if not rule.enforced:
            store.note = "enforced: false in the retention policy"
        return report

    def _retract(
        self,
        patient: str,
        items: list[Expired],
        purposes: tuple[str, ...],
        report: RetentionReport,
    ) -> None:
        wanted = {item.record.output_id for item in items}
        found: list[LineageRecord] = [
            record
            for record in self.lineage.find(patient, purposes, with_inputs=False)
            if record.output_id in wanted and record.sink == RESEARCH_STORE
        ]
        left = [r for r in self.research.records(patient) if r.output_id not in wanted]
        codes = sorted({item.code for item in items})
        receipt = self.revocations.retract_records(
            patient,
            found,
            basis_id=f"retention:{'+'.join(codes)}",
            purposes=purposes,
            reason="; ".join(codes),
            shred=not left,
            requested_by=AGENT,
            note="; ".join(sorted({item.reason for item in items})),
        )
        report.complete = report.complete and receipt.complete
        report.keys_destroyed += len(receipt.keys_destroyed)
        report.receipts.append(receipt.to_dict())
        for item in sorted(items, key=lambda entry: entry.record.output_id):
            report.removed.append(
                {
                    "store": RESEARCH_STORE,
                    "output_id": item.record.output_id,
                    "patient": patient,
                    "reason": item.code,
                    "detail": item.reason,
                }
            )


def enforcer_for(
    service: ConsentService,
    data_dir: DataDir | None = None,
    scoring: ScoringStore | None = None,
) -> RetentionEnforcer:
    """An enforcer over a deployment's consent service (its registry, lineage, targets,
    quarantine) and, when given, its scoring store."""
    timed: list[TimedStore] = [QuarantineRetention(service.quarantine)]
    if scoring is not None:
        timed.append(ScoringRetention(scoring))
    return RetentionEnforcer(
        policy=default_retention(),
        agreements=research_release_agreements(data_dir),
        revocations=service.revocations,
        research=service.research,
        lineage=service.lineage,
        timed=tuple(timed),
        merges=service.lineage.merges,
    )


def parse_instant(value: str, option: str) -> datetime:
    """An ISO date or date-time; no zone means UTC. ``ConfigError`` names the option."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: expected an ISO date or date-time") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
