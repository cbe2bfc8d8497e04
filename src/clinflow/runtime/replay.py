"""``clinflow replay``: drive the deployment's pipeline with a recorded or generated stream at
a controlled rate, break things on purpose, and report speed and correctness side by side.

``run_replay(options)``:

1. opens the source (``replay_load.open_source``) and a FRESH data directory (a replay on a
   deployment that already processed inputs would skip them as done and measure nothing);
2. builds the open-loop schedule with the faults woven in (``replay_load.schedule``), and
   runs the streaming graph on the embedded runtime, fed at the scheduled times
   (``replay_metrics.paced``), latency per output from scheduled arrival to sink; or, with
   ``--runtime kafka``, sends the schedule into worker processes (``replay_kafka``);
3. checks, from the stores and the audit log: inputs lost (no ingest or quarantine entry),
   outputs duplicated at sinks and repeated disclosures, accounting per kind, quarantine by
   reason, residual PHI in the research store (leak scan against the source's manifest),
   consent violations, revoked patients' data left anywhere, and ``audit verify``;
4. writes ``report.json`` (``replay_report.ReplayReport``) and ``report.html``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from clinflow.errors import ConfigError
from clinflow.runtime.replay_checks import check_run, verify_audit
from clinflow.runtime.replay_load import (
    FaultInjector,
    Patients,
    ReplaySource,
    Scheduled,
    ScheduleState,
    open_source,
    schedule,
)
from clinflow.runtime.replay_metrics import (
    ReplayMetrics,
    TimedStage,
    paced,
    sample_queues,
    summarize,
)
from clinflow.runtime.replay_outage import StalledAudit
from clinflow.runtime.replay_report import (
    Correctness,
    FaultMark,
    HopSummary,
    InputsSummary,
    ReplayReport,
    RunSummary,
    Timeline,
    failed_checks,
)
from clinflow.runtime.replay_spec import FaultKind, FaultPlan, Load, parse_faults, parse_rate

if TYPE_CHECKING:
    from clinflow.deid.fhir.io import Validation
    from clinflow.runtime.deployment import Deployment
    from clinflow.runtime.embedded import EmbeddedRuntime, RunStats
    from clinflow.runtime.offload import DeidWorkers
    from clinflow.runtime.stages import PipelineStages

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
MAX_BUCKETS = 150
NOISE_NOTE = (
    "Figures from one process on a shared machine; the load generator runs in the "
    "same process as the pipeline (its lag is reported). Treat absolute numbers "
    "as indicative."
)


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    source: str
    report_dir: Path
    data_dir: Path | None = None  # default: <report_dir>/data
    runtime: str = "embedded"
    rate: str = "max"
    ramp: str | None = None
    duration_s: float | None = None
    patients: int = 20
    seed: int = 7
    faults: str | None = None
    validation: Validation = "input"
    deid_workers: int = 0  # embedded: FHIR de-identification processes (ADR 0112)
    leak_scan: bool = True
    verify_audit: bool = True
    brokers: str | None = None  # kafka: bootstrap servers (default: a local Tansu broker)
    broker_storage: str | None = None  # kafka: the local broker's storage (default: memory)
    workers: int = 2  # kafka: clinflow worker processes
    partitions: int = 4  # kafka: partitions per topic


@dataclass
class _Run:
    """What the run left for the checks and the report."""

    source: ReplaySource
    load: Load
    plan: FaultPlan
    injector: FaultInjector
    state: ScheduleState
    metrics: ReplayMetrics
    stats: RunStats | None = None
    stalled_commits: int = 0  # audit-outage: group commits held back
    kills: list[dict[str, float]] = field(default_factory=list)  # kill-worker
    restarts: list[dict[str, float]] = field(default_factory=list)  # kafka: broker-restart
    resent: int = 0  # kafka: inputs sent again (the broker did not acknowledge them)
    runtime: str = "embedded"

    def start_clock(self, duration_s: float | None) -> Iterator[Scheduled]:
        """Fresh metrics (the clock starts now) and the source's inputs on the schedule of
        the load and the faults, for either runtime."""
        self.metrics = ReplayMetrics(bucket_s=self.metrics.bucket_s)
        return schedule(
            iter(self.source.items()), self.load, self.injector,
            duration_s=duration_s, state=self.state,
        )  # fmt: skip


@dataclass
class _Counters:
    """What the pipeline's own counters say (embedded: the stage objects; Kafka: the stages
    run in the workers, so the figures come from the lineage index)."""

    released: int  # research releases
    consent: dict[str, dict[str, int]]
    scoring: dict[str, int]


Progress = Callable[[ReplayMetrics, "EmbeddedRuntime"], None]


def run_replay(options: ReplayOptions, progress: Progress | None = None) -> ReplayReport:
    """Run one replay (see the module docstring); writes and returns the report."""
    load = parse_rate(options.rate, options.ramp)
    plan = parse_faults(options.faults)
    if options.runtime not in ("embedded", "kafka"):
        raise ConfigError(f"--runtime {options.runtime!r}: expected embedded or kafka")
    plan.check_runtime(options.runtime, options.deid_workers)
    if options.broker_storage and (options.runtime != "kafka" or options.brokers):
        raise ConfigError("--broker-storage: only for the local broker of --runtime kafka "
                          "(without --brokers)")  # fmt: skip
    if options.runtime == "kafka":
        plan.check_broker(options.brokers, options.broker_storage or _memory_storage())
    from clinflow.config import DataDir
    from clinflow.runtime.deployment import Deployment

    data_dir = Path(options.data_dir or options.report_dir / "data")
    # the source first: a bad SOURCE creates no data directory
    source = open_source(
        options.source,
        patients=options.patients,
        seed=options.seed,
        manifest=data_dir / "replay-manifest.ndjson",
    )
    root = DataDir.open(data_dir)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with Deployment.open(root) as deployment:
        done_before = deployment.ledger.count("ingest")
        if done_before:
            raise ConfigError(
                f"--data-dir {root.root}: not fresh ({done_before} inputs already "
                "processed there would be skipped); give a new folder"
            )
        _check_purposes(plan, deployment)
        bucket_s = _bucket_seconds(options.duration_s)
        metrics = ReplayMetrics(bucket_s=bucket_s)
        patients = Patients(deployment.pseudonymizer.patient_pseudonym)
        injector = FaultInjector(plan, options.seed, patients)
        run = _Run(source, load, plan, injector, ScheduleState(), metrics)
        log = deployment.audit_log()
        first_entry = log.size
        if options.runtime == "kafka":
            counters = _run_kafka(deployment, run, options)
            log.refresh()  # the workers appended to it
        else:
            counters = _counters(deployment, _run_embedded(deployment, run, options, progress))
        entries = [log.get_entry(index) or b"{}" for index in range(first_entry, log.size)]
        manifest = run.source.manifest if options.leak_scan else None
        correctness = check_run(
            deployment,
            entries,
            released=counters.released,
            expected=run.metrics.expected,
            sink_duplicates=sum(run.metrics.sink_duplicates.values()),
            revoked=run.injector.log.revoked,
            manifest=manifest,
            locations=run.metrics.locations,
        )
    if options.verify_audit:
        verify_audit(root, correctness)
    report = _report(options, run, counters, correctness, started_at)
    write_report(report, options.report_dir)
    return report


def _memory_storage() -> str:
    from clinflow.runtime.broker import MEMORY_STORAGE

    return MEMORY_STORAGE


def _check_purposes(plan: FaultPlan, deployment: Deployment) -> None:
    """A storm's purposes must be the consent policy's (else every revocation is rejected)."""
    known = deployment.consent.registry.policy.purposes
    for fault in plan.of(FaultKind.REVOKE_STORM):
        for purpose in fault.purposes:
            if purpose not in known:
                raise ConfigError(
                    f"--faults revoke-storm purposes: {purpose!r} is not a purpose of the "
                    f"consent policy ({', '.join(known)})"
                )


def _bucket_seconds(duration_s: float | None) -> float:
    if duration_s is None:
        return 1.0
    return max(1.0, round(duration_s / MAX_BUCKETS))


def _run_embedded(
    deployment: Deployment, run: _Run, options: ReplayOptions, progress: Progress | None
) -> PipelineStages:
    from clinflow.audit.buffer import BufferedSink
    from clinflow.runtime.embedded import EmbeddedRuntime
    from clinflow.runtime.stages import build_pipeline

    outages = [
        (f.start_s, f.start_s + (f.for_s or 0.0)) for f in run.plan.of(FaultKind.AUDIT_OUTAGE)
    ]
    stalled = StalledAudit(deployment.audit, outages, lambda: run.metrics.elapsed())
    buffered = BufferedSink(stalled if outages else deployment.audit)
    stages = build_pipeline(
        deployment, buffered, validation=options.validation, deid_workers=options.deid_workers
    )
    offload: DeidWorkers | None = getattr(stages.graph.hops["deid-fhir"].stage, "offload", None)
    kills = sorted(f.start_s for f in run.plan.of(FaultKind.KILL_WORKER))
    if kills and offload is None:
        raise ConfigError("--faults kill-worker: no de-identification worker to kill")
    if offload is not None:
        # the clock starts once the workers have loaded their engines: the run measures the
        # pipeline, not their start-up, and a kill at T finds a worker that is up
        offload.wait_ready()
    for name, hop in list(stages.graph.hops.items()):  # per-hop latency (the stages unchanged)
        timed = TimedStage(hop.stage, name, lambda: run.metrics)
        stages.graph.hops[name] = dataclasses.replace(hop, stage=timed)
    runtime = EmbeddedRuntime(
        stages.graph,
        quarantine=deployment.quarantine,
        audit=buffered,
        ledger=deployment.ledger,
        on_terminal=run.metrics.on_terminal,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, runtime.stop, signal.Signals(signum).name)
        items = run.start_clock(options.duration_s)
        runtime.on_terminal = run.metrics.on_terminal
        sampler = asyncio.create_task(sample_queues(runtime, run.metrics))
        task = asyncio.ensure_future(runtime.run(paced(items, run.metrics)))
        killer = (
            asyncio.create_task(_kill_deid_workers(offload, kills, run, task))
            if kills and offload is not None
            else None
        )
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                if progress is not None:
                    progress(run.metrics, runtime)
            run.stats = await task
        finally:
            run.stalled_commits = stalled.stalled_commits
            sampler.cancel()
            if killer is not None and offload is not None:
                killer.cancel()
                for kill in run.kills:
                    kill["restarts"] = float(offload.restarts)
            close = getattr(items, "close", None)
            if callable(close):
                close()

    asyncio.run(main())
    return stages


async def _kill_deid_workers(
    offload: DeidWorkers, kills: list[float], run: _Run, task: asyncio.Future[RunStats]
) -> None:
    """``kill-worker@T`` on the embedded runtime: ``kill -9`` of one FHIR de-identification
    worker process at each T (the first of the pool's current pids); the pool replaces it
    and recomputes its share (``DeidWorkers.restarts``)."""
    for at_s in kills:
        await asyncio.sleep(max(0.0, at_s - run.metrics.elapsed()))
        if task.done():
            return
        pids = offload.pids()
        if not pids:
            continue
        try:
            os.kill(pids[0], signal.SIGKILL)
        except ProcessLookupError:
            continue
        run.kills.append({"at_s": at_s, "pid": float(pids[0])})


# ----- checks ---------------------------------------------------------------------------------


def _counters(deployment: Deployment, stages: PipelineStages) -> _Counters:
    gates = (("TREAT", stages.treatment_gate), ("HRESCH", stages.research_gate))
    return _Counters(
        released=sum(stages.release.released.values()),
        consent={p: {"permit": g.permitted, "deny": g.denied} for p, g in gates},
        scoring={
            "scores": stages.score_sink.scores,
            "alerts_raised": stages.score_sink.alerts,
            "alerts_suppressed": sum(deployment.scoring().alerting.suppressed.values()),
        },
    )


def _run_kafka(deployment: Deployment, run: _Run, options: ReplayOptions) -> _Counters:
    """The schedule through ``clinflow worker`` processes (``replay_kafka``)."""
    import sqlite3

    from clinflow.runtime.embedded import HopStats, RunStats
    from clinflow.runtime.replay_kafka import KafkaRun, LedgerWatch, feed, latency_from_lineage
    from clinflow.runtime.replay_outage import OutageSwitch

    root = deployment.data_dir.root
    cluster = KafkaRun(root, options.report_dir / "kafka-logs", options.partitions)
    cluster.storage = options.broker_storage or cluster.storage
    if run.plan.of(FaultKind.AUDIT_OUTAGE):
        cluster.outage = OutageSwitch(root / "kafka" / "audit-outage.switch")
        cluster.outage.off()
    try:
        cluster.start(options.brokers, options.workers)
        items = run.start_clock(options.duration_s)
        with LedgerWatch(cluster, run.metrics) as watch:
            asyncio.run(feed(cluster, items, run.metrics, run.plan))
            counts = watch.wait_drained(len(run.metrics.due))
            watch.stalls()
    finally:
        cluster.stop()
        if cluster.outage is not None:
            cluster.outage.off()
    run.runtime = "kafka"
    run.kills = cluster.kills
    run.restarts = cluster.restarts
    run.resent = cluster.resent
    run.stalled_commits = cluster.outage.held() if cluster.outage is not None else 0
    run.stats = RunStats(
        hops={hop: HopStats(received=n) for hop, n in sorted(counts.items())},
        inputs=run.metrics.fed_total,
        seconds=cluster.drained_s,
        stopped_by="drained",
    )
    latency_from_lineage(deployment.data_dir.lineage_db, run.metrics)
    with sqlite3.connect(f"file:{deployment.data_dir.lineage_db}?mode=ro", uri=True) as conn:
        by_sink = dict(conn.execute("SELECT sink, count(*) FROM outputs GROUP BY sink").fetchall())
    return _Counters(
        released=int(by_sink.get("research-store", 0)),
        consent={},
        scoring={"scores": int(by_sink.get("scoring-icu", 0))},
    )


# ----- the report -----------------------------------------------------------------------------


def _report(
    options: ReplayOptions,
    run: _Run,
    counters: _Counters,
    correctness: Correctness,
    started_at: str,
) -> ReplayReport:
    from importlib.metadata import version

    stats = run.stats
    assert stats is not None
    metrics = run.metrics
    seconds = max(stats.seconds, 1e-9)
    span = run.state.last_at_s
    outputs = {hop: int(h.get_total_count()) for hop, h in metrics.latency.items()}
    run_summary = RunSummary(
        seconds=round(stats.seconds, 3),
        stopped_by=stats.stopped_by,
        offered_per_s=round(run.state.base / span, 1) if span > 0 else None,
        achieved_per_s=round(metrics.fed_total / seconds, 1),
        outputs=outputs,
        outputs_per_s={hop: round(n / seconds, 1) for hop, n in outputs.items()},
        generator_lag_ms=summarize(metrics.generator_lag),
    )
    hops = {name: HopSummary(**hop.to_json()) for name, hop in stats.hops.items()}
    report = ReplayReport(
        clinflow_version=version("clinflow"),
        started_at=started_at,
        source=run.source.name,
        source_kind=run.source.kind,
        runtime=options.runtime,
        rate=run.load.text,
        duration_s=options.duration_s,
        patients=options.patients if run.source.kind == "scenario" else None,
        seed=options.seed,
        faults=run.plan.describe(),
        ok=True,
        failed_checks=[],
        machine={"cpus": str(os.cpu_count() or 0), "note": NOISE_NOTE},
        inputs=InputsSummary(
            source_inputs=run.state.base,
            injected=dict(metrics.injected),
            fed=metrics.fed_total,
            source_exhausted=run.state.exhausted,
        ),
        run=run_summary,
        latency={hop: summarize(h) for hop, h in metrics.latency.items()},
        hop_latency={
            hop: summarize(metrics.at_hop[hop]) for hop in stats.hops if hop in metrics.at_hop
        },
        hops=hops,
        consent=counters.consent,
        scoring=counters.scoring,
        correctness=correctness,
        timeline=_timeline(run),
    )
    report.failed_checks = failed_checks(correctness)
    report.ok = not report.failed_checks
    return report


def _timeline(run: _Run) -> Timeline:
    metrics = run.metrics
    last = max(
        [
            0,
            *metrics.offered,
            *metrics.fed,
            *metrics.queue_depth,
            *(b for c in metrics.completed.values() for b in c),
        ]
    )
    buckets = range(last + 1)

    def percentile(hop: str, q: float) -> list[float | None]:
        by_bucket = metrics.latency_by_bucket.get(hop, {})
        return [
            round(by_bucket[b].get_value_at_percentile(q) / 1000.0, 3) if b in by_bucket else None
            for b in buckets
        ]

    return Timeline(
        bucket_s=metrics.bucket_s,
        offered=[metrics.offered[b] for b in buckets],
        fed=[metrics.fed[b] for b in buckets],
        completed={hop: [c[b] for b in buckets] for hop, c in metrics.completed.items()},
        p50_ms={hop: percentile(hop, 50) for hop in metrics.latency_by_bucket},
        p99_ms={hop: percentile(hop, 99) for hop in metrics.latency_by_bucket},
        queue_depth=[metrics.queue_depth[b] for b in buckets],
        faults=fault_marks(run),
    )


def fault_marks(run: _Run) -> list[FaultMark]:
    """The faults for the timeline: a band per ratio fault kind and per outage, a mark per
    storm."""
    injector = run.injector
    marks: list[FaultMark] = []
    for kill in run.kills:
        if "pid" in kill:  # embedded: a de-identification worker process
            restarts = int(kill.get("restarts", 0))
            detail = (
                f"kill -9 of a FHIR de-identification worker process; the pool replaced it "
                f"and recomputed its share ({restarts} restart(s) in the run)"
            )
        else:
            detail = (
                f"kill -9 of a worker, a fresh one started; no progress for "
                f"{kill.get('stalled_s', 0.0):g} s"
            )
        marks.append(
            FaultMark(kind=FaultKind.KILL_WORKER.value, at_s=kill["at_s"], count=1, detail=detail)
        )
    for restart in run.restarts:
        how = "killed (SIGTERM ignored)" if restart.get("killed") else "stopped"
        marks.append(
            FaultMark(
                kind=FaultKind.BROKER_RESTART.value,
                at_s=restart["at_s"],
                until_s=restart["back_s"],
                count=1,
                detail=f"the local broker {how} at {restart['gone_s']:g} s, started again on "
                f"its port (persistent storage) at {restart['back_s']:g} s; no progress for "
                f"{restart.get('stalled_s', 0.0):g} s; inputs sent again: {run.resent}",
            )
        )
    where = "the Kafka workers' audit commits" if run.runtime == "kafka" else "group commits"
    for outage in run.plan.of(FaultKind.AUDIT_OUTAGE):
        end = outage.start_s + (outage.for_s or 0.0)
        marks.append(
            FaultMark(
                kind=outage.kind.value,
                at_s=outage.start_s,
                until_s=end,
                count=run.stalled_commits,
                detail=f"{outage.describe()}: {where} held back",
            )
        )
    log = injector.log
    for kind, times in sorted(log.times.items()):
        if kind == FaultKind.REVOKE_STORM.value or not times:
            continue
        spec = next(f for f in injector.plan.faults if f.kind.value == kind)
        marks.append(
            FaultMark(
                kind=kind,
                at_s=round(min(times), 3),
                until_s=round(max(times), 3),
                count=len(times),
                detail=spec.describe(),
            )
        )
    for storm in log.storms:
        marks.append(
            FaultMark(
                kind=FaultKind.REVOKE_STORM.value,
                at_s=storm["at_s"],
                count=storm["patients"],
                detail=f"{storm['patients']} of {storm['admitted']} admitted "
                f"patients, purposes {'+'.join(storm['purposes'])}",
            )
        )
    return sorted(marks, key=lambda m: m.at_s)


def write_report(report: ReplayReport, folder: Path) -> None:
    from clinflow.runtime.replay_html import replay_html

    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_JSON).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (folder / REPORT_HTML).write_text(replay_html(report), encoding="utf-8")
