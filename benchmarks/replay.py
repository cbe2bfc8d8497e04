"""``clinflow replay`` as a capacity probe: the largest open-loop rate at which p99 stays
under a latency budget, and the flat-out throughput, on the embedded runtime.

For each rate of ``--rates`` (ascending), one replay of ``--seconds`` of the ICU-ward
scenario (``--patients``, enough inputs for the longest run) on a fresh data directory, with
the pipeline's real stages and the audit log on; p99 is the larger of the two sinks'
(score-sink, research-release), measured from each input's scheduled arrival. The probe stops
after the first rate over budget. Then one flat-out replay (``--rate max``) of the same
number of inputs gives the throughput ceiling. One JSON line, with every run's figures.

With ``--kafka``, the Kafka runtime side by side (2 ``clinflow worker`` processes on a local
Tansu broker, ``--partitions`` per topic): the same probe over the same rates (its largest
rate within the budget), then once at the lowest rate with a worker killed (``kill -9``)
halfway, for the cost of a kill (seconds without progress, inputs processed again, repeated
disclosures); with ``--broker-storage s3://BUCKET/`` (and the AWS_*
variables of an S3-compatible store) also once with the broker restarted halfway (down 3 s).

With ``--deid-kill``, the embedded runtime at the lowest rate with one FHIR de-identification
worker process (``--deid-workers 1``), once as is and once with that process killed halfway:
what a de-identification worker crash costs in latency (the pool replaces it, ADR 0112).

The machine is shared: run it on a quiet one for capacity figures, and read figures taken
beside other work as a lower bound (``cpu_share`` says how much of a core the run got).

Rates are inputs/s (``clinflow replay --rate``); the ICU-ward stream sends each charting
time's vital signs as one message of 7 Observations (~6.5 vital signs per input with the
admissions, notes and imaging in between), so every run also reports the vital signs it
fed and their rate, and ``summary`` the figures issue 15 names in vital signs/s: the largest
rate within the budget, p99 at ~1,000 vital signs/s (154 inputs/s) and the flat-out rate.

Run: ``.venv/bin/python benchmarks/replay.py [--rates 50,100,154,200,300,400,600,800]
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

from clinflow.runtime.ingest import vital_signs_in
from clinflow.runtime.replay import ReplayOptions, run_replay
from clinflow.runtime.replay_load import open_source
from clinflow.runtime.replay_report import ReplayReport

SINKS = ("score-sink", "research-release")
SEED = 3
TARGETS = {"flat_out_vital_signs_per_s": 5000, "p99_ms_at_1000_vital_signs_per_s": 100}


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
            seed=SEED,
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


def vitals_fed(patients: int, scratch: Path) -> list[int]:
    """Vital signs in the first N inputs of the probe's source, for every N (index N)."""
    source = open_source("icu-ward", patients=patients, seed=SEED,
                         manifest=scratch / f"vitals-{patients}.ndjson")  # fmt: skip
    counts = [0]
    for item in source.items():
        counts.append(counts[-1] + vital_signs_in(item.envelope.payload))
    return counts


def with_vitals(run: dict[str, Any], counts: list[int]) -> dict[str, Any]:
    vitals = counts[min(run["inputs"], len(counts) - 1)]
    run["vital_signs"] = vitals
    run["achieved_vital_signs_per_s"] = round(vitals / run["run_s"], 1) if run["run_s"] else None
    return run


def within_budget(run: dict[str, Any], budget_ms: float) -> bool:
    return run["worst_p99_ms"] is not None and run["worst_p99_ms"] < budget_ms


def probe(
    scratch: Path, tag: str, rates: list[float], args: argparse.Namespace, counts: list[int],
    runtime: str = "embedded", deid_workers: int = 0,
) -> list[dict[str, Any]]:
    """One replay per rate, ascending, until p99 goes over the budget."""
    runs: list[dict[str, Any]] = []
    for rate in rates:
        run = one_run(scratch, f"{tag}-{rate:g}", f"{rate:g}/s", args.seconds, args.patients,
                      args.validation, runtime, deid_workers=deid_workers)  # fmt: skip
        run["rate_per_s"] = rate
        runs.append(with_vitals(run, counts))
        if not within_budget(run, args.budget_ms):
            break
    return runs


