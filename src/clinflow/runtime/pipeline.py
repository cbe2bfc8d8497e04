"""``clinflow demo``: a short streaming run on the deployment's own stores, then checks.

One process, SQLite stores, no broker. The stages are the streaming graph
(``runtime.stages``) on the embedded runtime (``runtime.embedded``) — the same code
``clinflow run`` uses — over the data directory's own stores (``runtime.deployment``), so
afterwards ``clinflow consent status|revoke``, ``audit ...``, ``quarantine ...`` and the API
all see what the demo did:

1. generate a synthetic cohort (``synthetic/demo.yaml``) into ``<data-dir>/cohort/``;
2. stream it through the graph: ingest (bad inputs quarantined) → consent events → treatment
   (consent gate TREAT → minimum necessary → ICU scoring) and research (DICOM and FHIR
   de-identification → consent gate HRESCH → research store), every step audited;
3. leak scan of everything the research store holds against the generator's PHI manifest;
4. the scheduled research-consent revocations (``labels.json``), with receipts;
5. checks: nothing of a revoked scope left, every held record still permitted, scores kept;
6. ``audit verify`` of the deployment's audit log.

Inputs are idempotent by content: a second demo with the same seed finds every input in the
ledger and processes nothing again (the report counts them as duplicates).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clinflow.audit import events as audit_events
from clinflow.audit.buffer import BufferedSink
from clinflow.config import DataDir, scenarios_dir
from clinflow.consent.decision import DecisionQuery
from clinflow.envelope import Envelope, SourceKind, source_input
from clinflow.runtime.accounting import account_research
from clinflow.runtime.deployment import Deployment
from clinflow.runtime.embedded import EmbeddedRuntime, RunStats
from clinflow.runtime.live_status import RUN_STATUS
from clinflow.runtime.report import DemoReport
from clinflow.runtime.stages import PipelineStages, build_pipeline
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.scenario import load_scenario

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


def cohort_inputs(cohort: Path) -> Iterator[tuple[str, bytes, SourceKind]]:
    """(relative path, bytes, kind) of a generated cohort: Bundles first (each patient's
    Consents reach the registry before any of the patient's data reaches a gate), then DICOM."""
    for path in sorted((cohort / "fhir" / "bundles").glob("*.json")):
        yield path.relative_to(cohort).as_posix(), path.read_bytes(), SourceKind.FHIR
    dicom = cohort / "dicom"
    if dicom.is_dir():
        for path in sorted(dicom.rglob("*")):
            if path.is_file():
                yield path.relative_to(cohort).as_posix(), path.read_bytes(), SourceKind.DICOM


_COHORT_PATIENT = re.compile(r"^(?:fhir/bundles/pat-(\d+)\.json|dicom/p(\d+)/.+)$")


def cohort_route(location: str) -> str | None:
    """The routing key of a generated cohort's file: one per patient, PHI-free.

    A patient's Bundle (``fhir/bundles/pat-N.json``, with its Consents) and its DICOM files
    (``dicom/pN/...``) share it, so on Kafka they stay in order on one entry partition, as
    ``cohort_inputs`` orders them (Bundle first). Without it DICOM was keyed by message id and
    could reach the consent gate before its patient's Consent was registered (seen: 3 of 38
    instances on ``consent-events`` ahead of the Consent; released only because the gate ran
    later). Same key as the generator stream's route for the patient (hash of ``pat-N``).
    """
    match = _COHORT_PATIENT.match(location)
    if match is None:
        return None
    stem = f"pat-{match.group(1) or match.group(2)}"
    return "r-" + hashlib.sha256(stem.encode()).hexdigest()[:16]


def raw_envelope(location: str, data: bytes, kind: SourceKind) -> Envelope:
    """A cohort file as a raw source input (``envelope.source_input``), arriving now, with
    its patient's ``cohort_route``."""
    fmt = "dicom" if kind is SourceKind.DICOM else "fhir-json"
    return source_input(data, kind, datetime.now(UTC), location, fmt, cohort_route(location))


class DemoPipeline:
    """Runs the demo on one data directory; ``run()`` returns the report."""

    def __init__(
        self,
        data_dir: DataDir,
        options: PipelineOptions | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
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
        self.report.data_dir = str(self.data_dir.root)
        with self._stage("generate"):
            self._generate()
        with Deployment.open(self.data_dir) as deployment:
            self._pipeline(deployment)
        # the log signed a checkpoint as the deployment closed
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

    def _pipeline(self, deployment: Deployment) -> None:
        deployment.audit.append(
            audit_events.data_generation(
                patients=self.options.patients,
                seed=self.options.seed,
                output=COHORT_FOLDER,
                scenario=self.report.scenario,
            )
        )
        quarantined_before = _last_quarantine_id(deployment)
        buffered = BufferedSink(deployment.audit)
        stages = build_pipeline(deployment, buffered)
        runtime = EmbeddedRuntime(
            stages.graph, quarantine=deployment.quarantine, audit=buffered,
            ledger=deployment.ledger, status_path=deployment.data_dir.root / RUN_STATUS,
        )  # fmt: skip
        paths: dict[str, str] = {}  # source message id -> cohort path (kept in this process)

        async def source() -> AsyncIterator[Envelope]:
            for location, data, kind in cohort_inputs(self.cohort):
                envelope = raw_envelope(location, data, kind)
                paths[envelope.message_id] = location
                self.report.inputs["fhir-bundle" if kind is SourceKind.FHIR else "dicom"] += 1
                yield envelope

        log = deployment.audit_log()
        first_entry = log.size
        with self._stage("stream"):
            stats = asyncio.run(runtime.run(source()))
        self._record_run(deployment, stages, stats, quarantined_before)
        entries = (log.get_entry(index) or b"{}" for index in range(first_entry, log.size))
        accounts = account_research(entries)
        self.report.accounting = {kind: account.to_json() for kind, account in accounts.items()}
        with self._stage("leak-scan"):
            self._leak_scan(deployment, paths)
        with self._stage("revocation"):
            revoked = self._revoke(deployment)
        with self._stage("checks"):
            self._checks(deployment, revoked)
        self.report.quarantined_total = deployment.quarantine.count(status=None)

    def _record_run(
        self,
        deployment: Deployment,
        stages: PipelineStages,
        stats: RunStats,
        quarantined_before: int,
    ) -> None:
        self.report.run = stats.to_json()
        self.report.duplicates = stats.hops["ingest"].duplicates
        for item in deployment.quarantine.list(status=None):
            if item.id > quarantined_before:
                if item.stage == "ingest":
                    self.report.quarantined.append(f"{item.location}: {item.reason}")
                else:
                    self.report.quarantined_deid += 1
        consent_hop = stats.hops["consent-events"]  # consumes Consents, passes the rest on
        self.report.consents_rejected = consent_hop.rejected
        self.report.consents_loaded = (
            consent_hop.received - consent_hop.emitted - consent_hop.rejected
        )
        gates = (("TREAT", stages.treatment_gate), ("HRESCH", stages.research_gate))
        for purpose, gate in gates:
            self.report.decisions[purpose] = {"permit": gate.permitted, "deny": gate.denied}
        self.report.deid_dicom_files = stages.deid_dicom.emitted.get("dicom", 0)
        fhir_out = stats.hops["deid-fhir"].emitted
        self.report.deid_fhir_files = fhir_out - self.report.deid_dicom_files
        self.report.deid_fhir_resources = stages.fhir_runner.report.resources_out
        self.report.released_research.update(stages.release.released)
        self.report.scores = stages.score_sink.scores
        self.report.alerts = stages.score_sink.alerts
        self.report.patients_scored = len(deployment.scoring().patients())

    def _leak_scan(self, deployment: Deployment, paths: dict[str, str]) -> None:
        """Decrypt everything the research store holds into a scratch tree and scan it."""
        from clinflow.deid.leaks.scanner import scan

        scratch = deployment.data_dir.root / "leak-scan"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            scratch.mkdir()
            for record in deployment.research.records():
                location = paths.get(record.lineage[0]) if record.lineage else None
                if location is None:
                    continue  # released by another run from inputs not in this cohort
                target = scratch / location
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(deployment.research.read(record.output_id))
            offsets = deployment.pseudonymizer.date_offset_days
            leaks = scan(self.cohort / "manifest.ndjson", scratch, offsets)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self.report.record_leaks(leaks)

    def _revoke(self, deployment: Deployment) -> dict[str, tuple[str, ...]]:
        revoked: dict[str, tuple[str, ...]] = {}
        service = deployment.consent
        for scheduled in service.scheduled_revocations(self.cohort / "labels.json"):
            receipt = service.revoke(scheduled.patient, [scheduled.purpose], requested_by=AGENT)
            revoked[scheduled.patient] = receipt.purposes
            self.report.record_receipt(receipt)
        return revoked

    def _checks(self, deployment: Deployment, revoked: dict[str, tuple[str, ...]]) -> None:
        service = deployment.consent
        scoring = deployment.scoring()
        held_records = deployment.research.records()
        for record in held_records:
            decision = service.registry.decide(DecisionQuery(record.patient, record.purpose))
            if not decision.permitted:
                self.report.consent_violations += 1
        for patient, purposes in revoked.items():
            held = [r for r in deployment.research.records(patient) if r.purpose in purposes]
            live = deployment.lineage.find(patient, purposes, with_inputs=False)
            self.report.revoked_research_remaining += len(held) + len(live)
            self.report.revoked_with_scores += scoring.latest_score(patient) is not None
        self.report.research_held = len(held_records)
        self.report.research_payloads_held = len(deployment.research.held())

    def _verify(self) -> None:
        from clinflow.audit.log import DEFAULT_ORIGIN
        from clinflow.audit.store import open_existing_store
        from clinflow.audit.verify import trusted_verifiers, verify_log

        store = open_existing_store(self.data_dir)
        try:
            verifiers = trusted_verifiers(self.data_dir, DEFAULT_ORIGIN, [])
            verified = verify_log(store, verifiers, origin=DEFAULT_ORIGIN)
        finally:
            store.close()
        self.report.record_audit(verified)


def _last_quarantine_id(deployment: Deployment) -> int:
    items = deployment.quarantine.list(status=None)
    return max((item.id for item in items), default=0)


def report_path(data_dir: DataDir) -> Path:
    return data_dir.root / REPORT_NAME
