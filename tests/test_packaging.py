"""A wheel carries the policies and scenarios, and an install from it finds and loads them
through importlib.resources exactly as a checkout does (no CLINFLOW_POLICIES_DIR)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK_INSTALLED = r"""
import json, sys
from importlib.resources import files
import clinflow
from clinflow.config import policies_dir, scenarios_dir
from clinflow.consent.policy import load_policy as consent
from clinflow.deid.dicom.profile import compile_policy
from clinflow.deid.fhir.policy import load_policy as fhir
from clinflow.deid.text.corpus import annotated_notes_path, load_annotated_notes
from clinflow.deid.text.engine import load_text_policy
from clinflow.runtime.pipeline import DEMO_SCENARIO
from clinflow.scoring.policy import load_policy as endpoints
from clinflow.synthetic.scenario import load_scenario

print(json.dumps({
    "package": clinflow.__file__,
    "policies": str(policies_dir()),
    "resources": str(files("clinflow") / "policies"),
    "scenarios": str(scenarios_dir()),
    "consent": sorted(consent(policies_dir() / "consent.yaml").purposes),
    "endpoints": sorted(endpoints().endpoints),
    "fhir": [fhir("safe-harbor").name, fhir("limited-data-set").name],
    "dicom": len(compile_policy().actions),
    "text": load_text_policy().name,
    "text_eval": [str(annotated_notes_path()), len(load_annotated_notes(annotated_notes_path()))],
    "demo": str(DEMO_SCENARIO),
    "demo_name": load_scenario(DEMO_SCENARIO).name,
}))
"""


def _build_flags() -> list[str]:
    """Build in the venv when its setuptools is new enough, else in pip's isolated env."""
    try:
        major = int(version("setuptools").split(".")[0])
        version("wheel")
    except (PackageNotFoundError, ValueError):
        return []
    return ["--no-build-isolation"] if major >= 77 else []


def _source_copy(target: Path) -> Path:
    """The files a build reads, copied with the package's symlinks kept as symlinks."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", target / "src", symlinks=True, ignore=ignore)
    shutil.copytree(REPO / "policies", target / "policies", ignore=ignore)
    (target / "synthetic").mkdir()
    for scenario in (REPO / "synthetic").glob("*.yaml"):
        shutil.copy2(scenario, target / "synthetic" / scenario.name)
    shutil.copytree(REPO / "synthetic" / "text_eval", target / "synthetic" / "text_eval")
    assert (target / "src" / "clinflow" / "policies").is_symlink()
    return target


@pytest.mark.slow
def test_wheel_ships_policies_and_scenarios_found_via_importlib_resources(
    tmp_path: Path,
) -> None:
    source = _source_copy(tmp_path / "source")
    dist, site = tmp_path / "dist", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", *_build_flags(), "-w", str(dist), str(source)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = dist.glob("clinflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    policies = {p.relative_to(REPO).as_posix() for p in (REPO / "policies").rglob("*.yaml")}
    assert {f"clinflow/{name}" for name in policies} <= names
    assert "clinflow/policies/dicom/ps3.15-e1-1.yaml" in names
    scenarios = {f"clinflow/scenarios/{p.name}" for p in (REPO / "synthetic").glob("*.yaml")}
    assert scenarios <= names and "clinflow/scenarios/demo.yaml" in names
    assert not [name for name in names if "/sample/" in name]  # the sample corpus stays out
    assert "clinflow/scenarios/text_eval/notes.jsonl" in names  # the text de-id evaluation set

    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "CLINFLOW_POLICIES_DIR"}
    env["PYTHONPATH"] = str(site)  # ahead of the checkout's editable install
    result = subprocess.run(
        [sys.executable, "-c", CHECK_INSTALLED],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    installed = site / "clinflow"
    assert Path(found["package"]).parent == installed
    assert found["policies"] == found["resources"] == str(installed / "policies")
    assert found["scenarios"] == str(installed / "scenarios")
    assert "TREAT" in found["consent"] and {"icu", "triage"} <= set(found["endpoints"])
    assert found["fhir"] == ["safe-harbor", "limited-data-set"]  # extends resolves in the wheel
    assert found["dicom"] > 500 and found["text"]
    notes = str(installed / "scenarios" / "text_eval" / "notes.jsonl")
    assert found["text_eval"][0] == notes and found["text_eval"][1] >= 80
    demo = str(installed / "scenarios" / "demo.yaml")  # `clinflow demo`'s default scenario
    assert (found["demo"], found["demo_name"]) == (demo, "demo")
