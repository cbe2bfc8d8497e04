"""Reading a deployment's runtime ledger and checking a run's accounting from tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def ingested(data_dir: Path) -> int:
    """Distinct inputs the ingest hop completed (the runtime ledger), 0 before it exists."""
    db = data_dir / "ledger.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT COUNT(*) FROM processed WHERE hop = 'ingest'").fetchone()
            return int(row[0])
    except sqlite3.OperationalError:
        return 0


def assert_accounted_and_verified(reports: list[dict[str, object]], data_dir: Path) -> None:
    """Every input of each run report is accounted for (released, denied or quarantined) and
    ``clinflow audit verify`` passes on the data folder."""
    import subprocess
    import sys

    for report in reports:
        accounting = report["accounting"]
        assert isinstance(accounting, dict)
        for kind, account in accounting.items():
            assert account["balanced"], kind
    verify = subprocess.run(
        [sys.executable, "-m", "clinflow", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
