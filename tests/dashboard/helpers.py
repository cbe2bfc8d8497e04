"""Shared by the dashboard tests: Debian's chromium, the demo deployment's shape, and a wait
that polls from Python (Playwright's ``wait_for_function`` evaluates its predicate with
``eval`` inside the page, which the dashboard's CSP rightly refuses)."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clinflow.crypto.keys import ENV_VARS

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def clean_env() -> dict[str, str]:
    """The test process's environment without key variables (keys come from the data dir)."""
    return {k: v for k, v in os.environ.items() if k not in ENV_VARS.values()}


def chromium() -> str:
    """Debian's chromium (``make browser``); skip without it, fail under CI=true."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "Debian's chromium is not installed (make browser installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true: browser tests must run", pytrace=False)
        pytest.skip(reason)
    return found


@dataclass(frozen=True)
class Demo:
    root: Path
    tokens: dict[str, str]  # role -> token
    patients: list[str]  # pseudonyms with NEWS2 scores
    phi: list[str]  # every planted identifier of the cohort but dates (ground truth)


def wait_until(page: Any, expression: str, arg: Any = None, timeout_s: float = 30) -> Any:
    """Poll ``page.evaluate(expression, arg)`` (DevTools evaluation, outside the page's CSP)
    until it is truthy; fail naming the expression after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"page never satisfied {expression!r} in {timeout_s:g} s")
        time.sleep(0.1)
