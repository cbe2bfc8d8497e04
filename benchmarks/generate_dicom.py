"""DICOM generation speed against pydicom's own write time for the same datasets.

clinflow_s: ``write_imaging_for_patient`` for every patient (build + dcmwrite + manifest).
pydicom_write_only_s: the very same datasets (rebuilt from the same seeds, untimed) written
with ``dcmwrite`` to a fresh directory. ratio_vs_pydicom_write = clinflow_s / that (target
<= 3). Run: ``.venv/bin/python benchmarks/generate_dicom.py [--patients N] [--seed S]``.
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

from clinflow.synthetic.dicom import build_imaging_for_patient, write_imaging_for_patient
from clinflow.synthetic.dicom_sample_patients import sample_patient
from clinflow.synthetic.manifest import PhiEntry

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


def measure(n_patients: int = 50, seed: int = 7) -> dict[str, float | int]:
    """Time clinflow's DICOM generation and pydicom's write-only baseline in one run."""
    patients = [sample_patient(i, seed) for i in range(n_patients)]
    plan = _plan(n_patients, seed)
    root = Path(tempfile.mkdtemp(prefix="clinflow-bench-dicom-"))
    try:
        entries: list[PhiEntry] = []
        gc.collect()
        start = time.perf_counter()
        for patient, (patient_seed, modalities, when) in zip(patients, plan, strict=True):
            write_imaging_for_patient(
                patient, random.Random(patient_seed), when, root / "clinflow", modalities,
                entries.append, BURNED_IN_FRACTION,
            )
        clinflow_s = time.perf_counter() - start

        # Baseline: the same datasets, built untimed, then only dcmwrite is timed.
        built = [
            build_imaging_for_patient(
                patient, random.Random(patient_seed), when, modalities, BURNED_IN_FRACTION
            ).files
            for patient, (patient_seed, modalities, when) in zip(patients, plan, strict=True)
        ]
        targets = [(root / "pydicom" / f.path, f.dataset) for files in built for f in files]
        for target, _ in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        gc.collect()
        start = time.perf_counter()
        for target, dataset in targets:
            dcmwrite(target, dataset, enforce_file_format=True)
        pydicom_s = time.perf_counter() - start

        written = sorted((root / "clinflow").rglob("*.dcm"))
        total_bytes = sum(path.stat().st_size for path in written)
        same = all(
            path.read_bytes() == (root / "pydicom" / path.relative_to(root / "clinflow"))
            .read_bytes()
            for path in written[:: max(1, len(written) // 20)]
        )
        if len(written) != len(targets) or not same:
            raise SystemExit("baseline did not write the same datasets as clinflow")
        return {
            "patients": n_patients,
            "dicom_files": len(written),
            "phi_entries": len(entries),
            "dicom_files_per_s": round(len(written) / clinflow_s, 1),
            "dicom_mb_per_s": round(total_bytes / 1e6 / clinflow_s, 2),
            "pydicom_write_only_s": round(pydicom_s, 3),
            "clinflow_s": round(clinflow_s, 3),
            "ratio_vs_pydicom_write": round(clinflow_s / pydicom_s, 2),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sys.stdout.write(orjson.dumps(measure(args.patients, args.seed)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
