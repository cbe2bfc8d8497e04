"""Audit-log benchmark: batched appends vs one transaction per append, proofs, verify, search.

Prints ONE JSON line. Default run: 200,000 entries (~1-2 min); ``--entries 1000000`` for the
figures in the README. Everything runs in a fresh temporary data directory.

Figures:
- ``loadavg_1m_*``, ``*_cpu_s``: machine load and this process's CPU time, to read the
  wall-clock figures on a shared machine.
- ``batched_appends_per_s``: events appended through ``AuditLog.append_many`` (group commit,
  WAL + synchronous=FULL: durable when acknowledged), including canonical JSON, hashing and the
  side index; events come pre-built from a pool (building them is the caller's cost).
- ``single_entry_producers``: 1, 4, 16 and 64 threads each calling ``append`` (one entry,
  waiting until it is durable) in a loop, and 64 asyncio tasks awaiting ``append_async`` on one
  event loop, for ``--producer-seconds`` each: durable appends/s (group commit across the
  producers), this process's CPU microseconds per append and the 1-minute load average when
  the setting started (the machine is shared: read the rates with it).
- ``build_cpu_us_per_event`` / ``prepare_cpu_us_per_entry``: this process's CPU per event
  for the builders in ``clinflow.audit.events`` (the caller's cost) and for ``prepare``
  (canonical JSON, leaf hash, side-index row: the producer's share of an append), best of 3
  passes over the pool: steadier than the wall rates on a shared machine.
- ``naive_appends_per_s``: the baseline, one fsynced transaction per append on the same store.
- Each producer setting also reports its group commits: ``commit_ms_mean`` (one durable
  commit, fsync included, as the writer timed it during that setting), ``entries_per_commit``
  and ``ceiling_appends_per_s`` = producers / mean commit time: N producers that each wait for
  their own entry to be durable cannot pass it even if every commit held all N entries and
  nothing else took time (ADR 0116: the 16-producer target is bounded by the disk's commit
  latency, not by the code).
- ``db_bytes_per_entry``: ``audit.db`` size per stored entry (entries, side index, indexes).
- ``inclusion_proof_*_us`` / ``consistency_proof_*_us`` at the full tree size.
- ``verify_s``: ``verify_log`` over every entry and checkpoint.
- ``patient_search_*_ms``: ``SearchQuery(patient=...)`` (first page of 50) via the side index,
  and through the HTTP API (TestClient, includes auth and the audited-query append).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clinflow.audit import AuditLog, events
from clinflow.audit.log import DEFAULT_ORIGIN, prepare
from clinflow.audit.merkle import verify_consistency, verify_inclusion
from clinflow.audit.store import SearchQuery
from clinflow.audit.store_sqlite import SqliteStore
from clinflow.audit.verify import trusted_verifiers, verify_log
from clinflow.config import DataDir

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def patient_of(i: int, patients: int) -> str:
    return f"PT-{(i * 7919) % patients:016x}"


def event_stream(start: int, count: int, patients: int) -> Iterator[events.AuditEvent]:
    for i in range(start, start + count):
        patient = patient_of(i, patients)
        recorded = T0 + timedelta(seconds=i)
        kind = i % 4
        if kind == 0:
            yield events.ingest(
                patient=patient, message_id=f"m{i}", source_kind="fhir", recorded=recorded
            )
        elif kind == 1:
            yield events.disclosure(
                patient=patient,
                recipient="triage",
                purpose="TREAT",
                message_ids=[f"m{i - 1}"],
                recorded=recorded,
            )
        elif kind == 2:
            yield events.consent_decision(
                patient=patient,
                decision="permit",
                purpose="HRESCH",
                recipient="research-store",
                recorded=recorded,
            )
        else:
            yield events.score_produced(
                patient=patient,
                score_name="news2",
                value=i % 20,
                message_id=f"m{i}",
                recorded=recorded,
            )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fill(
    log: AuditLog, total: int, pool: list[events.AuditEvent], chunk: int, producers: int
) -> float:
    """Append ``total`` events with ``producers`` threads cycling through a pre-built pool
    (building events is the caller's cost, not the log's); return the wall seconds."""
    per = total // producers

    def produce(worker: int) -> None:
        for offset in range(worker * per, (worker + 1) * per, chunk):
            count = min(chunk, (worker + 1) * per - offset)
            start = offset % len(pool)
            batch = pool[start : start + count]
            if len(batch) < count:
                batch = batch + pool[: count - len(batch)]
            log.append_many(batch)

    return run_threads(produce, producers)


def run_threads(work: Callable[[int], None], count: int) -> float:
    """Run ``work(0..count-1)`` on ``count`` threads released together by a barrier; return the
    wall seconds from the release until the last one finishes."""
    barrier = threading.Barrier(count + 1)

    def start_together(worker: int) -> None:
        barrier.wait()
        work(worker)

    threads = [threading.Thread(target=start_together, args=(w,)) for w in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def concurrent_singles(
    log: AuditLog, threads: int, patients: int, seconds: float, base: int
) -> dict[str, float]:
    """``threads`` threads each calling ``append`` (one entry, waiting until it is durable)
    in a loop for ``seconds``; durable appends/s over all of them and CPU per append."""
    pool = list(event_stream(base, 4096, patients))
    counts = [0] * threads
    stop = time.perf_counter() + seconds + 3600  # replaced once all threads are released

    def worker(w: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            log.append(pool[(w * 61 + n) % len(pool)])
            n += 1
        counts[w] = n

    barrier = threading.Barrier(threads + 1)

    def start_together(w: int) -> None:
        barrier.wait()
        worker(w)

    workers = [threading.Thread(target=start_together, args=(w,)) for w in range(threads)]
    for thread in workers:
        thread.start()
    cpu = time.process_time()
    barrier.wait()
    began = time.perf_counter()
    stop = began + seconds
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu
    total = sum(counts)
    return {
        "appends_per_s": round(total / elapsed),
        "cpu_us_per_append": round(cpu / total * 1e6, 1),
    }


def async_singles(
    log: AuditLog, tasks: int, patients: int, seconds: float, base: int
) -> dict[str, float]:
    """``tasks`` asyncio tasks on one event loop each awaiting ``append_async`` in a loop."""
    pool = list(event_stream(base, 4096, patients))

    async def run() -> tuple[int, float]:
        stop = time.perf_counter() + seconds

        async def task(w: int) -> int:
            n = 0
            while time.perf_counter() < stop:
                await log.append_async(pool[(w * 61 + n) % len(pool)])
                n += 1
            return n

        began = time.perf_counter()
        counts = await asyncio.gather(*(task(w) for w in range(tasks)))
        return sum(counts), time.perf_counter() - began

    cpu = time.process_time()
    total, elapsed = asyncio.run(run())
    cpu = time.process_time() - cpu
    return {
        "appends_per_s": round(total / elapsed),
        "cpu_us_per_append": round(cpu / total * 1e6, 1),
    }


def per_event_cpu(pool: list[events.AuditEvent], patients: int) -> dict[str, float]:
    """CPU microseconds per event to build it and to ``prepare`` it, best of 3 passes."""
    count = min(len(pool), 5000)
    build, prep = [], []
    for _ in range(3):
        cpu = time.process_time()
        for _ in event_stream(0, count, patients):
            pass
        build.append(time.process_time() - cpu)
        cpu = time.process_time()
        for event in pool[:count]:
            prepare(event)
        prep.append(time.process_time() - cpu)
    return {
        "build_cpu_us_per_event": round(min(build) / count * 1e6, 1),
        "prepare_cpu_us_per_entry": round(min(prep) / count * 1e6, 1),
    }


def commit_figures(
    log: AuditLog, before: tuple[int, float, int], producers: int
) -> dict[str, float]:
    """The group commits since ``before`` (commits, their seconds, the log's size): mean
    commit time, entries per commit, and the rate ``producers`` single-entry callers could
    reach at most with commits that long."""
    commits = log.commits - before[0]
    seconds = log.commit_seconds_total - before[1]
    if not commits or seconds <= 0:
        return {}
    mean = seconds / commits
    return {
        "commit_ms_mean": round(mean * 1000, 3),
        "entries_per_commit": round((log.size - before[2]) / commits, 1),
        "ceiling_appends_per_s": round(producers / mean),
    }


def naive(path: Path, count: int, patients: int) -> float:
    """Baseline: one durable transaction per append (no group commit), same schema/settings."""
    store = SqliteStore(path)
    prepared = [prepare(e) for e in event_stream(0, count, patients)]
    began = time.perf_counter()
    for entry in prepared:
        store.append_batch([entry])
    elapsed = time.perf_counter() - began
    store.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--patients", type=int, default=0, help="default entries/100")
    parser.add_argument("--chunk", type=int, default=2000, help="events per append_many")
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--pool", type=int, default=20_000, help="distinct pre-built events")
    parser.add_argument("--naive", type=int, default=1000, help="appends for the baseline")
    parser.add_argument("--samples", type=int, default=2000, help="proofs / searches timed")
    parser.add_argument(
        "--producer-seconds", type=float, default=3.0, help="per concurrent-producer run"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="data dir to use and keep")
    args = parser.parse_args()
    patients = args.patients or max(1, args.entries // 100)
    rng = random.Random(args.seed)
    tmp = tempfile.TemporaryDirectory(prefix="clinflow-bench-")
    root = args.keep or Path(tmp.name) / "data"
    data_dir = DataDir.open(root)
    result: dict[str, object] = {"benchmark": "audit", "entries": args.entries}

    naive_rate = round(naive(Path(tmp.name) / "naive.db", args.naive, patients))
    result["naive_appends_per_s"] = naive_rate

    result["loadavg_1m_at_start"] = round(os.getloadavg()[0], 2)
    result["cpus"] = os.cpu_count()
    log = AuditLog.open(data_dir, checkpoint_every=100_000, checkpoint_seconds=30)
    pool = list(event_stream(0, min(args.entries, args.pool), patients))
    result.update(per_event_cpu(pool, patients))
    cpu = time.process_time()
    seconds = fill(log, args.entries, pool, args.chunk, args.producers)
    cpu = time.process_time() - cpu
    batched_rate = round(args.entries / seconds)
    result["batched_appends_per_s"] = batched_rate
    # CPU seconds of this process (all threads: canonical JSON, hashing, SQLite): on a shared,
    # overloaded machine wall-clock rates understate what the code does on idle cores.
    result["batched_appends_per_cpu_s"] = round(args.entries / cpu)
    result["speedup_vs_naive"] = round(batched_rate / naive_rate, 1)
    producers: dict[str, object] = {}
    for threads in (1, 4, 16, 64):
        load = round(os.getloadavg()[0], 2)
        before = (log.commits, log.commit_seconds_total, log.size)
        figures = concurrent_singles(log, threads, patients, args.producer_seconds, 10**9 + threads)
        producers[f"threads_{threads}"] = figures | commit_figures(log, before, threads) | {
            "loadavg_1m": load
        }
    load = round(os.getloadavg()[0], 2)
    before = (log.commits, log.commit_seconds_total, log.size)
    figures = async_singles(log, 64, patients, args.producer_seconds, 2 * 10**9)
    producers["asyncio_tasks_64"] = figures | commit_figures(log, before, 64) | {
        "loadavg_1m": load
    }
    result["single_entry_producers"] = producers
    stored = log.size
    log.close()
    # File size after the clean close (WAL checkpointed): page fill of the entries table.
    result["db_bytes_per_entry"] = round(data_dir.audit_db.stat().st_size / stored)

    began = time.perf_counter()
    log = AuditLog.open(data_dir)
    result["open_rebuild_tree_s"] = round(time.perf_counter() - began, 2)
    size = log.size
    root_hash = log.root()
    gen, ver, cgen, cver = [], [], [], []
    for _ in range(args.samples):
        index = rng.randrange(size)
        t = time.perf_counter()
        proof = log.inclusion_proof(index, size)
        gen.append(time.perf_counter() - t)
        leaf = log.leaf_hash(index)
        t = time.perf_counter()
        ok = verify_inclusion(leaf, index, size, proof, root_hash)
        ver.append(time.perf_counter() - t)
        assert ok
        old = rng.randrange(1, size)
        t = time.perf_counter()
        cproof = log.consistency_proof(old, size)
        cgen.append(time.perf_counter() - t)
        old_root = log.root(old)
        t = time.perf_counter()
        ok = verify_consistency(old, size, old_root, root_hash, cproof)
        cver.append(time.perf_counter() - t)
        assert ok
    for name, values in (
        ("inclusion_proof_gen", gen),
        ("inclusion_proof_verify", ver),
        ("consistency_proof_gen", cgen),
        ("consistency_proof_verify", cver),
    ):
        result[f"{name}_p50_us"] = round(statistics.median(values) * 1e6, 1)
        result[f"{name}_p99_us"] = round(percentile(values, 0.99) * 1e6, 1)

    searches = []
    for _ in range(args.samples):
        patient = patient_of(rng.randrange(size), patients)
        t = time.perf_counter()
        rows = log.search(SearchQuery(patient=patient, limit=50))
        searches.append(time.perf_counter() - t)
        assert rows
    result["patient_search_p50_ms"] = round(statistics.median(searches) * 1e3, 3)
    result["patient_search_p99_ms"] = round(percentile(searches, 0.99) * 1e3, 3)
    log.close()

    result.update(api_search(data_dir, size, patients, rng, min(300, args.samples)))

    store = SqliteStore(data_dir.audit_db)
    began, cpu = time.perf_counter(), time.process_time()
    report = verify_log(store, trusted_verifiers(data_dir, DEFAULT_ORIGIN, []))
    result["verify_s"] = round(time.perf_counter() - began, 2)
    result["verify_cpu_s"] = round(time.process_time() - cpu, 2)
    result["verify_ok"] = report.ok
    result["verified_entries"] = report.entries
    store.close()
    tmp.cleanup()
    result["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


def api_search(
    data_dir: DataDir, size: int, patients: int, rng: random.Random, samples: int
) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient

    from clinflow.api.app import create_app
    from clinflow.api.auth import TokenStore, api_tokens_path
    from clinflow.api.settings import Settings

    tokens = TokenStore(api_tokens_path(data_dir))
    _, token = tokens.create("auditor", label="benchmark")
    tokens.close()
    timings = []
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(samples):
            patient = patient_of(rng.randrange(size), patients)
            t = time.perf_counter()
            response = client.get(
                "/audit/events", params={"patient": patient, "limit": 50}, headers=headers
            )
            timings.append(time.perf_counter() - t)
            assert response.status_code == 200, (response.status_code, response.text[:200])
    return {
        "api_patient_search_p50_ms": round(statistics.median(timings) * 1e3, 2),
        "api_patient_search_p99_ms": round(percentile(timings, 0.99) * 1e3, 2),
    }


if __name__ == "__main__":
    main()
