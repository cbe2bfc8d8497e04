"""Benchmark the mock scoring endpoints; prints ONE JSON line.

1. Generates an ICU cohort with the project's own generator (``clinflow generate --scenario
   synthetic/icu-ward.yaml``), pseudonymizes subjects (keys via ``KeyRing`` in a scratch data
   dir) and runs the minimum-necessary stage, as the pipeline would.
2. In process: every vital-sign Observation through ``ScoringService.ingest_observation``
   (parse, window update, NEWS2 + qSOFA, alerting) — observations/s per core from CPU time
   (target >= 20,000/s), next to the baseline of validating each Observation with
   fhir.resources (what a "just use the FHIR models" implementation pays per reading).
3. Alerting on the cohort against the generator's ground-truth deterioration onsets: with
   hysteresis + suppression (default ``AlertPolicy``) versus alerting on every reading at or
   above the trigger (the naive baseline): sensitivity, median onset → first alert, median
   lead before the patient first reaches NEWS2 >= 7, alerts per patient-day, suppressed.
4. Over HTTP: ``clinflow serve scoring`` on 127.0.0.1 in a child process, on a fresh data dir,
   with the audit trail ON as users run it (``http``: every score's AuditEvent durable before
   the response), then with ``--no-audit`` (``http_audit_off``) for comparison; an open-loop
   load at ``--rate`` requests/s (default 1,000) for ``--seconds`` (default 10), each request
   a Bundle of one patient's 7 vital signs with a ``scoring`` bearer token; p50/p95/p99/max
   latency (target p99 < 20 ms), server CPU per request (``audit_server_cpu_ratio_on_vs_off``,
   target <= 2) and the audit entries stored. Loopback only; every wait is bounded and the
   server is stopped by its pid.

    .venv/bin/python benchmarks/scoring.py [--patients 40] [--seed 7] [--rate 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def generate_cohort(patients: int, seed: int, out: Path) -> Path:
    cohort = out / f"icu-{patients}-{seed}"
    if not (cohort / "labels.json").exists():
        subprocess.run(
            [PY, "-m", "clinflow", "generate", "--patients", str(patients), "--seed", str(seed),
             "--out", str(cohort), "--scenario", str(ROOT / "synthetic" / "icu-ward.yaml"),
             "--data-dir", str(out / "gen-data"), "--quiet", "--workers", "1"],
            check=True, timeout=600, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return cohort


def load_cohort(cohort: Path, scratch: Path) -> tuple[list[dict[str, Any]], dict[str, datetime]]:
    """Pseudonymized, minimum-necessary Observations (time order) and onsets by pseudonym."""
    from clinflow.crypto.keys import KeyRing
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
    from clinflow.scoring.policy import load_policy

    pseudonyms = Pseudonymizer(KeyRing(scratch / "keys").project_key())
    stage = MinimumNecessaryStage(load_policy().endpoint("icu"))
    observations: list[dict[str, Any]] = []
    with open(cohort / "fhir" / "ndjson" / "Observation.ndjson", "rb") as handle:
        for line in handle:
            resource = orjson.loads(line)
            source_patient = resource["subject"]["reference"].rsplit("/", 1)[-1]
            resource["subject"] = {
                "reference": "Patient/" + pseudonyms.patient_pseudonym(source_patient)
            }
            kept, _ = stage.strip_resource(resource)
            if kept is not None:
                observations.append(kept)
    observations.sort(key=lambda o: o["effectiveDateTime"])
    labels = orjson.loads((cohort / "labels.json").read_bytes())
    onsets = {
        pseudonyms.patient_pseudonym(item["patient"]): datetime.fromisoformat(
            item["onset"].replace("Z", "+00:00")
        )
        for item in labels["deterioration"]
    }
    return observations, onsets


def in_process(observations: list[dict[str, Any]]) -> tuple[dict[str, Any], Any]:
    from clinflow.scoring.service import ScoringService

    service = ScoringService(audit=None)
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for resource in observations:
        service.ingest_observation(resource)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    n = len(observations)
    batched = ScoringService(audit=None)
    batch_cpu = time.process_time()
    batch_scores = 0
    for start in range(0, n, 512):  # micro-batches, as a stream consumer would poll them
        batch_scores += len(batched.ingest_many(observations[start : start + 512]))
    batch_cpu = time.process_time() - batch_cpu
    return {
        "observations": n,
        "obs_per_s_per_core": round(n / cpu),
        "obs_per_s_wall": round(n / wall),
        "us_per_obs_cpu": round(cpu / n * 1e6, 1),
        "micro_batched_obs_per_s_per_core": round(n / batch_cpu),
        "micro_batched_scores": batch_scores,
    }, service


def fhir_resources_baseline(observations: list[dict[str, Any]], sample: int = 3000) -> float:
    """Observations/s (CPU) just to validate each Observation with fhir.resources (R5)."""
    from fhir.resources.observation import Observation

    chunk = observations[:sample]
    cpu = time.process_time()
    for resource in chunk:
        Observation.model_validate(resource)
    return len(chunk) / (time.process_time() - cpu)


def alerting(observations: list[dict[str, Any]], onsets: dict[str, datetime]) -> dict[str, Any]:
    from clinflow.scoring.alerts import AlertPolicy, alert_metrics
    from clinflow.scoring.service import ScoringService

    results: dict[str, Any] = {}
    from clinflow.scoring.news2 import RiskBand

    policies = (
        ("with_suppression", AlertPolicy()),
        ("naive", AlertPolicy.naive()),
        # variant: page already on a single parameter scoring 3 (RCP "low-medium")
        ("with_suppression_trigger_low_medium", AlertPolicy(min_band=RiskBand.LOW_MEDIUM)),
    )
    for name, policy in policies:
        service = ScoringService(alert_policy=policy)
        first_seen: dict[str, float] = {}
        last_seen: dict[str, float] = {}
        first_high: dict[str, datetime] = {}
        for resource in observations:
            score = service.ingest_observation(resource)
            if score is None:
                continue
            t = score.news2.as_of.timestamp()
            first_seen.setdefault(score.patient, t)
            last_seen[score.patient] = t
            onset = onsets.get(score.patient)
            if (
                onset is not None
                and score.news2.total >= 7
                and score.news2.as_of >= onset
                and score.patient not in first_high
            ):
                first_high[score.patient] = score.news2.as_of
        patient_days = sum(last_seen[p] - first_seen[p] for p in first_seen) / 86400
        alerts = service.alerts()
        metrics = alert_metrics(
            alerts,
            patients=len(first_seen),
            patient_days=patient_days,
            suppressed=sum(service.alerting.suppressed.values()),
            onsets=onsets,
        )
        leads = []
        for patient, high in first_high.items():
            onset = onsets[patient]
            times = [a.time for a in alerts if a.patient == patient and a.time >= onset]
            if times:
                leads.append((high - min(times)).total_seconds())
        stable = [a for a in alerts if a.patient not in onsets]
        stable_days = (
            sum(last_seen[p] - first_seen[p] for p in first_seen if p not in onsets) / 86400
        )
        results[name] = {
            "alerts": metrics.alerts,
            "alerts_per_patient_day": round(metrics.alerts_per_patient_day, 2),
            "alerts_per_patient_day_stable_patients": round(len(stable) / stable_days, 2)
            if stable_days
            else None,
            "suppressed": metrics.suppressed,
            "suppressed_by_reason": dict(service.alerting.suppressed),
            "sensitivity": round(metrics.sensitivity, 3)
            if metrics.sensitivity is not None
            else None,
            "median_onset_to_first_alert_min": _minutes(metrics.median_onset_to_first_alert_s),
            "median_lead_before_news2_ge7_min": _minutes(statistics.median(leads))
            if leads
            else None,
        }
        results["patients"] = metrics.patients
        results["patient_days"] = round(patient_days, 1)
        results["labelled_deteriorations"] = metrics.deteriorations
    return results


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_bodies(observations: list[dict[str, Any]]) -> list[bytes]:
    """One Bundle per (patient, charting time): the 7 vital signs taken together."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for resource in observations:
        groups[(resource["subject"]["reference"], resource["effectiveDateTime"])].append(resource)
    ordered = sorted(groups.items(), key=lambda item: item[0][1])
    return [
        orjson.dumps(
            {"resourceType": "Bundle", "type": "collection",
             "entry": [{"resource": r} for r in resources]}
        )
        for _, resources in ordered
    ]  # fmt: skip


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length framed); return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def open_loop(
    port: int,
    bodies: list[bytes],
    rate: float,
    seconds: float,
    token: str,
    connections: int = 32,
) -> dict[str, Any]:
    """Open-loop load: requests are *scheduled* at ``rate``/s and latency is measured from the
    scheduled time (queueing included, no coordinated omission). A minimal keep-alive HTTP/1.1
    client on raw asyncio streams keeps the load generator's own CPU cost low."""
    total = int(rate * seconds)
    requests = [
        b"POST /icu/risk-assessment HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (token.encode(), len(b), b)
        for b in bodies
    ]
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await queue.get()) is not None:
                due, request = item
                writer.write(request)
                status = await _read_response(reader)
                if status == 200:
                    latencies.append(time.perf_counter() - due)
                else:
                    errors += 1
        finally:
            writer.close()

    # warm-up on one connection (not measured)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in requests[:50]:
        writer.write(request)
        await _read_response(reader)
    writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter()
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, requests[50 + index % (len(requests) - 50)]))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.wait_for(asyncio.gather(*workers), timeout=seconds + 60)
    elapsed = time.perf_counter() - start
    ms = sorted(value * 1000 for value in latencies)

    def pct(p: float) -> float | None:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 2) if ms else None

    return {
        "target_rate": rate,
        "requests": total,
        "achieved_rate": round(len(ms) / elapsed, 1),
        "errors": errors,
        "observations_per_s": round(7 * len(ms) / elapsed),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(ms[-1], 2) if ms else None,
        "connections": connections,
    }


