#!/usr/bin/env python3
"""Create one virtual environment per peer DICOM de-identifier under ``.bench/<peer>``.

Installed together the peers conflict (different pydicom pins), so each gets its own venv,
made with the running Python and filled from PyPI with pip. Idempotent: an existing venv whose
marker file names the same requirement is reused. Also keeps the ``idiscore`` wheel that
``scripts/gen_ps315_profile.py`` reads in ``.bench/wheels``.

    python benchmarks/dicom_deid_peers.py [--peer dicognito --peer deid ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
PEERS: dict[str, list[str]] = {
    "dicognito": ["dicognito==0.19.0"],
    "deid": ["deid==0.4.13"],
    "idiscore": ["idiscore==1.2.0"],
}


def python_of(peer: str) -> Path:
    return BENCH / peer / "bin" / "python"


def ensure_peer(peer: str, quiet: bool = True) -> Path:
    """The peer's python, creating and filling its venv when missing or outdated."""
    requirements = PEERS[peer]
    marker = BENCH / peer / ".installed"
    wanted = "\n".join(requirements)
    if marker.exists() and marker.read_text() == wanted and python_of(peer).exists():
        return python_of(peer)
    venv.EnvBuilder(with_pip=True, clear=True).create(BENCH / peer)
    cmd = [str(python_of(peer)), "-m", "pip", "install", *requirements]
    subprocess.run(cmd + (["--quiet"] if quiet else []), check=True)
    marker.write_text(wanted)
    return python_of(peer)


def ensure_idiscore_wheel() -> Path:
    wheels = BENCH / "wheels"
    found = sorted(wheels.glob("idiscore-1.2.0-*.whl"))
    if found:
        return found[0]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels),
         "idiscore==1.2.0"],
        check=True,
    )
    return sorted(wheels.glob("idiscore-1.2.0-*.whl"))[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", action="append", choices=sorted(PEERS))
    args = parser.parse_args(argv)
    for peer in args.peer or sorted(PEERS):
        print(f"{peer}: {ensure_peer(peer, quiet=False)}")
    print(f"idiscore wheel: {ensure_idiscore_wheel()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
