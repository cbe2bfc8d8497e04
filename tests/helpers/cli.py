"""Run ``clinflow.cli.main`` in-process (subprocesses pay seconds of import time each)."""

from __future__ import annotations

import sys

import pytest


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``clinflow ARGS`` through the real entry point."""
    from clinflow.cli import main

    saved = sys.argv
    sys.argv = ["clinflow", *args]
    capsys.readouterr()
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    return code, captured.out, captured.err
