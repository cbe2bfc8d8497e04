"""Chaos: ``kill -9`` at random points of a multi-step revocation (issue 13; ADRs 0041-0043).

A deployment is filled by ``clinflow demo`` once. Each run copies it, starts ``clinflow
consent revoke PATIENT`` as a process, kills it with SIGKILL after a random delay (from just
after start to the end of an undisturbed revoke: registry record, lineage sweep, research
store, scoring rows, key destruction, receipt: most kills land after the registry's change
signal shows the revocation recorded, some before), then restarts the revoke. After the restart
the stores must be exactly where the undisturbed revoke left them: the same lineage rows
retracted and nothing else, no research record or score left, every data key of the revoked
scopes destroyed, one revocation in force (not two), a complete receipt, an audit log that
verifies; a receipt printed by the killed process (it finished first) must be stored.
"""

from __future__ import annotations

import random
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.runtime.deployment import Deployment
from helpers.chaos import kill_after, run_clinflow, runs, spawn_clinflow, wait_for_change
from helpers.fuzz import tally

pytestmark = pytest.mark.slow
SIGNAL = "consent.db-signal"  # bumped after every registry commit (ADR 0041): the record step


def state(data_dir: Path, patient: str) -> dict[str, Any]:
    """What a revocation of ``patient`` must have changed, read from the stores."""
    with Deployment.open(data_dir) as deployment:
        rows = deployment.lineage.find(patient, include_retracted=True, with_inputs=False)
        receipts = deployment.consent.revocations.receipts(patient)
        purposes = set(receipts[-1].purposes) if receipts else set()
        return {
            "retracted": sorted((r.output_id, r.sink) for r in rows if r.retracted_at),
            "unretracted": sorted((r.output_id, r.sink) for r in rows if not r.retracted_at),
            "research": len(deployment.research.records(patient)),
            "scores": deployment.scoring_store.count(patient),
            "live_keys": sorted(
                k.scope for k in deployment.datakeys.keys(patient)
                if k.destroyed is None and k.scope in purposes
            ),  # fmt: skip
            "revocations": len(deployment.consent.status(patient)["revocations"]),
            "receipt_ids": [r.receipt_id for r in receipts],
            "complete": bool(receipts) and receipts[-1].complete,
        }


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo deployment and the patient with the most released data."""
    data_dir = tmp_path_factory.mktemp("chaos") / "data"
    done = run_clinflow("demo", "--data-dir", data_dir, "--patients", "4", "--seed", "3",
                        "--json", "--no-bad-inputs", timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with Deployment.open(data_dir) as deployment:
        patients = [row["patient"] for row in deployment.consent.summary()]
        held = {p: len(deployment.lineage.find(p, with_inputs=False)) for p in patients}
    patient = max(held, key=lambda p: held[p])
    assert held[patient] > 0, "the demo released nothing to revoke"
    return data_dir, patient


def test_kill_9_during_revoke_then_restart_converges(
    prepared: tuple[Path, str], tmp_path: Path
) -> None:
    source, patient = prepared
    reference = tmp_path / "reference"
    shutil.copytree(source, reference)
    child = spawn_clinflow("consent", "revoke", patient, "--json", "--data-dir", reference)
    started = time.monotonic()
    assert wait_for_change(reference / SIGNAL, child), "the revocation was never recorded"
    recorded_s = time.monotonic() - started
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-2000:]
    receipt = orjson.loads(out)
    # request -> receipt inside the process (what follows is closing stores and exiting)
    sweep_s = (datetime.fromisoformat(receipt["completed_at"])
               - datetime.fromisoformat(receipt["requested_at"])).total_seconds()  # fmt: skip
    expected = state(reference, patient)
    assert expected["complete"] and expected["retracted"] and not expected["unretracted"]
    assert expected["research"] == expected["scores"] == 0 and not expected["live_keys"]

    before = state(source, patient)
    rng = random.Random(13)
    lost = duplicates = killed_runs = 0
    for run in range(runs()):
        data_dir = tmp_path / f"run{run}"
        shutil.copytree(source, data_dir)
        child = spawn_clinflow("consent", "revoke", patient, "--json", "--data-dir", data_dir)
        if run % 4 == 3:  # now and then before the record step too (startup, opening stores)
            delay = rng.uniform(0.5 * recorded_s, recorded_s)
        else:  # mostly inside the steps after the record: sweep, retract, shred, receipt
            wait_for_change(data_dir / SIGNAL, child)
            delay = rng.uniform(0, 0.4 * sweep_s)  # the window starts before the record step
        killed, out, _ = kill_after(child, delay)
        killed_runs += killed
        printed = orjson.loads(out)["receipt_id"] if not killed and out.strip() else None
        if killed:
            at_kill = state(data_dir, patient)
            if at_kill["receipt_ids"] != before["receipt_ids"]:
                where = "after-receipt"  # stored its receipt, killed while closing
            elif at_kill != before:
                where = "mid-revocation"  # recorded, sweep partial, no receipt
            else:
                where = "before"  # start-up: nothing changed yet
            tally(f"chaos:revoke-kill9-{where}")

        restart = run_clinflow("consent", "revoke", patient, "--json", "--data-dir", data_dir)
        assert restart.returncode == 0, (run, delay, restart.stderr[-2000:])
        got = state(data_dir, patient)
        verify = run_clinflow("audit", "verify", "--data-dir", data_dir)
        assert verify.returncode == 0, (run, delay, verify.stdout + verify.stderr)

        missing = set(expected["retracted"]) - set(got["retracted"])
        extra = set(got["retracted"]) - set(expected["retracted"])
        lost += len(missing) + len(got["unretracted"]) + got["research"] + got["scores"]
        lost += len(got["live_keys"]) + (printed is not None and printed not in got["receipt_ids"])
        duplicates += got["revocations"] - 1 + len(extra)
        assert not missing and not extra, (run, delay, sorted(missing), sorted(extra))
        assert got["unretracted"] == [] and got["research"] == got["scores"] == 0, (run, delay)
        assert got["live_keys"] == [] and got["revocations"] == 1, (run, delay, got)
        assert got["complete"], (run, delay)
        if printed is not None:
            assert printed in got["receipt_ids"]
        tally("chaos:revoke-kill9" if killed else "chaos:revoke-finished-before-kill")
    tally("chaos:acknowledged-lost", lost)
    tally("chaos:duplicates", duplicates)
    assert killed_runs >= 1 or runs() < 3, "every revoke finished before its kill: no fault"
