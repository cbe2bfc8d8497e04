"""The shared test helpers keep their promises (tests/helpers/)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from helpers.postgres import DSN_ENV, require_postgres
from helpers.postgres import postgres_dsn as configured_dsn

NOBODY_LISTENS = "postgresql://postgres:s3cret@127.0.0.1:1/test"
FAILED, SKIPPED = pytest.fail.Exception, pytest.skip.Exception


def outcome() -> tuple[type[BaseException], str]:
    """How require_postgres() ends: Failed or Skipped (caught, so neither ends this test)."""
    try:
        require_postgres()
    except (FAILED, SKIPPED) as exc:
        return type(exc), str(exc)
    raise AssertionError("require_postgres() returned")


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_unreachable_postgres_fails_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv(DSN_ENV, NOBODY_LISTENS)
    kind, message = outcome()
    assert kind is FAILED
    assert message.startswith(
        f"PostgreSQL unreachable at {DSN_ENV}=postgresql://postgres:***@127.0.0.1:1/test: "
        "OperationalError: "
    )
    assert message.endswith("(CI=true: PostgreSQL tests must run, not skip)")
    assert "s3cret" not in message


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_unreachable_postgres_skips_elsewhere_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setenv(DSN_ENV, NOBODY_LISTENS)
    kind, message = outcome()
    assert kind is SKIPPED
    assert message.startswith(f"PostgreSQL unreachable at {DSN_ENV}=postgresql://postgres:***@")
    assert "s3cret" not in message


def test_missing_driver_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    kind, message = outcome()
    assert kind is FAILED and message.startswith("psycopg not installed")


def test_dsn_defaults_to_the_machines_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DSN_ENV, raising=False)
    assert configured_dsn() == "postgresql://postgres@127.0.0.1:5432/test"
    monkeypatch.setenv(DSN_ENV, NOBODY_LISTENS)
    assert configured_dsn() == NOBODY_LISTENS


@pytest.mark.postgres
def test_reachable_postgres_gives_its_dsn(postgres_dsn: str) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn, connect_timeout=3) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


TESTS = Path(__file__).parent


def _imported_modules(path: Path) -> list[str]:
    """Every module a test file imports, relative ones written with their leading dots."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.append(base)
            if node.module is None:  # from . import x: x is a module
                names += [base + alias.name for alias in node.names]
    return names


def test_tests_import_helpers_not_conftest_test_modules_or_the_repo_root() -> None:
    """tests/README.md: shared code lives in helpers.py, imported relatively or as helpers.*."""
    wrong = []
    for path in sorted(TESTS.rglob("*.py")):
        for name in _imported_modules(path):
            last = name.rsplit(".", 1)[-1]
            if name.split(".")[0] == "tests" or last == "conftest" or last.startswith("test_"):
                wrong.append(f"{path.relative_to(TESTS)}: {name}")
    assert wrong == []
