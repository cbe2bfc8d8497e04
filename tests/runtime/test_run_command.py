"""``clinflow run``: a source streamed into the deployment's own stores, drained on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def clinflow(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clinflow", *args], capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_generator_stream_is_accounted_for_and_idempotent(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    first = clinflow("run", "--data-dir", data_dir, "--patients", "2", "--seed", "4", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["inputs"] > 100 and report["stopped_by"] == "end of source"
    assert report["scores"] > 0 and sum(report["released_research"].values()) > 0
    for kind, account in report["accounting"].items():
        assert account["balanced"] and account["ingested"] > 0, kind
    assert (tmp_path / "data" / "run-report.json").is_file()
    again = json.loads(
        clinflow("run", "--data-dir", data_dir, "--patients", "2", "--seed", "4", "--json").stdout
    )
    assert again["hops"]["ingest"]["duplicates"] == again["inputs"] == report["inputs"]
    assert again["scores"] == 0 and again["audit_entries_appended"] == 0
    status = clinflow("consent", "status", "--data-dir", data_dir, "--json")
    assert len(json.loads(status.stdout)) == 2
    assert clinflow("audit", "verify", "--data-dir", data_dir).returncode == 0


@pytest.mark.slow
def test_sigterm_drains_and_exits_zero(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "run", "--data-dir", data_dir, "--patients", "3",
         "--speed", "x3600", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # paced streaming (inputs from about 1.3 s to 36 s): stop once the run has taken
        # input (its live status file says so), however long starting took on this machine
        status = Path(data_dir) / "run-status.json"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            hops = json.loads(status.read_text())["hops"] if status.exists() else []
            if hops and hops[0]["received"] > 0:
                break
            time.sleep(0.1)
        time.sleep(1)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["stopped_by"] == "SIGTERM" and report["inputs"] > 0
    hops = report["hops"]
    # drained: everything taken in went all the way through (nothing left in a queue)
    assert hops["ingest"]["received"] == report["inputs"]
    assert hops["research-select"]["received"] == hops["consent-events"]["emitted"]
    for kind, account in report["accounting"].items():
        assert account["balanced"], kind
    verify = clinflow("audit", "verify", "--data-dir", data_dir)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_sigterm_while_starting_still_exits_zero_with_a_report(tmp_path: Path) -> None:
    """A stop that arrives before the event loop runs (stores opening, source building) is
    remembered, not fatal: the run takes nothing more, writes its report and exits 0."""
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "run", "--data-dir", str(data_dir), "--patients", "3",
         "--speed", "x3600", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (data_dir / "keys").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the deployment is being opened: the loop is not running yet
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["stopped_by"] == "SIGTERM"


def test_folder_source_once(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    made = clinflow("generate", "--patients", "2", "--seed", "9", "--out", str(cohort),
                    "--data-dir", str(tmp_path / "gen"), "--quiet")  # fmt: skip
    assert made.returncode == 0, made.stderr
    (cohort / "fhir" / "bundles" / "bad.json").write_bytes(b"{not json")
    (cohort / "loop.json").symlink_to(cohort / "loop.json")  # issue 13 #9: named, not silent
    done = clinflow("run", "--data-dir", str(tmp_path / "data"), "--source",
                    f"folder:{cohort}", "--once", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["source_skipped"] == ["loop.json: symbolic link loop (not followed)"]
    assert "input folder: loop.json: symbolic link loop" in done.stderr
    assert report["hops"]["ingest"]["rejected"] >= 1  # the bad file, quarantined
    assert report["accounting"]["fhir"]["quarantined"] >= 1
    assert all(account["balanced"] for account in report["accounting"].values())
    again = clinflow("run", "--data-dir", str(tmp_path / "data"), "--source",
                     f"folder:{cohort}", "--once", "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["inputs"] == 0  # the watcher remembers what it yielded
    seen = list((tmp_path / "data" / "sources").glob("folder-*.seen"))
    assert len(seen) == 1 and str(tmp_path) not in seen[0].name


def test_bad_options_are_one_line_usage_errors(tmp_path: Path) -> None:
    for args in (["--speed", "fast"], ["--duration", "soon"], ["--source", "nowhere:x"],
                 ["--runtime", "spark"], ["--runtime", "kafka"]):  # fmt: skip
        done = clinflow("run", "--data-dir", str(tmp_path / "d"), *args)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
