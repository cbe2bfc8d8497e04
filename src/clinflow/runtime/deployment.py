"""The composition root: one deployment's stores opened once, its stages and targets built.

Every entry point — the CLI commands, the audit-query API, ``clinflow serve``, the embedded
and the Kafka runtimes — gets its stores from a ``Deployment`` instead of opening them itself,
so what one command writes the next one sees: the audit log (SQLite ``audit.db`` or
PostgreSQL), consent registry, lineage index, data keys, research store, quarantine, the
idempotency ledger and the scoring store, all in one data directory.

Retraction targets are registered here, once: the research store, the quarantine and the
scoring state. Scoring state has one owner at a time: a running ``clinflow serve
scoring|all`` registers itself in ``<data-dir>/services/scoring.json`` (its URL and the
service token it accepts), and a revocation from any other process then retracts through
it over HTTP — if it cannot be reached the receipt is incomplete and names it, and
``clinflow consent revoke --retry RECEIPT`` finishes the job later. With no service
registered, the deployment's own scoring service (in process) or the scoring store is the
target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clinflow.config import DataDir
from clinflow.consent.policy import load_policy as load_consent_policy
from clinflow.consent.registry import ConsentRegistry
from clinflow.consent.service import ConsentService
from clinflow.consent.store import SqliteConsentStore
from clinflow.crypto.datakeys import DataKeyStore
from clinflow.crypto.keys import KeyRing
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.quarantined import patient_resolver
from clinflow.errors import ConfigError
from clinflow.interfaces import AuditSink
from clinflow.lineage import LineageIndex
from clinflow.quarantine import Quarantine, QuarantineSeal
from clinflow.runtime.ledger import Ledger
from clinflow.services import ServiceRegistration, read_registration
from clinflow.sinks.quarantine_target import QuarantineRetraction
from clinflow.sinks.registry import RetractionRegistry
from clinflow.sinks.research import ResearchStore

if TYPE_CHECKING:
    from clinflow.audit.log import AuditLog
    from clinflow.scoring.policy import EndpointsPolicy
    from clinflow.scoring.service import ScoringService
    from clinflow.scoring.store import ScoringStore

SCORING_SERVICE = "scoring"


@dataclass
class Deployment:
    """Every store of one data directory, opened once; close it when done."""

    data_dir: DataDir
    keyring: KeyRing
    pseudonymizer: Pseudonymizer
    audit: AuditSink
    consent: ConsentService
    lineage: LineageIndex
    datakeys: DataKeyStore
    research: ResearchStore
    quarantine: Quarantine
    ledger: Ledger
    scoring_store: ScoringStore
    targets: RetractionRegistry
    _owned_log: AuditLog | None = None
    _scoring: ScoringService | None = None

    @classmethod
    def open(
        cls,
        data_dir: DataDir | str | Path | None = None,
        *,
        audit: AuditSink | None = None,
        dsn: str | None = None,
        consent_policy: Path | None = None,
    ) -> Deployment:
        """Open (creating on first use) every store of ``data_dir``.

        ``audit``: an injected sink (tests, benchmarks); else the deployment's audit log,
        SQLite, or PostgreSQL when ``dsn`` is given.
        """
        from clinflow.scoring.store import ScoringStore

        root = data_dir if isinstance(data_dir, DataDir) else DataDir.open(data_dir)
        keyring = KeyRing(root.keys)
        owned_log = None
        if audit is None:
            from clinflow.audit.log import AuditLog

            owned_log = AuditLog.open(root, dsn=dsn)
            audit = owned_log
        pseudonymizer = Pseudonymizer(keyring.project_key())
        policy = load_consent_policy(consent_policy)
        registry = ConsentRegistry(SqliteConsentStore(root.consent_db), policy)
        lineage = LineageIndex(root.lineage_db)
        datakeys = DataKeyStore(root.datakeys_db, keyring.master_key())
        research = ResearchStore(root.research_store, datakeys, lineage)
        quarantine = Quarantine(root.quarantine_db, QuarantineSeal.for_keys(datakeys, keyring))
        targets = RetractionRegistry()
        targets.register(research)
        targets.register(QuarantineRetraction(quarantine, patient_resolver(pseudonymizer)))
        consent = ConsentService(
            data_dir=root,
            pseudonymizer=pseudonymizer,
            policy=policy,
            registry=registry,
            lineage=lineage,
            datakeys=datakeys,
            research=research,
            quarantine=quarantine,
            targets=targets,
            audit=audit,
        )
        deployment = cls(
            data_dir=root,
            keyring=keyring,
            pseudonymizer=pseudonymizer,
            audit=audit,
            consent=consent,
            lineage=lineage,
            datakeys=datakeys,
            research=research,
            quarantine=quarantine,
            ledger=Ledger(root.ledger_db),
            scoring_store=ScoringStore(root.scoring_db),
            targets=targets,
            _owned_log=owned_log,
        )
        deployment._register_scoring_target()
        return deployment

    # ----- scoring ----------------------------------------------------------------------------
    def scoring_registration(self) -> ServiceRegistration | None:
        return read_registration(self.data_dir, SCORING_SERVICE)

    def _register_scoring_target(self) -> None:
        """The running scoring service when one is registered, else the stored state."""
        from clinflow.scoring.remote import RemoteScoringTarget
        from clinflow.scoring.store import StoredScoringTarget

        registration = self.scoring_registration()
        if registration is not None:
            self.targets.register(RemoteScoringTarget(registration))
        else:
            from clinflow.scoring.policy import load_policy as load_endpoints_policy

            purposes = load_endpoints_policy(None).held_purposes()
            self.targets.register(StoredScoringTarget(self.scoring_store, purposes))

    def scoring(self, policy: EndpointsPolicy | None = None) -> ScoringService:
        """This process's scoring service, restored from the scoring store on first use; it
        becomes the scoring retraction target of this deployment."""
        if self._scoring is None:
            from clinflow.scoring.policy import load_policy as load_endpoints_policy
            from clinflow.scoring.service import ScoringService

            service = ScoringService(
                policy or load_endpoints_policy(None), audit=self.audit, store=self.scoring_store
            )
            service.restore()
            self.targets.unregister(SCORING_SERVICE)
            self.targets.register(service)
            self._scoring = service
        return self._scoring

    def audit_log(self) -> AuditLog:
        """The deployment's own AuditLog (``ConfigError`` when a sink was injected instead)."""
        from clinflow.audit.log import AuditLog

        if not isinstance(self.audit, AuditLog):
            raise ConfigError("this deployment audits to an injected sink, not its AuditLog")
        return self.audit

    # ----- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Close every store; the audit log (if owned) signs a checkpoint as it closes."""
        for closable in (
            self.research,
            self.lineage,
            self.datakeys,
            self.quarantine,
            self.ledger,
            self.scoring_store,
        ):
            closable.close()
        self.consent.registry.store.close()
        if self._owned_log is not None:
            self._owned_log.close()
            self._owned_log = None

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
