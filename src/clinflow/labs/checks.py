"""``clinflow lab check N``: verify a lab's result from its data directory.

Each check returns the problems still open, each naming *what* (a file, an answer's key, a
HIPAA kind, a DICOM tag) and a hint; never an identifier's value. Heavy imports stay inside
the functions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clinflow.errors import ClinflowError


@dataclass(frozen=True, slots=True)
class Problem:
    what: str
    hint: str


class Stop(Exception):
    """A missing prerequisite: no later part of the check can run."""

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(what)
        self.problem = Problem(what, hint)


def read_json(path: Path, hint: str) -> Any:
    if not path.is_file():
        raise Stop(f"{path} is missing", hint)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise Stop(f"{path} is not JSON", hint) from None


def read_answers(path: Path, hint: str) -> dict[str, Any]:
    if not path.is_file():
        raise Stop(f"{path} is missing", hint)
    try:
        answers = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise Stop(f"{path} is not valid YAML", "keep the 'key: number' lines") from None
    if not isinstance(answers, dict):
        raise Stop(f"{path} holds no answers", "keep the 'key: number' lines")
    return answers


def compare_answers(
    path: Path, answers: dict[str, Any], truth: dict[str, Any], hints: dict[str, str]
) -> list[Problem]:
    problems = []
    for key, expected in truth.items():
        given = answers.get(key)
        if given is None:
            problems.append(Problem(f"{path}: '{key}' is not filled in", hints[key]))
        elif given != expected:
            problems.append(Problem(f"{path}: '{key}' does not match", hints[key]))
    return problems


def date_offsets(data_dir: Path) -> Callable[[str], int] | None:
    """The deployment's keyed date offset per patient (as `clinflow leaks --data-dir`)."""
    from clinflow.crypto.keys import KeyRing
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.errors import KeyError_

    try:
        key = KeyRing(data_dir / "keys", create_missing=False).project_key()
    except KeyError_:
        return None
    return Pseudonymizer(key).date_offset_days


def residual(manifest: Path, output: Path, data_dir: Path) -> tuple[int, dict[str, int], list[str]]:
    """Residual PHI count, per kind, and the locations (tags/paths, not values) found."""
    from clinflow.deid.leaks.scanner import scan

    report = scan(manifest, output, date_offsets(data_dir))
    where = sorted({finding.location.split(".")[0] for finding in report.findings})
    return report.residual, report.by_kind(), where


# ----- lab 1 ---------------------------------------------------------------------------


def check_1(data_dir: Path) -> list[Problem]:
    cohort = data_dir / "cohort"
    run_demo = f"run `clinflow demo --data-dir {data_dir} --patients 4`"
    summary = read_json(cohort / "summary.json", run_demo)
    labels = read_json(cohort / "labels.json", run_demo)
    demo = read_json(data_dir / "demo-report.json", run_demo)
    answers = read_answers(data_dir / "answers.yaml", f"run `clinflow lab start 1` ({data_dir})")
    manifest = cohort / "manifest.ndjson"
    lines = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    scan = read_json(data_dir / "raw-leaks.json", "run the `clinflow leaks ... --json` step")
    if not isinstance(scan, dict) or scan.get("entries") != len(lines):
        raise Stop(f"{data_dir}/raw-leaks.json is not a scan of this cohort", "run the step again")
    truth = {
        "patients": summary["patients"],
        "manifest_entries": len(lines),
        "kinds": len({line["kind"] for line in lines}),
        "dicom_files": summary["dicom_files"],
        "revocations": len(labels["consent_revocations"]),
        "raw_residual": scan["residual"],
        "research_residual": demo["leaks"]["residual_phi"],
    }
    hints = {
        "patients": "summary.json has it: jq .patients",
        "manifest_entries": "one planted identifier per line: wc -l",
        "kinds": "count distinct values of .kind: jq -r .kind ... | sort -u | wc -l",
        "dicom_files": "summary.json: jq .dicom_files",
        "revocations": "labels.json: the length of .consent_revocations",
        "raw_residual": "the 'residual' of the leaks scan of lab1/cohort/fhir (--json)",
        "research_residual": "demo-report.json: .leaks.residual_phi",
    }
    return compare_answers(data_dir / "answers.yaml", answers, truth, hints)


# ----- lab 2 ---------------------------------------------------------------------------

PSEUDONYM_TAGS = ("(0010,0010)", "(0010,0020)")


def check_2(data_dir: Path) -> list[Problem]:
    import tempfile

    from clinflow.crypto.keys import KeyRing
    from clinflow.deid.dicom.batch import deidentify_tree
    from clinflow.deid.dicom.engine import DicomDeidentifier
    from clinflow.deid.dicom.profile import compile_policy
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.quarantine import Quarantine

    policy = data_dir / "site-policy.yaml"
    manifest = data_dir / "cohort" / "manifest.ndjson"
    if not manifest.is_file() or not policy.is_file():
        raise Stop(f"{policy} or the cohort is missing", "run `clinflow lab start 2` again")
    problems = []
    document = yaml.safe_load(policy.read_text(encoding="utf-8")) or {}
    overrides = document.get("overrides") or [] if isinstance(document, dict) else []
    kept = {str(o.get("tag")) for o in overrides if isinstance(o, dict) and o.get("action") == "P"}
    for tag in PSEUDONYM_TAGS:
        if tag not in kept:
            problems.append(
                Problem(
                    f"{policy}: the pseudonym override of {tag} is gone",
                    "keep the two 'action: P' overrides: studies must stay linkable",
                )
            )
    if not isinstance(document, dict) or "extends" not in document:
        problems.append(Problem(f"{policy}: no 'extends:' line", "keep the 'extends:' line"))
    compiled = compile_policy(policy)  # a PolicyError names file:line:field
    output = data_dir / "out"
    if not output.is_dir():
        problems.append(Problem(f"{output} is missing", "run the deid dicom step again"))
    else:
        count, kinds, where = residual(manifest, output, data_dir)
        if count:
            problems.append(
                Problem(
                    f"{output} still holds {count} identifier(s): kinds {', '.join(kinds)} "
                    f"at {', '.join(where[:6])}",
                    "fix the policy, then run `clinflow deid dicom ... lab2/out` again",
                )
            )
    engine = DicomDeidentifier(
        compiled, Pseudonymizer(KeyRing(data_dir / "keys", create_missing=False).project_key())
    )
    with tempfile.TemporaryDirectory() as scratch:
        quarantine = Quarantine(Path(scratch) / "quarantine.db")
        try:
            deidentify_tree(
                data_dir / "cohort" / "dicom", Path(scratch) / "out", engine, quarantine
            )
        finally:
            quarantine.close()
        count, kinds, where = residual(manifest, Path(scratch) / "out", data_dir)
    if count:
        problems.append(
            Problem(
                f"{policy} still leaks {count} identifier(s): kinds {', '.join(kinds)} at "
                f"{', '.join(where[:6])}",
                "look at the overrides with action K and the options that retain identity",
            )
        )
    return problems


