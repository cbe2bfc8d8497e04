"""The embedded pipeline, run once end to end: what ``clinflow demo`` does.

One process, SQLite stores, no broker; every stage is the capability's own class called
synchronously (``process(envelope) -> list[Envelope]``):

1. generate a synthetic cohort (``synthetic/demo.yaml``) into ``<data-dir>/cohort/``;
2. ingest: files become ``Envelope``s (pseudonymous patient, content ids), bad ones quarantined;
3. load the cohort's Consents into the run's consent registry;
4. treatment: vital signs → consent gate (TREAT, ICU endpoint) → minimum necessary → ICU scoring;
5. research: DICOM and FHIR de-identification → consent gate (HRESCH, research store) →
   research store, lineage recorded;
6. leak scan of everything released to research against the generator's PHI manifest;
7. the scheduled research-consent revocations (``labels.json``), with receipts;
8. checks: nothing of a revoked scope left, every held record still permitted, scores kept;
9. ``audit verify`` of the deployment's audit log.

The figures go to ``DemoReport`` (``report.py``), rendered and written as JSON by the command.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from clinflow.audit import AuditLog
from clinflow.audit import events as audit_events
from clinflow.audit.buffer import BufferedSink
from clinflow.config import DataDir, scenarios_dir
from clinflow.consent.decision import DecisionQuery
from clinflow.consent.service import ConsentService
from clinflow.envelope import Envelope
from clinflow.errors import InputRejected
from clinflow.runtime.ingest import Ingest, IngestReport, vitals_for_treatment
from clinflow.runtime.report import DemoReport
from clinflow.runtime.rundir import RunDir
from clinflow.runtime.stages import (
    ICU_DESTINATION,
    RESEARCH,
    RESEARCH_DESTINATION,
    Gates,
    dicom_stage,
    fhir_runner,
    staging_path,
)
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.scenario import load_scenario

if TYPE_CHECKING:
    from clinflow.scoring.service import ScoringService

DEMO_SCENARIO = scenarios_dir() / "demo.yaml"  # synthetic/demo.yaml, shipped as package data
DEMO_PATIENTS = 12
DEMO_SEED = 7
COHORT_FOLDER = "cohort"
REPORT_NAME = "demo-report.json"
AGENT = "clinflow-demo"


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    patients: int = DEMO_PATIENTS
    seed: int = DEMO_SEED
    scenario: Path | None = None  # default synthetic/demo.yaml
    bad_inputs: bool = True  # plant two malformed files so the quarantine has work to show


def plant_bad_inputs(cohort: Path) -> None:
    """Two inputs no stage can process: a truncated Bundle and a file that is not DICOM."""
    (cohort / "fhir" / "bundles" / "zz-truncated.json").write_bytes(
        b'{"resourceType": "Bundle", "type": "transaction", "entry": ['
    )
    corrupt = cohort / "dicom" / "zz-corrupt"
    corrupt.mkdir(parents=True, exist_ok=True)
    (corrupt / "1.dcm").write_bytes(b"\x00" * 64 + b"this is not a DICOM file")


class DemoPipeline:
    """Runs the stages in order on one data directory; ``run()`` returns the report."""

    def __init__(
        self,
        data_dir: DataDir,
        options: PipelineOptions | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.deployment = data_dir
        self.options = options or PipelineOptions()
        self.progress = progress or (lambda _stage: None)
        self.report = DemoReport(patients=self.options.patients, seed=self.options.seed)
        self.cohort = data_dir.root / COHORT_FOLDER

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        self.progress(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.report.timings_s[name] = round(time.perf_counter() - started, 3)

    def run(self) -> DemoReport:
        started = time.perf_counter()
        run_dir = RunDir.create(self.deployment)
        self.report.run_dir = str(run_dir.root)
        self.report.data_dir = str(self.deployment.root)
        with self._stage("generate"):
            self._generate()
        log = AuditLog.open(self.deployment)
        try:
            buffered = BufferedSink(log)
            with ConsentService(run_dir, audit=log) as service:
                self._pipeline(service, log, buffered)
        finally:
            log.close()  # signs a checkpoint at clean shutdown
        with self._stage("audit-verify"):
            self._verify()
        self.report.total_s = round(time.perf_counter() - started, 3)
        self.report.finish()
        return self.report

    # ----- stages ---------------------------------------------------------------------------
    def _generate(self) -> None:
        scenario = load_scenario(self.options.scenario or DEMO_SCENARIO)
        options = GenerateOptions(
            patients=self.options.patients,
            seed=self.options.seed,
            out=self.cohort,
            scenario=scenario,
            workers=1,
        )
        summary = generate(options)
        if self.options.bad_inputs:
            plant_bad_inputs(self.cohort)
        self.report.scenario = str(summary["scenario"])
        self.report.deteriorating = int(summary["deteriorating_patients"])

    def _pipeline(self, service: ConsentService, log: AuditLog, buffered: BufferedSink) -> None:
        log.append(
            audit_events.data_generation(
                patients=self.options.patients,
                seed=self.options.seed,
                output=str(self.cohort),
                scenario=self.report.scenario,
            )
        )
        with self._stage("ingest"):
            ingested = Ingest(service.pseudonymizer, service.quarantine, buffered).run(self.cohort)
            buffered.flush()
        self.report.record_ingest(ingested)
        with self._stage("consent-load"):
            for bundle in ingested.bundles:
                loaded = service.load(self.cohort / bundle.envelope.attributes["path"])
                self.report.consents_loaded += loaded.loaded
                self.report.consents_rejected += len(loaded.rejected)
        gates = Gates.build(service, buffered)
        with self._stage("treatment"):
            scoring = self._treatment(service, gates, ingested, buffered)
            buffered.flush()
        released: dict[str, str] = {}  # research output id -> cohort path (never released)
        with self._stage("research"):
            self._research(service, gates, ingested, buffered, released)
            buffered.flush()
        self.report.record_gates(gates)
        with self._stage("leak-scan"):
            self._leak_scan(service, released)
        with self._stage("revocation"):
            revoked = self._revoke(service)
        with self._stage("checks"):
            self._checks(service, scoring, revoked)
        self.report.quarantined_total = service.quarantine.count(status=None)

    def _treatment(
        self, service: ConsentService, gates: Gates, ingested: IngestReport, audit: BufferedSink
    ) -> ScoringService:
        from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
        from clinflow.scoring.service import ScoringService
        from clinflow.scoring.stage import IcuScoringStage

        scoring = ScoringService(audit=audit)
        service.targets.register(scoring)  # revocation retracts from the endpoint too
        minimum = MinimumNecessaryStage(scoring.policy.endpoint("icu"), audit)
        icu = IcuScoringStage(scoring)
        for bundle in ingested.bundles:
            vitals = vitals_for_treatment(bundle)
            if vitals is None:
                continue
            try:
                for permitted in gates.treatment.process(vitals):
                    for stripped in minimum.process(permitted):
                        for score in icu.process(stripped):
                            service.lineage.record_release(score, ICU_DESTINATION)
                            self.report.scores += 1
                            self.report.alerts += "alert_id" in score.attributes
            except InputRejected as exc:
                self._quarantine(service, icu.name, vitals, exc)
        self.report.patients_scored = len(scoring.patients())
        return scoring

    def _research(
        self,
        service: ConsentService,
        gates: Gates,
        ingested: IngestReport,
        audit: BufferedSink,
        released: dict[str, str],
    ) -> None:
        dicom = dicom_stage(service, audit)
        for envelope in ingested.dicom:
            for deidentified in dicom.process(_for_research(envelope)):
                self.report.deid_dicom_files += 1
                self._release(gates, audit, deidentified, envelope, released)
        runner = fhir_runner(service, audit)
        staging = staging_path(Path(service.data_dir.root))
        try:
            for bundle in ingested.bundles:
                source = self.cohort / bundle.envelope.attributes["path"]
                runner.run(source, staging)
                staged = staging / source.name
                if not staged.is_file():
                    continue  # the whole file was quarantined by the runner
                self.report.deid_fhir_files += 1
                request = _for_research(bundle.envelope)
                deidentified = request.derive(staged.read_bytes())
                self._release(gates, audit, deidentified, bundle.envelope, released)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.report.deid_fhir_resources = runner.report.resources_out
        dicom_rejected = len(ingested.dicom) - self.report.deid_dicom_files
        self.report.quarantined_deid = dicom_rejected + runner.report.quarantined

    def _release(
        self,
        gates: Gates,
        audit: BufferedSink,
        envelope: Envelope,
        source: Envelope,
        released: dict[str, str],
    ) -> None:
        """Through the research gate into the store; each release is a disclosure (164.528)."""
        for written in gates.research_sink.process(envelope):
            released[written.message_id] = source.attributes["path"]
            self.report.released_research[source.source.value] += 1
            audit.append(
                audit_events.disclosure(
                    patient=written.patient,
                    recipient=RESEARCH_DESTINATION,
                    purpose=RESEARCH,
                    message_ids=[written.message_id],
                    agent=AGENT,
                    data_categories=[written.attributes.get("category", written.source.value)],
                )
            )

    def _leak_scan(self, service: ConsentService, released: dict[str, str]) -> None:
        """Decrypt everything the research store holds into a scratch tree and scan it."""
        from clinflow.deid.leaks.scanner import scan

        scratch = Path(service.data_dir.root) / "leak-scan"
        try:
            for record in service.research.records():
                target = scratch / released[record.output_id]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(service.research.read(record.output_id))
            scratch.mkdir(exist_ok=True)
            offsets = service.pseudonymizer.date_offset_days
            leaks = scan(self.cohort / "manifest.ndjson", scratch, offsets)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self.report.record_leaks(leaks)

    def _revoke(self, service: ConsentService) -> dict[str, tuple[str, ...]]:
        revoked: dict[str, tuple[str, ...]] = {}
        for scheduled in service.scheduled_revocations(self.cohort / "labels.json"):
            receipt = service.revoke(
                scheduled.patient, [scheduled.purpose], requested_by=AGENT
            )
            revoked[scheduled.patient] = receipt.purposes
            self.report.record_receipt(receipt)
        return revoked

    def _checks(
        self,
        service: ConsentService,
        scoring: ScoringService,
        revoked: dict[str, tuple[str, ...]],
    ) -> None:
        held_records = service.research.records()
        for record in held_records:
            decision = service.registry.decide(DecisionQuery(record.patient, record.purpose))
            if not decision.permitted:
                self.report.consent_violations += 1
        for patient, purposes in revoked.items():
            held = [r for r in service.research.records(patient) if r.purpose in purposes]
            live = service.lineage.find(patient, purposes, with_inputs=False)
            self.report.revoked_research_remaining += len(held) + len(live)
            self.report.revoked_with_scores += scoring.latest_score(patient) is not None
        self.report.research_held = len(held_records)
        self.report.research_files_on_disk = len(service.research.files())

    def _verify(self) -> None:
        from clinflow.audit.log import DEFAULT_ORIGIN
        from clinflow.audit.store import open_existing_store
        from clinflow.audit.verify import trusted_verifiers, verify_log

        store = open_existing_store(self.deployment)
        try:
            verifiers = trusted_verifiers(self.deployment, DEFAULT_ORIGIN, [])
            verified = verify_log(store, verifiers, origin=DEFAULT_ORIGIN)
        finally:
            store.close()
        self.report.record_audit(verified)

    # ----- helpers --------------------------------------------------------------------------
    def _quarantine(
        self, service: ConsentService, stage: str, envelope: Envelope, exc: InputRejected
    ) -> None:
        service.quarantine.put(
            stage, exc.location or envelope.message_id, exc.reason, patient=envelope.patient
        )
        self.report.quarantined.append(f"{exc.location or envelope.message_id}: {exc.reason}")


def _for_research(envelope: Envelope) -> Envelope:
    """The same input, now headed for the research store (purpose of use HRESCH)."""
    return replace(envelope, purpose=RESEARCH)


def report_path(data_dir: DataDir) -> Path:
    return data_dir.root / REPORT_NAME
