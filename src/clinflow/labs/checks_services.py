"""Checks of labs 5–7: the audit log and proofs, the scoring endpoint, replay reports."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from clinflow.errors import ClinflowError
from clinflow.labs.checks import (
    Problem,
    Stop,
    compare_answers,
    patient_of,
    read_answers,
    read_json,
)

PROOF_SAMPLES = 4  # entries whose proofs the student's script must accept


def verify_data_dir(data_dir: Path) -> bool:
    """``clinflow audit verify`` of a data directory: every entry and checkpoint."""
    from clinflow.audit.log import DEFAULT_ORIGIN
    from clinflow.audit.store import open_existing_store
    from clinflow.audit.verify import trusted_verifiers, verify_log
    from clinflow.config import DataDir

    deployment = DataDir(data_dir)
    store = open_existing_store(deployment, None, "audit")
    try:
        verifiers = trusted_verifiers(deployment, DEFAULT_ORIGIN, [])
        return bool(verify_log(store, verifiers, origin=DEFAULT_ORIGIN).ok)
    finally:
        store.close()


def proof_documents(data_dir: Path) -> list[dict[str, Any]]:
    """Entries with inclusion proofs, in the shape of ``GET /audit/events/{index}``."""
    from clinflow.audit.merkle import MerkleTree
    from clinflow.audit.store import open_existing_store
    from clinflow.config import DataDir

    store = open_existing_store(DataDir(data_dir), None, "audit")
    try:
        size = store.size()
        tree = MerkleTree(store.leaf_hashes(0, size))
        picks = sorted({0, size // 3, (2 * size) // 3, size - 1})[:PROOF_SAMPLES]
        documents = []
        for index in picks:
            entry = store.get_entry(index)
            assert entry is not None
            documents.append(
                {
                    "index": index,
                    "leaf_hash": base64.b64encode(tree.leaf(index)).decode(),
                    "entry": entry.decode(),
                    "inclusion_proof": {
                        "leaf_index": index,
                        "tree_size": size,
                        "root_hash": base64.b64encode(tree.root(size)).decode(),
                        "hashes": [
                            base64.b64encode(h).decode() for h in tree.inclusion_proof(index, size)
                        ],
                    },
                }
            )
        return documents
    finally:
        store.close()


def altered(document: dict[str, Any]) -> dict[str, Any]:
    """The same proof for a different root: one bit of the root hash flipped."""
    root = bytearray(base64.b64decode(document["inclusion_proof"]["root_hash"]))
    root[0] ^= 1
    proof = {**document["inclusion_proof"], "root_hash": base64.b64encode(bytes(root)).decode()}
    return {**document, "inclusion_proof": proof}


def run_script(script: Path, document: dict[str, Any], scratch: Path) -> tuple[int, str]:
    path = scratch / f"entry-{document['index']}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, "timed out"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, (lines[-1][:100] if lines else "")


def check_5(data_dir: Path) -> list[Problem]:
    from clinflow.audit.store import SearchQuery, open_existing_store
    from clinflow.config import DataDir

    problems = []
    if not verify_data_dir(data_dir):
        problems.append(
            Problem(f"{data_dir} itself no longer verifies", "tamper only with the copy")
        )
    tampered = data_dir / "tampered"
    if not (tampered / "audit.db").is_file():
        problems.append(Problem(f"{tampered}/audit.db is missing", "do the tampering step"))
    elif verify_data_dir(tampered):
        problems.append(
            Problem(f"{tampered} still verifies: nothing was changed", "run the UPDATE step")
        )
    script = data_dir / "verify_proof.py"
    if not script.is_file():
        raise Stop(f"{script} is missing", "run `clinflow lab start 5`")
    with tempfile.TemporaryDirectory() as folder:
        for document in proof_documents(data_dir):
            code, said = run_script(script, document, Path(folder))
            if code != 0:
                problems.append(
                    Problem(
                        f"verify_proof.py rejects a valid proof of entry {document['index']} "
                        f"(exit {code}: {said})",
                        "implement leaf_hash, node_hash and root_from_proof (RFC 9162 2.1.3.2)",
                    )
                )
                break
            code, said = run_script(script, altered(document), Path(folder))
            if code != 1:
                problems.append(
                    Problem(
                        f"verify_proof.py accepts a proof of entry {document['index']} for the "
                        f"wrong root (exit {code})",
                        "compare the computed root with root_hash; exit 1 when they differ",
                    )
                )
                break
    patient = patient_of(data_dir, 5)
    accounting = read_json(data_dir / "disclosures.json", "run the curl step of the API")
    store = open_existing_store(DataDir(data_dir), None, "audit")
    try:
        disclosed = store.search(SearchQuery(patient=patient, code="disclose", limit=100_000))
    finally:
        store.close()
    if not isinstance(accounting, dict) or accounting.get("patient") != patient:
        problems.append(
            Problem(f"{data_dir}/disclosures.json is not the patient's accounting", "check the URL")
        )
    elif len(accounting.get("disclosures") or []) != len(disclosed):
        problems.append(
            Problem(
                f"{data_dir}/disclosures.json lists {len(accounting.get('disclosures') or [])} "
                f"disclosure(s), the log holds {len(disclosed)}",
                "fetch the accounting again",
            )
        )
    return problems


# ----- lab 6 ---------------------------------------------------------------------------

PROTECTED = {"race", "ethnicity"}


def check_6(data_dir: Path) -> list[Problem]:
    from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
    from clinflow.scoring.policy import load_policy
    from clinflow.scoring.service import ScoringService

    problems = []
    refused = read_json(data_dir / "refused.json", "send the request with race (exercise 1)")
    detail = refused.get("detail") if isinstance(refused, dict) else None
    fields = {
        str(item)
        for entry in (detail if isinstance(detail, list) else [])
        if isinstance(entry, dict)
        for item in entry.get("loc") or []
    }
    if not fields & PROTECTED:
        problems.append(
            Problem(f"{data_dir}/refused.json is not a refusal naming race", "add race, send again")
        )
    measured = read_json(data_dir / "invariance.json", "run lab6/invariance.py (exercise 2)")
    request = read_json(data_dir / "triage.json", "run `clinflow lab start 6`")
    stage = MinimumNecessaryStage(load_policy().endpoint("triage"))
    try:
        scored = ScoringService().triage_json(stage.strip_record(request)[0])
    except ClinflowError as exc:  # names the field, never its value
        hint = "run `clinflow lab start 6` in a fresh folder"
        return [*problems, Problem(f"{data_dir}/triage.json is not a triage request ({exc})", hint)]
    expected = scored.to_json()["esi_level"]
    variants = measured.get("variants", 0) if isinstance(measured, dict) else 0
    if not isinstance(measured, dict) or variants < 10:
        problems.append(Problem(f"{data_dir}/invariance.json has fewer than 10 variants", "run it"))
    elif measured.get("refused_direct") != variants:
        problems.append(
            Problem("not every variant with race was refused", "is the service running?")
        )
    elif not PROTECTED <= set(measured.get("removed_fields") or []):
        problems.append(Problem("the stage did not strip race and ethnicity", "run it again"))
    elif measured.get("esi_levels") != [expected]:
        problems.append(
            Problem(
                f"{data_dir}/invariance.json does not show one ESI level, the scorer's",
                "run lab6/invariance.py against the running service with lab6/triage.json",
            )
        )
    return problems


# ----- lab 7 ---------------------------------------------------------------------------


def check_7(data_dir: Path) -> list[Problem]:
    replay = "run the replay with --faults ... --report lab7/faults (exercise 1)"
    report = read_json(data_dir / "faults" / "report.json", replay)
    answers = read_answers(data_dir / "answers.yaml", "run `clinflow lab start 7`")
    problems = []
    faults = str(report.get("faults") or "")
    if "malformed" not in faults or "duplicate" not in faults:
        problems.append(Problem("the replay had no malformed and duplicate faults", replay))
    if not report.get("ok"):
        failed = ", ".join(str(f) for f in report.get("failed_checks") or []) or "?"
        problems.append(Problem(f"the replay's checks failed: {failed}", "read report.html"))
    injected = report["inputs"].get("injected") or {}
    correctness = report["correctness"]
    truth = {
        "fed": report["inputs"]["fed"],
        "malformed_injected": injected.get("malformed", 0),
        "duplicates_injected": injected.get("duplicate", 0),
        "quarantined": correctness["quarantined"],
        "lost": correctness["lost"],
        "duplicated_at_sinks": correctness["duplicated_at_sinks"],
    }
    hints = {key: f"report.json: .inputs / .correctness ({key})" for key in truth}
    return problems + compare_answers(data_dir / "answers.yaml", answers, truth, hints)
