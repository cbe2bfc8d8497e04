"""PostgreSQL for the tests that need it: one place that finds the server or says why not.

DESIGN: the DSN comes from ``CLINFLOW_PG_DSN`` (default: the machines' server at
127.0.0.1:5432, trust auth, database ``test``). When PostgreSQL cannot be used, a test fails
under ``CI=true`` (CI must not go green without running it) and is skipped elsewhere, with
the reason either way.
"""

from __future__ import annotations

import os
import re
from typing import NoReturn

import pytest

DSN_ENV = "CLINFLOW_PG_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_dsn() -> str:
    return os.environ.get(DSN_ENV, DEFAULT_DSN)


def _shown(dsn: str) -> str:
    """The DSN without its password, for messages."""
    return re.sub(r"(://[^:@/]*:)[^@/]*@", r"\1***@", dsn)


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Fail under CI=true, skip elsewhere."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def require_postgres() -> str:
    """The DSN of a PostgreSQL server that accepts a connection now."""
    dsn = postgres_dsn()
    try:
        import psycopg
    except ImportError as exc:
        unavailable(f"psycopg not installed ({exc}); install the 'postgres' extra")
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        unavailable(
            f"PostgreSQL unreachable at {DSN_ENV}={_shown(dsn)}: {type(exc).__name__}: {first_line}"
        )
    return dsn
