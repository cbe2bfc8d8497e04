"""``clinflow lab start N``: set up each lab's data directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def start_lab(number: int, data_dir: Path, say: Callable[[str], None]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
