"""``clinflow audit token create|list|revoke``: printed once, stored hashed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from clinflow.api.auth import Role, TokenStore, api_tokens_path, hash_token
from clinflow.cli import app
from clinflow.config import DataDir
from clinflow.errors import ConfigError


def test_token_is_printed_once_and_only_its_hash_is_stored(data_dir: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["audit", "token", "create", "--role", "patient", "--patient", "PT-00000000000000a1",
         "--data-dir", str(data_dir)],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("cfa_") and len(token) > 40
    path = api_tokens_path(DataDir.open(data_dir))
    raw = path.read_bytes()
    assert token.encode() not in raw
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute("SELECT token_hash FROM api_tokens").fetchone()
    assert stored == hash_token(token)
    store = TokenStore(path)
    principal = store.authenticate(token)
    store.close()
    assert principal is not None and principal.role is Role.PATIENT
    assert principal.patient == "PT-00000000000000a1"
    listed = runner.invoke(app, ["audit", "token", "list", "--data-dir", str(data_dir)])
    assert principal.token_id in listed.stdout and token not in listed.stdout
    revoked = runner.invoke(
        app, ["audit", "token", "revoke", principal.token_id, "--data-dir", str(data_dir)]
    )
    assert revoked.exit_code == 0
    store = TokenStore(path)
    assert store.authenticate(token) is None
    store.close()


def test_token_create_refuses_bad_roles_and_scopes(data_dir: Path) -> None:
    runner = CliRunner()
    for args in (
        ["--role", "admin"],
        ["--role", "patient"],
        ["--role", "patient", "--patient", "Jane Doe"],
        ["--role", "auditor", "--patient", "PT-00000000000000a1"],
    ):
        result = runner.invoke(
            app, ["audit", "token", "create", *args, "--data-dir", str(data_dir)]
        )
        assert isinstance(result.exception, ConfigError), args
