"""``clinflow replay`` as a capacity probe: the largest open-loop rate at which p99 stays
under a latency budget, and the flat-out throughput, on the embedded runtime.

For each rate of ``--rates`` (ascending), one replay of ``--seconds`` of the ICU-ward
scenario (``--patients``, enough inputs for the longest run) on a fresh data directory, with
the pipeline's real stages and the audit log on; p99 is the larger of the two sinks'
(score-sink, research-release), measured from each input's scheduled arrival. The probe stops
after the first rate over budget. Then one flat-out replay (``--rate max``) of the same
number of inputs gives the throughput ceiling. One JSON line, with every run's figures.

With ``--kafka``, the Kafka runtime side by side (2 ``clinflow worker`` processes on a local
Tansu broker, ``--partitions`` per topic) at the lowest rate: once as is, once with a worker
killed (``kill -9``) halfway, for the cost of a kill (seconds without progress, inputs
processed again, repeated disclosures); with ``--broker-storage s3://BUCKET/`` (and the AWS_*
variables of an S3-compatible store) also once with the broker restarted halfway (down 3 s).

With ``--deid-kill``, the embedded runtime at the lowest rate with one FHIR de-identification
worker process (``--deid-workers 1``), once as is and once with that process killed halfway:
what a de-identification worker crash costs in latency (the pool replaces it, ADR 0112).

The machine is shared: run it on a quiet one for capacity figures, and read figures taken
beside other work as a lower bound (``cpu_share`` says how much of a core the run got).

Run: ``.venv/bin/python benchmarks/replay.py [--rates 25,50,100,200,400,800]
[--seconds 10] [--budget-ms 100] [--validation input|shallow] [--kafka]
[--broker-storage URL] [--deid-kill]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from clinflow.runtime.replay import ReplayOptions, run_replay
from clinflow.runtime.replay_report import ReplayReport

SINKS = ("score-sink", "research-release")


def _p99(report: ReplayReport) -> float | None:
    values = [report.latency[s].p99_ms for s in SINKS if s in report.latency]
    present = [v for v in values if v is not None]
    return max(present) if present else None


def one_run(
    scratch: Path,
    tag: str,
    rate: str,
    seconds: float | None,
    patients: int,
    validation: str,
    runtime: str = "embedded",
    faults: str | None = None,
    deid_workers: int = 0,
    broker_storage: str | None = None,
) -> dict[str, Any]:
    cpu = time.process_time()
    started = time.perf_counter()
    report = run_replay(
        ReplayOptions(
            source="icu-ward",
            report_dir=scratch / tag,
            rate=rate,
            duration_s=seconds,
            patients=patients,
            seed=3,
            validation="shallow" if validation == "shallow" else "input",
            leak_scan=False,
            verify_audit=False,
            runtime=runtime,
            faults=faults,
            partitions=4,
            deid_workers=deid_workers,
            broker_storage=broker_storage,
        )
    )
    wall = time.perf_counter() - started
    return {
        "rate": rate,
        "inputs": report.inputs.fed,
        "source_exhausted": report.inputs.source_exhausted,
        "run_s": report.run.seconds,
        "achieved_per_s": report.run.achieved_per_s,
        "p50_ms": {s: report.latency[s].p50_ms for s in SINKS if s in report.latency},
        "p99_ms": {s: report.latency[s].p99_ms for s in SINKS if s in report.latency},
        "worst_p99_ms": _p99(report),
        "generator_lag_p99_ms": report.run.generator_lag_ms.p99_ms,
        "cpu_share": round((time.process_time() - cpu) / wall, 3),
        "checks_ok": report.ok,
        "failed_checks": report.failed_checks,
        "faults": [m.model_dump() for m in report.timeline.faults
                   if m.kind in ("kill-worker", "broker-restart")],  # fmt: skip
        "reprocessed": report.correctness.reprocessed,
        "duplicate_disclosures": report.correctness.duplicate_disclosures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="25,50,100,200,400,800")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--validation", default="input", choices=("input", "shallow"))
    parser.add_argument("--kafka", action="store_true", help="Also the Kafka runtime.")
    parser.add_argument("--broker-storage", default=None,
                        help="Kafka: persistent Tansu storage (s3://...): adds a broker restart.")
    parser.add_argument("--deid-kill", action="store_true",
                        help="Also a de-identification worker process killed (embedded).")
    parser.add_argument("--deid-workers", type=int, default=0,
                        help="The probe and flat-out runs with FHIR de-identification in N "
                        "worker processes (ADR 0112); 0: in-process.")  # fmt: skip
    args = parser.parse_args()
    rates = sorted(float(r) for r in args.rates.split(","))
    runs: list[dict[str, Any]] = []
    best: float | None = None
    with tempfile.TemporaryDirectory(prefix="clinflow-bench-replay-") as tmp:
        scratch = Path(tmp)
        for rate in rates:
            run = one_run(
                scratch,
                f"rate-{rate:g}",
                f"{rate:g}/s",
                args.seconds,
                args.patients,
                args.validation,
                deid_workers=args.deid_workers,
            )
            runs.append(run)
            worst = run["worst_p99_ms"]
            if worst is None or worst >= args.budget_ms:
                break
            best = rate
        inputs = max(run["inputs"] for run in runs)
        flat = one_run(scratch, "max", "max", None, max(2, args.patients // 6), args.validation,
                       deid_workers=args.deid_workers)  # fmt: skip
        kafka: dict[str, Any] | str = "not run (--kafka)"
        if args.kafka:
            low = f"{rates[0]:g}/s"
            kafka = {
                "as_is": one_run(
                    scratch, "kafka", low, args.seconds, args.patients, args.validation, "kafka"
                ),
                "worker_killed": one_run(
                    scratch,
                    "kafka-kill",
                    low,
                    args.seconds,
                    args.patients,
                    args.validation,
                    "kafka",
                    f"kill-worker@{args.seconds / 2:g}s",
                ),
            }
            if args.broker_storage:
                kafka["broker_restarted"] = one_run(
                    scratch, "kafka-restart", low, args.seconds, args.patients,
                    args.validation, "kafka", f"broker-restart@{args.seconds / 2:g}s:for=3s",
                    broker_storage=args.broker_storage,
                )  # fmt: skip
        deid: dict[str, Any] | str = "not run (--deid-kill)"
        if args.deid_kill:
            low = f"{rates[0]:g}/s"
            deid = {
                "as_is": one_run(scratch, "deid", low, args.seconds, args.patients,
                                 args.validation, deid_workers=1),
                "worker_killed": one_run(scratch, "deid-kill", low, args.seconds, args.patients,
                                         args.validation, faults=f"kill-worker@"
                                         f"{args.seconds / 2:g}s", deid_workers=1),
            }  # fmt: skip
    print(
        json.dumps(
            {
                "runtime": "embedded",
                "validation": args.validation,
                "deid_workers": args.deid_workers,
                "budget_p99_ms": args.budget_ms,
                "largest_rate_within_budget_per_s": best,
                "runs": runs,
                "flat_out": flat,
                "flat_out_inputs_vs_probe": inputs,
                "kafka": kafka,
                "deid_workers_1": deid,
            }
        )
    )


if __name__ == "__main__":
    main()
