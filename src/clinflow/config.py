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


class _InDataDir:
    """A store's path inside the data directory, named once: ``audit_db = _InDataDir("audit.db")``
    reads as ``data_dir.root / "audit.db"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, data_dir: DataDir, owner: type[DataDir] | None = None) -> Path:
        return data_dir.root / self.name


@dataclass(frozen=True, slots=True)
class DataDir:
    """Paths of the stores inside one deployment's data directory."""

    root: Path

    keys = _InDataDir("keys")
    audit_db = _InDataDir("audit.db")
    quarantine_db = _InDataDir("quarantine.db")
    consent_db = _InDataDir("consent.db")
    datakeys_db = _InDataDir("datakeys.db")
    lineage_db = _InDataDir("lineage.db")
    ledger_db = _InDataDir("ledger.db")
    scoring_db = _InDataDir("scoring.db")
    # where running services register how to reach them (``serve`` writes, CLI reads)
    services = _InDataDir("services")
    research_store = _InDataDir("research")

    @classmethod
    def open(cls, explicit: str | os.PathLike[str] | None = None) -> DataDir:
        root = resolve_data_dir(explicit)
        secure_dir(root)  # 0700: the stores inside hold PHI and keys (ADR 0086)
        return cls(root)
