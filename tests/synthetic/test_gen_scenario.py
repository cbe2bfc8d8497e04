"""Scenario files: shipped ones load; bad ones fail with the file and field named, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.synthetic.cli_helper import run_cli

from clinflow.errors import ConfigError
from clinflow.synthetic.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "synthetic"


@pytest.mark.parametrize("name", ["default", "icu-ward", "er-surge", "imaging-day"])
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    assert scenario.name == name


def test_builtin_default_is_default_yaml() -> None:
    from_file = load_scenario(SCENARIOS / "default.yaml").model_dump(exclude={"description"})
    assert from_file == Scenario().model_dump(exclude={"description"})


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("patients: 10\nvital_hours: 4\n", "'vital_hours': unknown field"),
        ("deterioration_fraction: 1.5\n", "'deterioration_fraction'"),
        ("patients: many\n", "'patients'"),
        ("consent:\n  revocation_fraction: -1\n", "'consent.revocation_fraction'"),
        ("consent:\n  permit_probability: {TREAT: 2}\n", "'consent.permit_probability'"),
        ("consent:\n  permit_probability: {GOSSIP: 0.5}\n", "'consent.permit_probability.GOSSIP"),
        ("modality_mix: {XR: 1}\n", "'modality_mix.XR"),
        ("encounter_mix: {ed: 0, icu: 0}\n", "'encounter_mix'"),
        ("start: 2026-01-05T08:00:00\n", "'start': Value error, start must carry a timezone"),
        ("fhir_version: R6\n", "'fhir_version'"),
    ],
)
def test_bad_scenario_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field ")
    assert field in message


def test_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("patients: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_scenario(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- patients\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_scenario(listing)
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_cli_bad_scenario_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("notes_per_patient: 99\n")
    code, _, stderr = run_cli(
        capsys,
        "generate",
        "--scenario",
        str(path),
        "--out",
        str(tmp_path / "out"),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert code == 2
    assert "notes_per_patient" in stderr and str(path) in stderr.replace("\n", "")
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_foreign_non_empty_out_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("not ours")
    code, _, stderr = run_cli(
        capsys,
        "generate",
        "--patients",
        "1",
        "--out",
        str(out),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert code == 2 and "not empty" in stderr
    assert (out / "thesis.docx").exists()
