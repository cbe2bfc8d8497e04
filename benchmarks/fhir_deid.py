"""Structured FHIR de-identification throughput, side by side with the parse+serialize floor.

Generates a seeded cohort (or reads ``--cohort DIR``), loads every Bulk ndjson line, and times
in ONE process (one core):

- ``floor``: ``orjson.loads`` + ``orjson.dumps`` per resource;
- ``clinflow``: loads + Safe Harbor de-identification (notes through the text
  de-identifier) + dumps, validation off (the engine alone); wall-clock and per CPU-second
  (the machine is shared, so CPU time is the fairer per-core figure);
- ``clinflow_validated``: the same plus fhir.resources validation of the input (what
  ``clinflow deid fhir`` does by default), on a sample.

Prints ONE JSON line with resources/s, the ratio to the floor and the 5,000 resources/s per
core target. Usage: ``python benchmarks/fhir_deid.py [--patients 20] [--cohort DIR]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from clinflow.deid.fhir.engine import build_fhir_deidentifier
from clinflow.deid.fhir.io import validate_resource
from clinflow.deid.pseudonym import Pseudonymizer

TARGET = 5000


def make_cohort(patients: int, seed: int, root: Path) -> Path:
    from clinflow.synthetic.generator import GenerateOptions, generate
    from clinflow.synthetic.scenario import load_scenario

    scenario = load_scenario(None).model_copy(update={"imaging_fraction": 0.0})
    out = root / "cohort"
    generate(GenerateOptions(patients=patients, seed=seed, out=out, scenario=scenario, workers=1))
    return out


def load_lines(cohort: Path) -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted((cohort / "fhir" / "ndjson").glob("*.ndjson")):
        lines.extend(line for line in path.read_bytes().splitlines() if line.strip())
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--cohort", type=Path, default=None)
    parser.add_argument("--validated-sample", type=int, default=3000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cohort = args.cohort or make_cohort(args.patients, args.seed, Path(tmp))
        lines = load_lines(cohort)
    types = Counter(orjson.loads(line)["resourceType"] for line in lines)

    started = time.perf_counter()
    for line in lines:
        orjson.dumps(orjson.loads(line))
    floor_s = time.perf_counter() - started

    pseudonymizer = Pseudonymizer(bytes(range(32)))
    engine = build_fhir_deidentifier(pseudonymizer)
    started = time.perf_counter()
    for line in lines:  # first pass: the patient index (ids, MRNs, known identifiers)
        resource = orjson.loads(line)
        if resource["resourceType"] == "Patient":
            engine.index.add(resource)
    index_s = time.perf_counter() - started
    for line in lines[:200]:  # warm the per-path plans
        engine.deidentify_resource(orjson.loads(line))
    started, cpu_started = time.perf_counter(), time.process_time()
    for line in lines:
        orjson.dumps(engine.deidentify_resource(orjson.loads(line))[0])
    engine_s = time.perf_counter() - started
    engine_cpu_s = time.process_time() - cpu_started

    sample = lines[:: max(1, len(lines) // args.validated_sample)][: args.validated_sample]
    started = time.perf_counter()
    for line in sample:
        resource = orjson.loads(line)
        validate_resource(resource, "bench")
        orjson.dumps(engine.deidentify_resource(resource)[0])
    validated_s = time.perf_counter() - started

    clinflow_rate = len(lines) / engine_s
    result = {
        "benchmark": "fhir_deid",
        "resources": len(lines),
        "by_type": dict(sorted(types.items())),
        "floor_resources_per_s": round(len(lines) / floor_s),
        "clinflow_resources_per_s": round(clinflow_rate),
        "clinflow_resources_per_cpu_s": round(len(lines) / engine_cpu_s),
        "clinflow_with_index_pass_resources_per_s": round(len(lines) / (engine_s + index_s)),
        "clinflow_validated_resources_per_s": round(len(sample) / validated_s),
        "clinflow_vs_floor": round(clinflow_rate / (len(lines) / floor_s), 3),
        "cores": 1,
        "target_resources_per_s_per_core": TARGET,
        "meets_target": clinflow_rate >= TARGET,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["meets_target"] else 1)