def scoring_token(data_dir: Path) -> str:
    """A ``scoring`` bearer token in the data dir's token store (what a client is issued)."""
    from clinflow.api.auth import TokenStore, api_tokens_path
    from clinflow.config import DataDir

    store = TokenStore(api_tokens_path(DataDir.open(data_dir)))
    try:
        return store.create("scoring", label="benchmark")[1]
    finally:
        store.close()


def audit_entries(data_dir: Path) -> int:
    """Entries in the data dir's audit log (after the server stopped)."""
    from clinflow.audit.store_sqlite import SqliteStore
    from clinflow.config import DataDir

    path = DataDir.open(data_dir).audit_db
    if not path.exists():
        return 0
    store = SqliteStore(path)
    try:
        return store.size()
    finally:
        store.close()


def http(
    observations: list[dict[str, Any]],
    rate: float,
    seconds: float,
    data_dir: Path,
    extra: tuple[tuple[float, float], ...] = (),
    audit: bool = True,
) -> dict[str, Any]:
    """``clinflow serve scoring`` (the real command, audit on as users run it unless
    ``audit`` is False) in a child process on a fresh data dir, loaded open-loop."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    token = scoring_token(data_dir)
    runs: list[dict[str, Any]] = []
    flag = "--audit" if audit else "--no-audit"
    server = subprocess.Popen(
        [PY, "-m", "clinflow", "serve", "scoring", "--host", "127.0.0.1", "--port", str(port),
         flag, "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import httpx  # only for the readiness probe

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("scoring server did not start")
            time.sleep(0.2)
        import psutil

        server_process = psutil.Process(server.pid)
        bodies = http_bodies(observations)
        for run_rate, run_seconds in ((rate, seconds), *extra):
            before = server_process.cpu_times()
            client_cpu = time.process_time()
            result = asyncio.run(open_loop(port, bodies, run_rate, run_seconds, token))
            client_cpu = time.process_time() - client_cpu
            after = server_process.cpu_times()
            server_cpu = (after.user - before.user) + (after.system - before.system)
            served = result["requests"] + 50  # + warm-up requests
            result["server_cpu_ms_per_request"] = round(server_cpu / served * 1000, 3)
            result["client_cpu_ms_per_request"] = round(client_cpu / served * 1000, 3)
            result["server_capacity_req_per_s_per_core"] = (
                round(served / server_cpu) if server_cpu else None
            )
            result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
            runs.append(result)
        main_run = runs[0]
        main_run["server"] = (
            f"clinflow serve scoring {flag} (uvicorn, httptools, uvloop), 1 process"
        )
        if len(runs) > 1:
            main_run["lower_rates"] = [
                {k: r[k] for k in ("target_rate", "achieved_rate", "p50_ms", "p99_ms", "max_ms")}
                for r in runs[1:]
            ]
        return main_run
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        if audit:
            runs[0]["audit_entries_stored"] = audit_entries(data_dir) if runs else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=1000.0, help="HTTP requests/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="HTTP load duration")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument(
        "--lower-rates", default="500", help="extra 5 s runs for context, e.g. '500,250'"
    )
    parser.add_argument("--no-audit-off", action="store_true", help="skip the audit-off server run")
    parser.add_argument("--work", default=str(ROOT / ".bench" / "scoring"))
    args = parser.parse_args()

    load_at_start = round(os.getloadavg()[0], 2)  # the machine is shared: read figures with it
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cohort = generate_cohort(args.patients, args.seed, work)
    with tempfile.TemporaryDirectory() as scratch:
        observations, onsets = load_cohort(cohort, Path(scratch))
    gc.freeze()  # the loaded cohort is long-lived input, not garbage
    inproc, _ = in_process(observations)
    baseline = fhir_resources_baseline(observations)
    inproc["baseline_fhir_resources_validate_obs_per_s"] = round(baseline)
    inproc["speedup_vs_fhir_resources_validate"] = round(inproc["obs_per_s_per_core"] / baseline, 1)
    inproc["target_obs_per_s_per_core"] = 20000
    inproc["ratio_to_target"] = round(inproc["obs_per_s_per_core"] / 20000, 2)
    alerts = alerting(observations, onsets)
    with_s, naive = alerts["with_suppression"], alerts["naive"]
    if naive["alerts"]:
        alerts["alert_reduction_vs_naive"] = round(1 - with_s["alerts"] / naive["alerts"], 3)
    figures: dict[str, Any] = {
        "benchmark": "scoring",
        "cohort": {"scenario": "icu-ward", "patients": args.patients, "seed": args.seed,
                   "generator": "clinflow generate"},
        "in_process": inproc,
        "alerting": alerts,
    }  # fmt: skip
    if not args.no_http:
        extra = tuple((float(r), 5.0) for r in args.lower_rates.split(",") if r.strip())
        variants = [True] if args.no_audit_off else [True, False]
        for audit in variants:  # audit on (as users run it), then off for comparison
            with tempfile.TemporaryDirectory(prefix="clinflow-serve-") as serve_data:
                http_figures = http(
                    observations, args.rate, args.seconds, Path(serve_data), extra, audit
                )
            http_figures["target_p99_ms"] = 20.0
            p99 = http_figures["p99_ms"]
            http_figures["p99_ratio_to_target"] = round(p99 / 20.0, 2) if p99 is not None else None
            figures["http" if audit else "http_audit_off"] = http_figures
        if "http_audit_off" in figures:
            on = figures["http"]["server_cpu_ms_per_request"]
            off = figures["http_audit_off"]["server_cpu_ms_per_request"]
            figures["audit_server_cpu_ratio_on_vs_off"] = round(on / off, 2) if off else None
    figures["cpus"] = os.cpu_count()
    figures["load_avg_1m_at_start"] = load_at_start
    figures["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
