#!/usr/bin/env python3
"""C-STORE front door benchmark: dcmtk's ``storescu`` sends one study of N instances to

- ``storescp`` (dcmtk) writing each instance to disk: the floor (receive + write, nothing else);
- ``clinflow run --source dicom-scp:PORT``: receive, fsync into the spool, answer, then ingest,
  consent, de-identify and audit on the embedded runtime (ADR 0026).

The study is one generated CT instance (clinflow's generator, planted PHI) copied N times
with fresh SOP Instance UIDs. Timed (wall clock, one machine, loopback):

- ``ack_s``: storescu's run, every instance acknowledged (for clinflow: fsynced in the spool);
- ``ingested_s``: until the runtime's ledger has all N at the ingest hop (AuditEvents durable);
- ``drained_s``: until ``clinflow run`` exited after SIGTERM at that point (everything in
  flight de-identified or denied by consent, audit checkpoint written).

Needs dcmtk (``make dicom-tools``). Prints ONE JSON line. Figures on a shared machine vary.

    python benchmarks/dicom_scp.py [--instances 200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"SCP on port {port} never listened")
        time.sleep(0.2)


def make_study(folder: Path, instances: int) -> None:
    """One generated CT instance, copied with fresh SOP Instance UIDs and instance numbers."""
    import random
    from datetime import UTC, datetime

    from pydicom.uid import generate_uid

    from clinflow.synthetic.dicom.imaging import BuiltFile, iter_imaging_for_patient
    from clinflow.synthetic.dicom.sample_patients import sample_patient

    events = iter_imaging_for_patient(
        sample_patient(0), random.Random(5), datetime(2026, 3, 14, 9, tzinfo=UTC), ["CT"], 0.0
    )
    template = next(e for e in events if isinstance(e, BuiltFile)).dataset
    folder.mkdir(parents=True)
    for number in range(1, instances + 1):
        uid = generate_uid(entropy_srcs=["clinflow-bench-scp", str(number)])
        template.SOPInstanceUID = uid
        template.file_meta.MediaStorageSOPInstanceUID = uid
        template.InstanceNumber = number
        template.save_as(folder / f"{number:05d}.dcm", enforce_file_format=True)


def storescu(port: int, title: str, study: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["storescu", "-aec", title, "+sd", "127.0.0.1", str(port), str(study)],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def floor(work: Path, study: Path) -> dict[str, Any]:
    out, port = work / "storescp-out", free_port()
    out.mkdir()
    process = subprocess.Popen(
        ["storescp", "-aet", "FLOOR", "-od", str(out), str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(port, process)
        seconds = storescu(port, "FLOOR", study)
    finally:
        process.terminate()
        process.wait(timeout=30)
    written = sum(1 for _ in out.iterdir())
    return {"written": written, "ack_s": round(seconds, 3)}


def ledger_count(db: Path, hop: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT COUNT(*) FROM processed WHERE hop = ?", (hop,)).fetchone()
            return int(row[0])
    except sqlite3.OperationalError:
        return 0


def clinflow(work: Path, study: Path, instances: int) -> dict[str, Any]:
    data, port = work / "data", free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "run", "--data-dir", str(data), "--source",
         f"dicom-scp:{port}", "--json", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_listening(port, process)
        started = time.perf_counter()
        ack = storescu(port, "CLINFLOW", study)
        ledger = data / "runtime" / "ledger.db"
        candidates = list(data.rglob("ledger*.db"))
        if candidates:
            ledger = candidates[0]
        while ledger_count(ledger, "ingest") < instances:
            if time.perf_counter() - started > 600:
                raise SystemExit("clinflow did not ingest every instance in 10 minutes")
            time.sleep(0.05)
        ingested = time.perf_counter() - started
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=600)
        drained = time.perf_counter() - started
    finally:
        if process.poll() is None:
            process.kill()
    if process.returncode != 0:
        raise SystemExit(f"clinflow run failed: {stderr[-2000:]}")
    report = json.loads(stdout)
    return {"ack_s": round(ack, 3), **pipeline_figures(report, ingested, drained),
            "scp": report.get("dicom_scp")}  # fmt: skip


def pipeline_figures(report: dict[str, Any], ingested: float, drained: float) -> dict[str, Any]:
    """What a ``clinflow run --json`` report says about a DICOM front door's instances."""
    hops = report["hops"]
    return {
        "ingested_s": round(ingested, 3),
        "drained_s": round(drained, 3),
        "ingest_received": hops["ingest"]["received"],
        "deid_dicom_received": hops["deid-dicom"]["received"],
        "deid_dicom_emitted": hops["deid-dicom"]["emitted"],
        "quarantined": sum(h["rejected"] for h in hops.values()),
        "accounting": report["accounting"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    args = parser.parse_args()
    for tool in ("storescu", "storescp"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install dcmtk (make dicom-tools)")
    with tempfile.TemporaryDirectory(prefix="clinflow-scp-bench-") as tmp:
        work = Path(tmp)
        study = work / "study"
        make_study(study, args.instances)
        base = floor(work, study)
        ours = clinflow(work, study, args.instances)
    n = args.instances
    print(json.dumps({
        "instances": n,
        "storescp_floor": {**base, "per_s": round(n / base["ack_s"], 1)},
        "clinflow": {
            **ours,
            "ack_per_s": round(n / ours["ack_s"], 1),
            "ingested_per_s": round(n / ours["ingested_s"], 1),
            "drained_per_s": round(n / ours["drained_s"], 1),
        },
    }))  # fmt: skip


if __name__ == "__main__":
    main()
