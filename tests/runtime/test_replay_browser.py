"""``report.html`` opened in headless Chromium (Debian's package) with the network cut off:
its plots render from the page alone; the screenshot is kept as a test artifact
(``CLINFLOW_TEST_ARTIFACTS`` when set, else the test's temporary folder)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from clinflow.runtime.replay_html import FAULT_COLOUR, replay_html
from clinflow.runtime.replay_report import FaultMark, Timeline

from .helpers import sample_replay_report

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # the network is cut off: a page that needed anything from outside would show it
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
)  # fmt: skip


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "Debian's chromium is not installed (make venv installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true: browser tests must run", pytrace=False)
        pytest.skip(reason)
    return found


def _page(tmp_path: Path) -> Path:
    """A report with 30 s of figures and two faults on its timeline."""
    buckets = 30
    wave = [math.sin(i / 4) for i in range(buckets)]
    report = sample_replay_report().model_copy(update={"timeline": Timeline(
        bucket_s=1.0,
        offered=[500] * buckets,
        fed=[int(480 + 20 * w) for w in wave],
        completed={"score-sink": [int(450 + 40 * w) for w in wave]},
        p50_ms={"score-sink": [20 + 5 * w for w in wave]},
        p99_ms={"score-sink": [90 + 60 * w if i != 12 else None for i, w in enumerate(wave)]},
        queue_depth=[int(100 + 80 * w) for w in wave],
        faults=[FaultMark(kind="duplicate", at_s=3.0, until_s=25.0, count=40),
                FaultMark(kind="revoke-storm", at_s=15.0, count=12, detail="12 of 40")],
    )})  # fmt: skip
    page = tmp_path / "report.html"
    page.write_text(replay_html(report), encoding="utf-8")
    return page


@pytest.mark.slow  # starts a browser: seconds on a shared machine
def test_the_report_renders_its_plots_in_chromium_without_network(tmp_path: Path) -> None:
    chromium = _chromium()
    page = _page(tmp_path)
    profile = tmp_path / "profile"
    profile.mkdir()
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout  # fmt: skip
    assert dom.count("<svg") == 3 and dom.count("<polyline") >= 5
    shot = tmp_path / "report.png"
    subprocess.run([*common, "--window-size=1000,1800", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    artifacts = os.environ.get("CLINFLOW_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(artifacts) / "replay-report.png")
    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 1800)
    colours = image.getcolors(maxcolors=1 << 20) or []
    red = tuple(int(FAULT_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    drawn = {colour for _, colour in colours}
    assert len(drawn) > 20  # lines, text and tables, not a blank page
    near_red = sum(
        n for n, colour in colours if sum(abs(a - b) for a, b in zip(colour, red, strict=True)) < 60
    )
    assert near_red > 100, "the fault markers are drawn"
