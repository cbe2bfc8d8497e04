"""A planted-PHI DICOM corpus for tests and benchmarks, from clinflow's own generator.

Uses the synthetic population and DICOM generator functions directly (not the full
``clinflow generate`` pipeline), so a corpus of N patients with every modality is quick to
make and comes with its ground-truth ``manifest.ndjson``.
"""

from __future__ import annotations

from pathlib import Path

from clinflow.synthetic.manifest import ManifestWriter, PhiEntry

ALL_MODALITIES = ("CT", "MR", "CR", "DX", "US", "SC")


def build_corpus(
    out_dir: Path,
    patients: int,
    seed: int = 7,
    modalities: tuple[str, ...] = ALL_MODALITIES,
    burned_in_fraction: float = 0.5,
) -> tuple[Path, int]:
    """Write ``patients`` patients' studies under ``out_dir/dicom``; returns (manifest, files)."""
    from clinflow.synthetic.dicom.imaging import write_imaging_for_patient
    from clinflow.synthetic.population import make_patient
    from clinflow.synthetic.scenario import load_scenario

    scenario = load_scenario(None)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.ndjson"
    files: set[str] = set()
    with manifest_path.open("wb") as handle:
        writer = ManifestWriter(handle)

        def add(entry: PhiEntry) -> None:
            files.add(entry.file)
            writer.add(entry)

        for index in range(patients):
            patient, rng = make_patient(seed, index, scenario)
            write_imaging_for_patient(
                patient,
                rng,
                patient.admitted_at,
                out_dir,
                list(modalities),
                add,
                burned_in_fraction,
            )
    return manifest_path, len(files)
