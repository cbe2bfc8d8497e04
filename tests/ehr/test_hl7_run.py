"""``clinflow run --source mllp:PORT``: HL7 v2 over MLLP into the embedded runtime; every
valid message ingested once and audited naming its sending system, malformed ones NAKed
and quarantined, the audit log verifies."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.config import scenarios_dir
from clinflow.ehr.hl7.emit import cohort_messages
from clinflow.ehr.hl7.mllp import END, START
from clinflow.ehr.hl7.parser import parse
from clinflow.ehr.hl7.profiles import vendor_profile
from clinflow.synthetic.scenario import load_scenario
from clinflow.synthetic.stream import StreamOptions


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _feed(vendor: str) -> list[bytes]:
    scenario = load_scenario(scenarios_dir() / "demo.yaml").model_copy(
        update={"vitals_hours": 1.0, "imaging_fraction": 0.0}
    )
    options = StreamOptions(patients=2, seed=13, scenario=scenario)
    return [t.encode() for _, t in cohort_messages(options, vendor_profile(vendor))]


async def _send(port: int, frames: list[bytes]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    codes = []
    for frame in frames:
        writer.write(START + frame + END)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(END), 60)
        msa = parse(answer.strip(START + END)).first("MSA")
        assert msa is not None
        codes.append(msa.value(1))
    writer.close()
    await writer.wait_closed()
    return codes


def _run(data_dir: Path, port: int, frames: list[bytes]) -> tuple[list[str], dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "run", "--data-dir", str(data_dir), "--source",
         f"mllp:{port}", "--json", "--no-progress", "--validation", "shallow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None and time.monotonic() < deadline, "never listened"
            time.sleep(0.2)
        codes = asyncio.run(_send(port, frames))
        time.sleep(2)  # the entry hop takes them (acknowledged ones would survive a stop anyway)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    return codes, json.loads(stdout)


@pytest.mark.slow
def test_mllp_source_feeds_the_runtime_and_audits_the_sending_system(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", _free_port()
    frames = _feed("northwind-monitors")
    broken = frames[3].replace(b"|NM|", b"|XX|", 1)
    sent = [*frames, frames[2], broken]  # a resend and a malformed message
    codes, report = _run(data_dir, port, sent)
    assert codes[: len(frames)] == ["AA"] * len(frames)
    assert codes[len(frames)] == "AA" and codes[-1] == "AE"
    assert report["source"] == f"mllp:127.0.0.1:{port}"
    mllp = report["mllp"]
    assert mllp["accepted"] == len(frames) and mllp["duplicates"] == 1 and mllp["rejected"] == 1
    ingest = report["hops"]["ingest"]
    assert ingest["received"] == len(frames) and ingest["rejected"] == 0
    orus = sum(b"|ORU^R01^" in f.split(b"\r", 1)[0] for f in frames)
    assert report["scores"] == orus > 0  # each monitor's vital signs reached ICU scoring
    assert report["hops"]["deid-fhir"]["received"] == len(frames)
    from clinflow.audit import AuditLog
    from clinflow.config import DataDir
    from clinflow.quarantine import Quarantine

    with AuditLog.open(DataDir.open(data_dir)) as log:
        entries = [orjson.loads(log.get_entry(i) or b"{}") for i in range(log.size)]
    systems = [
        detail["valueString"]
        for entry in entries
        if entry.get("code", {}).get("coding", [{}])[0].get("code") == "ingest"
        for detail in entry["entity"][0].get("detail", [])
        if detail["type"]["coding"][0]["code"] == "source-system"
    ]
    assert len(systems) == len(frames) and set(systems) == {"hl7v2:NWVITALS/ICU-EAST"}
    quarantine = Quarantine(data_dir / "quarantine.db")
    items = quarantine.list()
    quarantine.close()
    assert len(items) == 1 and "OBX" in items[0].location
    verify = subprocess.run(
        [sys.executable, "-m", "clinflow", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--source", "mllp:notaport"), "--source mllp"),
        (("--source", "mllp:99999"), "0-65535"),
        (("--source", "mllp:2575", "--runtime", "kafka", "--feed", "--brokers", "x:1"), "live"),
    ],
)
def test_bad_mllp_source_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    from helpers.cli import run_cli

    code, _, stderr = run_cli(capsys, "run", "--data-dir", str(tmp_path / "d"), *args)
    assert code == 2 and message in stderr
