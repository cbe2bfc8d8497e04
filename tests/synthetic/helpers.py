"""Helpers for the generator tests: a small scenario and a builder with fixed seeds."""

from __future__ import annotations

from pathlib import Path

from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.scenario import Scenario

# Short vitals keep the cohorts small; every other feature is switched on.
SMALL = Scenario(
    name="test-small",
    vitals_hours=2,
    vitals_interval_minutes=30,
    deterioration_fraction=0.5,
    elderly_fraction=0.4,
    notes_per_patient=3,
    imaging_fraction=0.8,
    modality_mix={"CR": 0.4, "US": 0.3, "CT": 0.2, "MR": 0.1},
    burned_in_fraction=0.8,
    consent={"revocation_fraction": 0.8},
)


def build(out: Path, seed: int = 11, patients: int = 6, **changes: object) -> dict[str, object]:
    scenario = SMALL.model_copy(update=changes) if changes else SMALL
    options = GenerateOptions(patients=patients, seed=seed, out=out, scenario=scenario, workers=1)
    return generate(options)


SAMPLE = Path(__file__).resolve().parents[2] / "synthetic" / "sample"
