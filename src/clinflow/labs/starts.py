"""``clinflow lab start N``: set up each lab's data directory.

A start never overwrites the student's work: files it writes (answers templates, the site
policies to repair, the lab 5 script) are only written when missing, and a demo run already
in the data directory is reused. Heavy imports stay inside the functions (``--help`` speed).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from clinflow.config import DataDir, scenarios_dir
from clinflow.labs.catalog import labs_dir

Say = Callable[[str], None]

LAB_PATIENTS = 4  # small cohorts: every lab runs in seconds on a laptop
LAB_SEED = 7
TEXT_LAB_PATIENTS = 2
TEXT_LAB_SEED = 11
TRIAGE_PATIENT = "PT-00000000000000a6"  # a pseudonym-shaped id for lab 6's hand-made request

ANSWERS_1 = """\
# Lab 1 answers: replace each ~ by a number (counts only: never paste identifiers here).
patients: ~            # patients in the cohort (lab1/cohort/summary.json)
manifest_entries: ~    # planted identifiers: lines of lab1/cohort/manifest.ndjson
kinds: ~               # distinct HIPAA kinds ("kind") in the manifest
dicom_files: ~         # DICOM files the generator wrote
revocations: ~         # research-consent revocations the generator scheduled (labels.json)
raw_residual: ~        # residual PHI `clinflow leaks` finds in the ORIGINAL lab1/cohort/fhir
research_residual: ~   # residual PHI in the research store after the demo (demo-report.json)
"""

ANSWERS_7 = """\
# Lab 7 answers: numbers read from lab7/faults/report.json (replace each ~).
fed: ~                 # inputs fed to the pipeline (source + injected)
malformed_injected: ~  # malformed inputs the fault injector added
duplicates_injected: ~ # duplicates the fault injector added
quarantined: ~         # inputs the pipeline quarantined
lost: ~                # inputs lost
duplicated_at_sinks: ~ # duplicates that reached a sink
"""

WEAK_DICOM_POLICY = """\
# Site policy of the imaging research group (lab 2). Someone "relaxed" it for a study.
extends: {parent}
default_options:
  - retain_long_modified_dates
  - clean_descriptors
  - clean_structured_content
  - clean_graphics
  - clean_pixel_data
  - retain_device_identity     # "the physicists want the scanner serial numbers"
overrides:
  - {{tag: '(0010,0010)', action: P, reason: 'PatientName -> keyed pseudonym'}}
  - {{tag: '(0010,0020)', action: P, reason: 'PatientID -> keyed pseudonym'}}
  - {{tag: '(0010,0030)', action: K, reason: 'study team wants exact ages'}}
  - {{tag: '(0008,0090)', action: K, reason: 'keep the referring physician for follow-up'}}
"""

WEAK_TEXT_POLICY = """\
# Site free-text policy (lab 3): tuned "for speed" by keeping only the regular expressions.
name: site-fast
recognizers: [patterns]
disabled_patterns: [age_any]
"""

NOTE_3 = """\
ICU progress note. Pt seen with Dr. Okafor and RN Lindqvist at 0800 on 03/14.
Daughter Marisol Quintero-Baptiste called from Tucson, AZ (520) 555-0147; she will visit.
Plan discussed with Halvorsen, MD. Follow-up at Saint Brendan Memorial Hospital.
"""

TRIAGE_6 = json.dumps(
    {
        "patient": TRIAGE_PATIENT,
        "age_years": 67,
        "chief_complaint": "shortness_of_breath",
        "expected_resources": 2,
        "respiratory_rate": 24,
        "spo2": 91,
        "heart_rate": 112,
        "systolic_bp": 98,
        "consciousness": "A",
        "temperature_c": 38.4,
    },
    indent=2,
)


def _write_once(path: Path, text: str, say: Say) -> None:
    if path.exists():
        say(f"kept your {path}")
        return
    path.write_text(text, encoding="utf-8")
    say(f"wrote {path}")


def _copy_once(name: str, target: Path, say: Say) -> None:
    _write_once(target, (labs_dir() / "files" / name).read_text(encoding="utf-8"), say)


def _generate(out: Path, scenario: str, patients: int, seed: int, say: Say) -> None:
    """A cohort (FHIR, notes, DICOM, manifest), unless one is already there."""
    if (out / "manifest.ndjson").is_file():
        say(f"kept the cohort in {out}")
        return
    from clinflow.synthetic.generator import GenerateOptions, generate
    from clinflow.synthetic.scenario import load_scenario

    chosen = load_scenario(scenarios_dir() / f"{scenario}.yaml")
    generate(GenerateOptions(patients=patients, seed=seed, out=out, scenario=chosen, workers=1))
    say(f"generated {patients} synthetic patients into {out} (scenario {scenario}, seed {seed})")


def ensure_demo(data_dir: Path, say: Say) -> None:
    """The demo's pipeline run in ``data_dir`` (reused when its report says it passed)."""
    from clinflow.runtime.pipeline import DemoPipeline, PipelineOptions, report_path

    deployment = DataDir.open(data_dir)
    existing = report_path(deployment)
    if existing.is_file() and json.loads(existing.read_text(encoding="utf-8")).get("ok"):
        say(f"reusing the demo run in {data_dir}")
        return
    say(f"running the demo pipeline on {LAB_PATIENTS} synthetic patients (about 15 s)...")
    options = PipelineOptions(patients=LAB_PATIENTS, seed=LAB_SEED)
    report = DemoPipeline(deployment, options).run()
    existing.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")


