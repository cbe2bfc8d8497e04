"""Deployment settings shared by every command: the data directory and where state lives.

One data directory per deployment (``--data-dir``, else ``CLINFLOW_DATA_DIR``, else
``./clinflow-data``). The embedded audit log is ``<data-dir>/audit.db``; other stores sit
beside it; keys live in ``<data-dir>/keys/`` unless given in the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "clinflow-data"
DATA_DIR_ENV = "CLINFLOW_DATA_DIR"
POLICIES_DIR_ENV = "CLINFLOW_POLICIES_DIR"


def policies_dir() -> Path:
    """The policy set: ``$CLINFLOW_POLICIES_DIR``, else the project's ``policies/`` folder."""
    override = os.environ.get(POLICIES_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[2] / "policies"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: explicit argument, then ``CLINFLOW_DATA_DIR``, then the default."""
    raw = explicit if explicit is not None else os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR)
    return Path(raw).expanduser()


@dataclass(frozen=True, slots=True)
class DataDir:
    """Paths of the stores inside one deployment's data directory."""

    root: Path

    @classmethod
    def open(cls, explicit: str | os.PathLike[str] | None = None) -> DataDir:
        root = resolve_data_dir(explicit)
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def audit_db(self) -> Path:
        return self.root / "audit.db"

    @property
    def quarantine_db(self) -> Path:
        return self.root / "quarantine.db"

    @property
    def consent_db(self) -> Path:
        return self.root / "consent.db"

    @property
    def datakeys_db(self) -> Path:
        return self.root / "datakeys.db"

    @property
    def lineage_db(self) -> Path:
        return self.root / "lineage.db"

    @property
    def research_store(self) -> Path:
        return self.root / "research"
