"""API settings: where the log lives and what the API may return (no secrets in here)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.config import DataDir
from clinflow.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: DataDir
    dsn: str | None = None
    origin: str = DEFAULT_ORIGIN
    table_prefix: str = "audit"
    max_page: int = 500
    audit_queries: bool = True  # every API query is itself audited (never off in production)
    batch_wait: float = 0.0  # API appends: do not wait for company, fsync at once

    @classmethod
    def from_env(cls, data_dir: DataDir | None = None, dsn: str | None = None) -> Settings:
        """Read ``CLINFLOW_AUDIT_DSN``, ``CLINFLOW_AUDIT_ORIGIN``, ``CLINFLOW_API_MAX_PAGE``."""
        raw_page = os.environ.get("CLINFLOW_API_MAX_PAGE", "500")
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= 10_000:
            raise ConfigError("CLINFLOW_API_MAX_PAGE must be an integer in 1..10000")
        return cls(
            data_dir=data_dir or DataDir.open(),
            dsn=dsn or os.environ.get("CLINFLOW_AUDIT_DSN") or None,
            origin=os.environ.get("CLINFLOW_AUDIT_ORIGIN", DEFAULT_ORIGIN),
            max_page=int(raw_page),
        )
