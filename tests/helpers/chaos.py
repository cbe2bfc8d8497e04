"""Chaos-test plumbing (issue 13): ``clinflow`` as a real process, killed with SIGKILL.

``CLINFLOW_CHAOS_RUNS`` sets how many faults a chaos test injects (default ``RUNS``);
``benchmarks/reliability.py --chaos-runs N`` sets it. Figures go through
``helpers.fuzz.tally`` (``chaos:<fault kind>`` per fault injected, ``chaos:acknowledged-lost``
and ``chaos:duplicates`` summed over the runs) so the reliability table reads what was
measured.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from clinflow.crypto.keys import ENV_VARS

RUNS = 2  # the reliability run asks for more (CLINFLOW_CHAOS_RUNS)
RUNS_ENV = "CLINFLOW_CHAOS_RUNS"


def runs(default: int = RUNS) -> int:
    value = os.environ.get(RUNS_ENV)
    return int(value) if value else default


def _env() -> dict[str, str]:
    """The environment of a clinflow child: no key or data-dir overrides from this shell."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS.values()}
    env.pop("CLINFLOW_DATA_DIR", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "clinflow", *(str(a) for a in args)]


def run_clinflow(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``clinflow ARGS`` to completion: exit code, stdout, stderr."""
    return subprocess.run(
        command(*args), capture_output=True, text=True, timeout=timeout, env=_env(), check=False
    )


def spawn_clinflow(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )


def kill_after(child: subprocess.Popen[str], delay_s: float) -> tuple[bool, str, str]:
    """SIGKILL ``child`` ``delay_s`` after now unless it ended first: (killed, stdout, stderr)."""
    deadline = time.monotonic() + delay_s
    while time.monotonic() < deadline and child.poll() is None:
        time.sleep(min(0.001, max(0.0, deadline - time.monotonic())))
    killed = child.poll() is None
    if killed:
        os.kill(child.pid, signal.SIGKILL)
    out, err = child.communicate(timeout=60)
    if killed:
        assert child.returncode == -signal.SIGKILL
    return killed, out, err


def wait_for_change(path: Path, child: subprocess.Popen[str], timeout_s: float = 120) -> bool:
    """Poll ``path``'s bytes until they change while ``child`` runs: True when they did
    (e.g. ``consent.db-signal``, bumped after every registry commit), False if it ended."""
    before = path.read_bytes() if path.exists() else b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        if (path.read_bytes() if path.exists() else b"") != before:
            return True
        time.sleep(0.002)
    return False
