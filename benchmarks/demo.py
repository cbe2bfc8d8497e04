"""``clinflow demo`` wall time: the whole embedded pipeline vs. generating the cohort alone.

The baseline is what ``clinflow demo`` did before the pipeline existed — ``clinflow generate``
of the same cohort (same scenario, seed, one worker) — so the ratio says what the pipeline
stages cost on top of producing the data. Both run as fresh ``clinflow`` processes in fresh
data directories (import time included, as a user sees it), the demo's per-stage timings come
from its own report.

Run: ``.venv/bin/python benchmarks/demo.py [--patients 12] [--repeat 1]``. Prints one JSON line.
Target: the default demo (12 patients) well under 60 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
CLINFLOW = [sys.executable, "-m", "clinflow"]
TARGET_SECONDS = 60.0


def _timed(args: list[str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(args, check=True, capture_output=True, timeout=900)
    return time.perf_counter() - started, done.stdout


def measure(patients: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="clinflow-bench-demo-") as scratch:
        base = Path(scratch)
        demo_wall, stdout = _timed(
            [*CLINFLOW, "demo", "--data-dir", str(base / "demo"), "--json",
             "--patients", str(patients), "--seed", str(seed)]
        )  # fmt: skip
        report = orjson.loads(stdout)
        generate_wall, _ = _timed(
            [*CLINFLOW, "generate", "--patients", str(patients), "--seed", str(seed),
             "--scenario", str(ROOT / "synthetic" / "demo.yaml"), "--workers", "1", "--quiet",
             "--out", str(base / "cohort"), "--data-dir", str(base / "gen")]
        )  # fmt: skip
    return {"demo_wall_s": demo_wall, "generate_wall_s": generate_wall, "report": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs = [measure(args.patients, args.seed) for _ in range(args.repeat)]
    demo = statistics.median(r["demo_wall_s"] for r in runs)
    generate = statistics.median(r["generate_wall_s"] for r in runs)
    report = runs[-1]["report"]
    print(
        orjson.dumps(
            {
                "benchmark": "demo",
                "patients": args.patients,
                "repeat": args.repeat,
                "demo_wall_s": round(demo, 2),
                "demo_pipeline_s": report["total_s"],
                "baseline_generate_only_wall_s": round(generate, 2),
                "ratio_demo_to_generate_only": round(demo / generate, 2),
                "under_target": demo < TARGET_SECONDS,
                "stage_s": report["timings_s"],
                "inputs": report["inputs"],
                "scores": report["scoring"]["scores"],
                "released_to_research": report["research"]["released_total"],
                "residual_phi": report["leaks"]["residual_phi"],
                "audit_entries": report["audit"]["entries"],
                "ok": report["ok"],
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
