"""Reading a deployment's runtime ledger from tests while ``clinflow run`` has it open."""

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