# ----- lab 3 ---------------------------------------------------------------------------


def check_3(data_dir: Path) -> list[Problem]:
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.deid.text.engine import TextDeidentifier, load_text_policy
    from clinflow.deid.text.evaluate import evaluate, meets_targets

    policy_path = data_dir / "site-text.yaml"
    cohort = data_dir / "cohort"
    if not policy_path.is_file() or not (cohort / "manifest.ndjson").is_file():
        raise Stop(f"{policy_path} or the cohort is missing", "run `clinflow lab start 3` again")
    policy = load_text_policy(policy_path)  # a PolicyError names file:line:field
    detector = TextDeidentifier(Pseudonymizer(b"clinflow-lab-check-detection-only"), policy)
    figures = evaluate(cohort, cohort / "manifest.ndjson", detector).as_dict()
    if meets_targets(figures):
        return []
    low = [kind for kind, recall in sorted(figures["recall_by_kind"].items()) if recall < 1.0]
    return [
        Problem(
            f"{policy_path}: recall {figures['recall_overall']}, precision "
            f"{figures['precision']}; kinds below 1.0: {', '.join(low) or 'none'}",
            "target: recall >= 0.99, the patient's own ids 1.0, precision >= 0.90; add "
            "recognizers (policies/text.yaml lists them) and measure with text-eval",
        )
    ]


# ----- lab 4 ---------------------------------------------------------------------------


def patient_of(data_dir: Path, lab: int) -> str:
    path = data_dir / "patient.txt"
    if not path.is_file():
        raise Stop(f"{path} is missing", f"run `clinflow lab start {lab}`")
    return path.read_text(encoding="utf-8").strip()


def query(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute(sql, args).fetchall()


def check_4(data_dir: Path) -> list[Problem]:
    patient = patient_of(data_dir, 4)
    revoke = "run the `clinflow consent revoke ... --json > lab4/receipt.json` command"
    receipt = read_json(data_dir / "receipt.json", revoke)
    problems = []
    if not isinstance(receipt, dict) or receipt.get("patient") != patient:
        what = f"{data_dir}/receipt.json is not a receipt for the patient"
        problems.append(Problem(what, revoke))
    elif "HRESCH" not in (receipt.get("purposes") or []) or not receipt.get("complete"):
        problems.append(
            Problem(
                f"{data_dir}/receipt.json is not a complete HRESCH revocation", "--purpose HRESCH"
            )
        )
    held = query(
        data_dir / "lineage.db",
        "SELECT count(*) FROM outputs WHERE patient = ? AND purpose = 'HRESCH' "
        "AND retracted_at IS NULL",
        patient,
    )[0][0]
    if held:
        problems.append(Problem(f"lineage still holds {held} research output(s)", revoke))
    keys = query(
        data_dir / "datakeys.db",
        "SELECT count(*), sum(destroyed IS NULL) FROM data_keys WHERE patient = ? "
        "AND scope LIKE '%HRESCH%'",
        patient,
    )[0]
    if keys[0] and keys[1]:
        problems.append(Problem("the patient's research data key still exists", revoke))
    scores = query(
        data_dir / "scoring.db", "SELECT count(*) FROM observations WHERE patient = ?", patient
    )[0][0]
    if not scores:
        problems.append(
            Problem(
                "the patient's treatment (TREAT) data is gone",
                "revoke only the research purpose: start again in a fresh folder",
            )
        )
    return problems


# ----- registry ------------------------------------------------------------------------


def _checks() -> dict[int, Callable[[Path], list[Problem]]]:
    from clinflow.labs.checks_services import check_5, check_6, check_7

    return {1: check_1, 2: check_2, 3: check_3, 4: check_4, 5: check_5, 6: check_6, 7: check_7}


def run_check(number: int, data_dir: Path) -> list[Problem]:
    """The open problems of lab ``number`` in ``data_dir`` (empty: passed)."""
    if not data_dir.is_dir():
        return [Problem(f"{data_dir} does not exist", f"run `clinflow lab start {number}`")]
    try:
        return _checks()[number](data_dir)
    except Stop as stop:
        return [stop.problem]
    except ClinflowError as exc:  # a policy that does not load: file:line: rule: field
        return [Problem(str(exc), "fix the file it names")]
    except (sqlite3.Error, KeyError, TypeError, ValueError, OSError) as exc:
        return [
            Problem(
                f"the lab's files are not in the expected shape ({type(exc).__name__})",
                f"run `clinflow lab start {number}` in a fresh folder",
            )
        ]