def summary(runs: list[dict[str, Any]], budget_ms: float,
            flat: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Issue 15's figures in vital signs/s (the probe's rates ascend: the last run within the
    budget is the largest)."""
    within = [run for run in runs if within_budget(run, budget_ms)]
    near_1000 = min(runs, key=lambda r: abs((r["achieved_vital_signs_per_s"] or 0) - 1000.0))
    figures: dict[str, Any] = {
        "largest_rate_within_budget_inputs_per_s": within[-1]["rate_per_s"] if within else None,
        "largest_rate_within_budget_vital_signs_per_s": (
            max(r["achieved_vital_signs_per_s"] for r in within) if within else None
        ),
        "p99_ms_near_1000_vital_signs_per_s": {
            "vital_signs_per_s": near_1000["achieved_vital_signs_per_s"],
            "p99_ms": near_1000["worst_p99_ms"],
        },
    }
    if flat is not None:
        figures["flat_out_vital_signs_per_s"] = flat["achieved_vital_signs_per_s"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,100,154,200,300,400,600,800")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--validation", default="input", choices=("input", "shallow"))
    parser.add_argument("--kafka", action="store_true", help="Also the Kafka runtime.")
    parser.add_argument("--broker-storage", default=None,
                        help="Kafka: persistent Tansu storage (s3://...): adds a broker restart.")
    parser.add_argument("--deid-kill", action="store_true",
                        help="Also a de-identification worker process killed (embedded).")
    parser.add_argument("--deid-workers", type=int, default=1,
                        help="The embedded probe and flat-out runs with FHIR de-identification "
                        "in N worker processes (ADR 0112; 1 = --deid-workers auto on 2 cores); "
                        "0: in-process.")  # fmt: skip
    args = parser.parse_args()
    rates = sorted(float(r) for r in args.rates.split(","))
    low = f"{rates[0]:g}/s"
    with tempfile.TemporaryDirectory(prefix="clinflow-bench-replay-") as tmp:
        scratch = Path(tmp)
        counts = vitals_fed(args.patients, scratch)
        runs = probe(scratch, "rate", rates, args, counts, deid_workers=args.deid_workers)
        flat_patients = max(2, args.patients // 6)
        flat = with_vitals(
            one_run(scratch, "max", "max", None, flat_patients, args.validation,
                    deid_workers=args.deid_workers),
            vitals_fed(flat_patients, scratch),
        )  # fmt: skip
        embedded = {"deid_workers": args.deid_workers,
                    **summary(runs, args.budget_ms, flat)}  # fmt: skip
        kafka: dict[str, Any] | str = "not run (--kafka)"
        if args.kafka:
            kafka_runs = probe(scratch, "kafka", rates, args, counts, "kafka")
            killed = with_vitals(
                one_run(scratch, "kafka-kill", low, args.seconds, args.patients, args.validation,
                        "kafka", f"kill-worker@{args.seconds / 2:g}s"),
                counts,
            )  # fmt: skip
            kafka = {
                **summary(kafka_runs, args.budget_ms),
                "runs": kafka_runs,
                "worker_killed": killed,
            }
            if args.broker_storage:
                kafka["broker_restarted"] = one_run(
                    scratch, "kafka-restart", low, args.seconds, args.patients,
                    args.validation, "kafka", f"broker-restart@{args.seconds / 2:g}s:for=3s",
                    broker_storage=args.broker_storage,
                )  # fmt: skip
        kafka_summary = (
            {k: v for k, v in kafka.items() if k not in ("runs", "worker_killed")}
            if isinstance(kafka, dict)
            else kafka
        )
        deid: dict[str, Any] | str = "not run (--deid-kill)"
        if args.deid_kill:
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
                "validation": args.validation,
                "budget_p99_ms": args.budget_ms,
                "targets": TARGETS,
                "embedded": embedded,
                "kafka_summary": kafka_summary,
                "runs": runs,
                "flat_out": flat,
                "kafka": kafka,
                "deid_workers_1": deid,
            }
        )
    )


if __name__ == "__main__":
    main()
