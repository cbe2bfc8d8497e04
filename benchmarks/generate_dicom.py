"""DICOM generation speed against pydicom's own write time for the same datasets.

clinflow_s: ``write_imaging_for_patient`` for every patient (build + dcmwrite + manifest).
pydicom_write_only_s: the very same datasets (rebuilt from the same seeds, untimed) written
with ``dcmwrite`` to a fresh directory. ratio_vs_pydicom_write = clinflow_s / that (target
<= 3), best of ``--rounds`` interleaved runs.
Run: ``.venv/bin/python benchmarks/generate_dicom.py [--patients N] [--seed S] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from pydicom.filewriter import dcmwrite

from clinflow.synthetic.dicom.imaging import build_imaging_for_patient, write_imaging_for_patient
from clinflow.synthetic.dicom.sample_patients import sample_patient
from clinflow.synthetic.manifest import PhiEntry
from clinflow.synthetic.model import Patient

MODALITIES = ("CT", "MR", "CR", "DX", "US", "SC")
BURNED_IN_FRACTION = 0.3


def _plan(n_patients: int, seed: int) -> list[tuple[int, list[str], datetime]]:
    """Per patient: its rng seed, modalities (1-2 studies) and first study time."""
    rng = random.Random(seed)
    base = datetime(2026, 3, 14, 7, 0, tzinfo=UTC)
    return [
        (
            rng.getrandbits(64),
            rng.sample(MODALITIES, rng.randint(1, 2)),
            base + timedelta(minutes=rng.randint(0, 600)),
        )
        for _ in range(n_patients)
    ]


def _time_clinflow(
    patients: list[Patient], plan: list[tuple[int, list[str], datetime]], out: Path
) -> tuple[float, float, int]:
    entries: list[PhiEntry] = []
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    for patient, (patient_seed, modalities, when) in zip(patients, plan, strict=True):
        write_imaging_for_patient(
            patient, random.Random(patient_seed), when, out, modalities, entries.append,
            BURNED_IN_FRACTION,
        )
    return time.perf_counter() - start, time.process_time() - cpu, len(entries)


def _time_pydicom(
    patients: list[Patient], plan: list[tuple[int, list[str], datetime]], out: Path
) -> tuple[float, float]:
    """Build the same datasets untimed, then time only ``dcmwrite`` of each (wall, CPU)."""
    built = [
        build_imaging_for_patient(
            patient, random.Random(patient_seed), when, modalities, BURNED_IN_FRACTION
        ).files
        for patient, (patient_seed, modalities, when) in zip(patients, plan, strict=True)
    ]
    targets = [(out / f.path, f.dataset) for files in built for f in files]
    for target, _ in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    for target, dataset in targets:
        dcmwrite(target, dataset, enforce_file_format=True)
    return time.perf_counter() - start, time.process_time() - cpu


def measure(n_patients: int = 50, seed: int = 7, rounds: int = 3) -> dict[str, float | int]:
    """Time clinflow's DICOM generation and pydicom's write-only baseline in one run.

    Both are timed ``rounds`` times, interleaved, and the best of each is reported: the
    machine is shared, and the minimum is the least disturbed measurement of either. CPU
    times are reported beside wall times for the same reason.
    """
    patients = [sample_patient(i, seed) for i in range(n_patients)]
    plan = _plan(n_patients, seed)
    root = Path(tempfile.mkdtemp(prefix="clinflow-bench-dicom-"))
    try:
        clinflow_times: list[tuple[float, float]] = []
        pydicom_times: list[tuple[float, float]] = []
        entries = 0
        for round_no in range(rounds):
            wall, cpu, entries = _time_clinflow(patients, plan, root / f"clinflow{round_no}")
            clinflow_times.append((wall, cpu))
            pydicom_times.append(_time_pydicom(patients, plan, root / f"pydicom{round_no}"))
        clinflow_s = min(wall for wall, _ in clinflow_times)
        pydicom_s = min(wall for wall, _ in pydicom_times)
        clinflow_cpu = min(cpu for _, cpu in clinflow_times)
        pydicom_cpu = min(cpu for _, cpu in pydicom_times)

        written = sorted((root / "clinflow0").rglob("*.dcm"))
        total_bytes = sum(path.stat().st_size for path in written)
        same = all(
            path.read_bytes()
            == (root / "pydicom0" / path.relative_to(root / "clinflow0")).read_bytes()
            for path in written[:: max(1, len(written) // 20)]
        )
        if len(written) != len(list((root / "pydicom0").rglob("*.dcm"))) or not same:
            raise SystemExit("baseline did not write the same datasets as clinflow")
        return {
            "patients": n_patients,
            "rounds": rounds,
            "dicom_files": len(written),
            "phi_entries": entries,
            "dicom_files_per_s": round(len(written) / clinflow_s, 1),
            "dicom_mb_per_s": round(total_bytes / 1e6 / clinflow_s, 2),
            "pydicom_write_only_s": round(pydicom_s, 3),
            "clinflow_s": round(clinflow_s, 3),
            "ratio_vs_pydicom_write": round(clinflow_s / pydicom_s, 2),
            # CPU seconds: steadier than wall time when other jobs share the cores
            "clinflow_cpu_s": round(clinflow_cpu, 3),
            "pydicom_write_only_cpu_s": round(pydicom_cpu, 3),
            "ratio_cpu_vs_pydicom_write": round(clinflow_cpu / pydicom_cpu, 2),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args(argv)
    result = measure(args.patients, args.seed, args.rounds)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
