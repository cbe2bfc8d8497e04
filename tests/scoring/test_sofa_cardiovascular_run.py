"""End to end: a generated icu-labs stream through ``clinflow run`` brings the septic
patients' norepinephrine records (MedicationAdministration) to ICU scoring, stripped to what
the endpoint may receive, and the stored scores carry the SOFA cardiovascular component."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clinflow.runtime.deployment import Deployment
from helpers.cli import run_cli

ROOT = Path(__file__).parents[2]


def test_infusions_reach_scoring_through_clinflow_run(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = yaml.safe_load((ROOT / "synthetic" / "icu-labs.yaml").read_text())
    scenario.update(deterioration_fraction=1.0, deterioration_patterns=["sepsis"],
                    imaging_fraction=0.0, notes_per_patient=0, vitals_interval_minutes=60,
                    duplicate_registration_fraction=0.0)  # fmt: skip
    path = tmp_path / "septic.yaml"
    path.write_text(yaml.safe_dump(scenario))
    code, stdout, stderr = run_cli(capsys, "run", "--source", "generator", "--patients", "2",
                                   "--seed", "3", "--scenario", str(path), "--json",
                                   "--no-progress", "--validation", "shallow")  # fmt: skip
    assert code == 0, stderr
    json.loads(stdout)
    with Deployment.open(data_dir) as deployment:
        service = deployment.scoring()
        points = []
        for patient in deployment.scoring_store.patients():
            stored = deployment.scoring_store.observations(patient)
            administrations = [r for r in stored if r["resourceType"] == "MedicationAdministration"]
            for resource in administrations:  # minimum necessary: no route, no encounter
                assert set(resource["dosage"]) == {"rateQuantity"}
                assert "encounter" not in resource and "context" not in resource
            score = service.latest_score(patient)
            if administrations and score is not None and score.labs is not None:
                points.append(score.labs.cardiovascular.points)
        assert points and all(p in (3, 4) for p in points)
