"""Where one embedded pipeline run keeps its state inside a deployment's data directory.

A run gets a fresh folder ``<data-dir>/demo/<run-id>/`` for the stores it fills (consent
registry, lineage index, data keys, research store, quarantine), so a re-run never meets the
previous run's consents, revocations or releases. The deployment's keys (``<data-dir>/keys``)
and its audit log (``<data-dir>/audit.db``) are shared, never recreated or deleted: pseudonyms
stay stable across runs and the audit log keeps growing as one verifiable chain.
See docs/adr/0060-demo-run-folders.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clinflow.config import DataDir

RUNS_FOLDER = "demo"


@dataclass(frozen=True, slots=True)
class RunDir(DataDir):
    """A ``DataDir`` whose stores live in the run folder; keys and audit log stay shared."""

    deployment: Path = Path()

    @property
    def keys(self) -> Path:
        return self.deployment / "keys"

    @property
    def audit_db(self) -> Path:
        return self.deployment / "audit.db"

    @classmethod
    def create(cls, deployment: DataDir, now: datetime | None = None) -> RunDir:
        """A new, empty run folder named after the UTC time (suffixed if taken)."""
        stamp = (now or datetime.now(UTC)).strftime("run-%Y%m%dT%H%M%SZ")
        runs = deployment.root / RUNS_FOLDER
        runs.mkdir(parents=True, exist_ok=True)
        for attempt in range(1000):
            candidate = runs / (stamp if attempt == 0 else f"{stamp}-{attempt}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            return cls(candidate, deployment.root)
        raise FileExistsError(f"{runs}: no free run folder name for {stamp}")
