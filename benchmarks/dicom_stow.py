#!/usr/bin/env python3
"""DICOMweb STOW-RS front door benchmark: one study of N instances POSTed (one
``multipart/related`` request, streamed from disk by httpx) to ``clinflow serve api``, while
``clinflow run --source stow`` ingests, consents, de-identifies and audits from the spool
(ADR 0026). Same study as ``benchmarks/dicom_scp.py`` (one generated CT instance copied with
fresh SOP Instance UIDs). Timed (wall clock, one machine, loopback, real uvicorn):

- ``answered_s``: the POST's answer (every instance fsynced in the spool, the call audited);
- ``ingested_s``: until the runtime's ledger has all N at the ingest hop (AuditEvents durable);
- ``drained_s``: until ``clinflow run`` exited after SIGTERM at that point.

Prints ONE JSON line. Figures on a shared machine vary.

    python benchmarks/dicom_stow.py [--instances 200]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from dicom_scp import free_port, ledger_count, make_study, pipeline_figures

BOUNDARY = "clinflow-bench-stow"


def body(study: Path) -> Iterator[bytes]:
    """The multipart/related body, file by file (never the whole study in memory)."""
    for path in sorted(study.iterdir()):
        yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        yield path.read_bytes()
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


def service_token(data: Path) -> str:
    from clinflow.api.auth import TokenStore, api_tokens_path
    from clinflow.config import DataDir

    store = TokenStore(api_tokens_path(DataDir.open(data)))
    try:
        return store.create("service", label="bench-stow")[1]
    finally:
        store.close()


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (Linux ``VmHWM``), MiB; 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def wait_healthy(port: int, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("clinflow serve api never answered /health")
        time.sleep(0.2)


def run(work: Path, study: Path, instances: int) -> dict[str, Any]:
    data, port = work / "data", free_port()
    token = service_token(data)
    api = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "serve", "api", "--data-dir", str(data),
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    runtime = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "run", "--data-dir", str(data), "--source", "stow",
         "--json", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_healthy(port, api)
        time.sleep(3)  # the runtime opened its stores and polls the spool
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}',
        }
        rss_before = peak_rss_mib(api.pid)
        started = time.perf_counter()
        answer = httpx.post(f"http://127.0.0.1:{port}/dicomweb/studies", content=body(study),
                            headers=headers, timeout=600)  # fmt: skip
        answered = time.perf_counter() - started
        rss_after = peak_rss_mib(api.pid)
        if answer.status_code != 200:
            raise SystemExit(f"STOW answered {answer.status_code}: {answer.text[:500]}")
        stored = len(answer.json()["00081199"]["Value"])
        while ledger_count(data / "ledger.db", "ingest") < instances:
            if time.perf_counter() - started > 600:
                raise SystemExit("clinflow did not ingest every instance in 10 minutes")
            time.sleep(0.05)
        ingested = time.perf_counter() - started
        runtime.send_signal(signal.SIGTERM)
        stdout, stderr = runtime.communicate(timeout=600)
        drained = time.perf_counter() - started
    finally:
        for process in (runtime, api):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
    if runtime.returncode != 0:
        raise SystemExit(f"clinflow run failed: {stderr[-2000:]}")
    report = json.loads(stdout)
    return {
        "stored": stored,
        "body_bytes": sum(p.stat().st_size for p in study.iterdir()),
        "api_peak_rss_mib": {"before_post": rss_before, "after_post": rss_after},
        "answered_s": round(answered, 3),
        **pipeline_figures(report, ingested, drained),
        "stow": report.get("dicom_stow"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clinflow-stow-bench-") as tmp:
        work = Path(tmp)
        study = work / "study"
        make_study(study, args.instances)
        ours = run(work, study, args.instances)
    n = args.instances
    print(json.dumps({
        "instances": n,
        "clinflow_stow": {
            **ours,
            "answered_per_s": round(n / ours["answered_s"], 1),
            "ingested_per_s": round(n / ours["ingested_s"], 1),
            "drained_per_s": round(n / ours["drained_s"], 1),
        },
    }))  # fmt: skip


if __name__ == "__main__":
    main()
