"""Deployment settings shared by every command: the data directory and where state lives.

One data directory per deployment (``--data-dir``, else ``CLINFLOW_DATA_DIR``, else
``./clinflow-data``). The embedded audit log is ``<data-dir>/audit.db``; other stores sit
beside it; keys live in ``<data-dir>/keys/`` unless given in the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from clinflow.errors import ConfigError
from clinflow.sqlite_store import secure_dir

DEFAULT_DATA_DIR = "clinflow-data"
DATA_DIR_ENV = "CLINFLOW_DATA_DIR"
POLICIES_DIR_ENV = "CLINFLOW_POLICIES_DIR"


def package_data(name: str) -> Path:
    """A folder shipped inside the clinflow package (``policies``, ``scenarios``).

    In a checkout these are symlinks to the top-level ``policies/`` and ``synthetic/`` folders
    (the sources of truth) and resolve to them; a wheel carries copies (docs/adr/0004).
    """
    resource = files("clinflow").joinpath(name)
    if not isinstance(resource, Path):  # e.g. imported from a zip archive
        raise ConfigError(f"clinflow's {name}/ is not on the file system (install it unzipped)")
    return resource.resolve()


def policies_dir() -> Path:
    """The policy set: ``$CLINFLOW_POLICIES_DIR``, else the ``policies/`` shipped with clinflow."""
    override = os.environ.get(POLICIES_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return package_data("policies")


def scenarios_dir() -> Path:
    """The scenario files shipped with clinflow (``synthetic/*.yaml`` in a checkout)."""
    return package_data("scenarios")


LOOPBACK = "127.0.0.1"


def parse_listen_address(text: str, scheme: str) -> tuple[str, int]:
    """A listening source's ``PORT`` or ``HOST:PORT`` (after ``SCHEME:``) -> (host, port);
    loopback when no host is given; ``ConfigError`` naming the source when malformed."""
    host, _, port_text = text.rpartition(":")
    try:
        port = int(port_text)
    except ValueError as exc:
        raise ConfigError(f"--source {scheme}: {text!r} is not PORT or HOST:PORT") from exc
    if not 0 <= port <= 65535:
        raise ConfigError(f"--source {scheme}: port {port} is not 0-65535")
    return host or LOOPBACK, port


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
        secure_dir(root)  # 0700: the stores inside hold PHI and keys (ADR 0086)
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
    def ledger_db(self) -> Path:
        return self.root / "ledger.db"

    @property
    def scoring_db(self) -> Path:
        return self.root / "scoring.db"

    @property
    def services(self) -> Path:
        """Where running services register how to reach them (``serve`` writes, CLI reads)."""
        return self.root / "services"

    @property
    def research_store(self) -> Path:
        return self.root / "research"
