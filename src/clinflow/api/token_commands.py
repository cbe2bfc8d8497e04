"""``clinflow audit token create|list|revoke``: the audit API's bearer tokens (stored hashed).

Kept beside the API's auth (``clinflow.api.auth``); the commands registry attaches
``token_app`` to ``clinflow audit`` as ``token``. Creating and revoking a token is itself an
AuditEvent (code ``api-token``: the token id, role and scope, and the operating-system user
who ran the command; never the token).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from clinflow.api.auth import TOKEN_ROLES, TokenStore, api_tokens_path
from clinflow.audit.events import Action, api_token_change
from clinflow.cli_options import DataDirOption
from clinflow.config import DataDir

err_console = Console(stderr=True)

token_app = typer.Typer(help="Create, list and revoke audit-API bearer tokens (stored hashed).")


def _operator() -> str:
    """Who ran the command, as an AuditEvent agent (the OS account, not a person's name)."""
    try:
        return f"cli:{os.getlogin()}"
    except OSError:
        return f"cli:uid-{os.getuid()}"


def _audit(root: DataDir, token_id: str, role: str, patient: str | None, action: Action) -> None:
    """Append the token's lifecycle event to the deployment's log (SQLite, or the DSN of the
    environment)."""
    from clinflow.api.settings import Settings
    from clinflow.audit.log import AuditLog

    event = api_token_change(
        agent=_operator(), token_id=token_id, token_role=role, scope=patient, action=action
    )
    settings = Settings.from_env(data_dir=root)
    with AuditLog.open(root, dsn=settings.dsn, origin=settings.origin, batch_wait=0) as log:
        log.append(event)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help=", ".join(r.value for r in TOKEN_ROLES))],
    patient: Annotated[
        str | None, typer.Option("--patient", help="Patient pseudonym (role patient only).")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="Who the token is for.")] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Create a bearer token and print it ONCE (only its SHA-256 is stored)."""
    root = DataDir.open(data_dir)
    store = TokenStore(api_tokens_path(root))
    try:
        token_id, token = store.create(role, patient, label)
        try:
            _audit(root, token_id, role, patient, Action.CREATE)
        except BaseException:
            store.revoke(token_id)  # an unaudited token must not stay usable
            raise
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
    root = DataDir.open(data_dir)
    store = TokenStore(api_tokens_path(root))
    try:
        described = store.describe(token_id)
        if described is None or not store.revoke(token_id):
            err_console.print(f"no token with id {token_id}")
            raise typer.Exit(1)
    finally:
        store.close()
    role, patient = described
    _audit(root, token_id, role, patient, Action.DELETE)
    typer.echo(f"token {token_id} revoked")
