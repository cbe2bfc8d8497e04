"""Scenario files: shipped ones load; bad ones fail as file:line: -: field: message, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinflow.errors import ConfigError, PolicyError
from clinflow.synthetic.scenario import Scenario, load_scenario
from helpers.cli import run_cli

SCENARIOS = Path(__file__).resolve().parents[2] / "synthetic"


@pytest.mark.parametrize("name", ["default", "icu-ward", "er-surge", "imaging-day"])
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    assert scenario.name == name


def test_builtin_default_is_default_yaml() -> None:
    from_file = load_scenario(SCENARIOS / "default.yaml").model_dump(exclude={"description"})
    assert from_file == Scenario().model_dump(exclude={"description"})


@pytest.mark.parametrize(
    ("text", "located"),
    [
        ("patients: 10\nvital_hours: 4\n", "2: -: vital_hours: unknown field"),
        ("deterioration_fraction: 1.5\n", "1: -: deterioration_fraction: Input should be less"),
        ("patients: many\n", "1: -: patients: Input should be a valid integer"),
        ("consent:\n  revocation_fraction: -1\n", "2: -: consent.revocation_fraction: "),
        ("consent:\n  permit_probability: {TREAT: 2}\n",
         "2: -: consent.permit_probability: Value error, probability for TREAT"),
        ("consent:\n  permit_probability: {GOSSIP: 0.5}\n",
         "2: -: consent.permit_probability.GOSSIP: Input should be 'TREAT'"),
        ("modality_mix: {XR: 1}\n", "1: -: modality_mix.XR: "),
        ("name: x\nencounter_mix: {ed: 0, icu: 0}\n",
         "2: -: encounter_mix: Value error, at least one"),
        ("start: 2026-01-05T08:00:00\n", "1: -: start: Value error, start must carry a timezone"),
        ("name: x\n\nfhir_version: R6\n", "3: -: fhir_version: Input should be 'R4B' or 'R5'"),
    ],
)  # fmt: skip
def test_bad_scenario_names_file_line_and_field(tmp_path: Path, text: str, located: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}:{located}")


def test_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\npatients: [1, 2\n")
    with pytest.raises(PolicyError, match=r"broken\.yaml:2: -: -: not valid YAML \("):
        load_scenario(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- patients\n")
    with pytest.raises(PolicyError) as info:
        load_scenario(listing)
    assert str(info.value) == f"{listing}:1: -: -: expected a mapping at the top level"
    missing = tmp_path / "missing.yaml"
    with pytest.raises(PolicyError) as info:
        load_scenario(missing)
    assert str(info.value).startswith(f"{missing}:0: -: -: cannot read scenario file (")
    assert isinstance(info.value, ConfigError)  # the CLI's usage-error class: exit 2


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
