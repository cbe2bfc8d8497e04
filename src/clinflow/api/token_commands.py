"""``clinflow audit token create|list|revoke``: the audit API's bearer tokens (stored hashed).

Kept beside the API's auth (``clinflow.api.auth``); the commands registry attaches
``token_app`` to ``clinflow audit`` as ``token``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from clinflow.api.auth import TokenStore, api_tokens_path
from clinflow.cli_options import DataDirOption
from clinflow.config import DataDir

err_console = Console(stderr=True)

token_app = typer.Typer(help="Create, list and revoke audit-API bearer tokens (stored hashed).")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help="auditor, privacy_officer, service, patient")],
    patient: Annotated[
        str | None, typer.Option("--patient", help="Patient pseudonym (role patient only).")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="Who the token is for.")] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Create a bearer token and print it ONCE (only its SHA-256 is stored)."""
    store = TokenStore(api_tokens_path(DataDir.open(data_dir)))
    try:
        token_id, token = store.create(role, patient, label)
    finally:
        store.close()
    err_console.print(f"token {token_id} created (role {role}); it is shown only once:")
    typer.echo(token)


@token_app.command("list")
def token_list(data_dir: DataDirOption = None) -> None:
    """List tokens (ids, roles, scope; never the tokens)."""
    store = TokenStore(api_tokens_path(DataDir.open(data_dir)))
    try:
        for token_id, role, patient, label, created, revoked in store.list():
            state = "revoked" if revoked else "active"
            typer.echo(f"{token_id}\t{role}\t{patient or '-'}\t{label or '-'}\t{created}\t{state}")
    finally:
        store.close()


@token_app.command("revoke")
def token_revoke(token_id: str, data_dir: DataDirOption = None) -> None:
    """Revoke a token by its id."""
    store = TokenStore(api_tokens_path(DataDir.open(data_dir)))
    try:
        if not store.revoke(token_id):
            err_console.print(f"no token with id {token_id}")
            raise typer.Exit(1)
    finally:
        store.close()
    typer.echo(f"token {token_id} revoked")
