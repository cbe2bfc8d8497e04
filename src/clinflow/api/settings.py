"""API settings: where the log lives and what the API may return (no secrets in here)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.config import DataDir
from clinflow.errors import ConfigError

MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass(frozen=True, slots=True)
class Limits:
    """What an unauthenticated or oversized request may cost (both HTTP apps, ADR 0081).

    ``max_body_bytes``: request bodies above it get 413 before they are parsed (routes that
    need more declare it in ``clinflow.api.access``). Failed authentications are rate-limited
    per client address (token bucket: ``refused_per_second`` refill, ``refused_burst``
    capacity; then 429) and audited as one AuditEvent per client per ``refusal_window_s``.
    """

    max_body_bytes: int = MIB
    max_streamed_bytes: int = 2 * GIB  # routes that stream their body (DICOMweb STOW-RS)
    refused_per_second: float = 5.0
    refused_burst: int = 20
    refusal_window_s: float = 60.0

    @classmethod
    def from_env(cls) -> Limits:
        """``CLINFLOW_HTTP_MAX_BODY`` (bytes) overrides the default body limit,
        ``CLINFLOW_HTTP_MAX_STREAMED_BODY`` that of streamed bodies (STOW-RS studies)."""
        raw = os.environ.get("CLINFLOW_HTTP_MAX_BODY", str(MIB))
        if not raw.isdigit() or not 1024 <= int(raw) <= 256 * MIB:
            raise ConfigError("CLINFLOW_HTTP_MAX_BODY must be an integer in 1024..268435456")
        streamed = os.environ.get("CLINFLOW_HTTP_MAX_STREAMED_BODY", str(2 * GIB))
        if not streamed.isdigit() or not MIB <= int(streamed) <= 1024 * GIB:
            raise ConfigError(
                f"CLINFLOW_HTTP_MAX_STREAMED_BODY must be an integer in {MIB}..{1024 * GIB}"
            )
        return cls(max_body_bytes=int(raw), max_streamed_bytes=int(streamed))


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: DataDir
    dsn: str | None = None
    origin: str = DEFAULT_ORIGIN
    table_prefix: str = "audit"
    max_page: int = 500
    audit_queries: bool = True  # every API query is itself audited (never off in production)
    batch_wait: float = 0.0  # API appends: do not wait for company, fsync at once
    limits: Limits = Limits()

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
            limits=Limits.from_env(),
        )