def research_patient(data_dir: Path) -> str | None:
    """A patient whose research releases are still held (lineage: HRESCH, not retracted)."""
    with sqlite3.connect(f"file:{data_dir / 'lineage.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT patient FROM outputs WHERE purpose = 'HRESCH' AND retracted_at IS NULL "
            "GROUP BY patient ORDER BY count(*) DESC, patient LIMIT 1"
        ).fetchone()
    return str(row[0]) if row else None


def _patient_file(data_dir: Path, say: Say) -> None:
    patient = research_patient(data_dir)
    if patient is None:
        raise_config(f"{data_dir}: no patient with research releases (run the demo again)")
    _write_once(data_dir / "patient.txt", f"{patient}\n", say)


def raise_config(message: str) -> None:
    from clinflow.errors import ConfigError

    raise ConfigError(message)


def _start_1(data_dir: Path, say: Say) -> None:
    _write_once(data_dir / "answers.yaml", ANSWERS_1, say)


def _start_2(data_dir: Path, say: Say) -> None:
    from clinflow.deid.dicom.profile import POLICY_DIR

    _generate(data_dir / "cohort", "demo", LAB_PATIENTS, LAB_SEED, say)
    parent = (POLICY_DIR / "site-default.yaml").resolve()
    _write_once(data_dir / "site-policy.yaml", WEAK_DICOM_POLICY.format(parent=parent), say)


def _start_3(data_dir: Path, say: Say) -> None:
    _generate(data_dir / "cohort", "default", TEXT_LAB_PATIENTS, TEXT_LAB_SEED, say)
    _write_once(data_dir / "site-text.yaml", WEAK_TEXT_POLICY, say)
    _write_once(data_dir / "note.txt", NOTE_3, say)


def _start_4(data_dir: Path, say: Say) -> None:
    ensure_demo(data_dir, say)
    _patient_file(data_dir, say)


def _start_5(data_dir: Path, say: Say) -> None:
    ensure_demo(data_dir, say)
    _patient_file(data_dir, say)
    _copy_once("verify_proof.py", data_dir / "verify_proof.py", say)


def _start_6(data_dir: Path, say: Say) -> None:
    _write_once(data_dir / "triage.json", TRIAGE_6 + "\n", say)
    _copy_once("invariance.py", data_dir / "invariance.py", say)


def _start_7(data_dir: Path, say: Say) -> None:
    _write_once(data_dir / "answers.yaml", ANSWERS_7, say)


STARTS: dict[int, Callable[[Path, Say], None]] = {
    1: _start_1,
    2: _start_2,
    3: _start_3,
    4: _start_4,
    5: _start_5,
    6: _start_6,
    7: _start_7,
}


def start_lab(number: int, data_dir: Path, say: Say) -> None:
    """Create ``data_dir`` (0700) and put in it what lab ``number`` needs."""
    DataDir.open(data_dir)
    STARTS[number](data_dir, say)


def copy_tree(source: Path, target: Path) -> None:
    """Copy a lab data directory (tests share one demo run between labs)."""
    shutil.copytree(source, target)
