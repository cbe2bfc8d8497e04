"""``clinflow audit ...``: verify the log, print checkpoints and the verifier key, API tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clinflow.audit import store as audit_store
from clinflow.audit.checkpoint import NoteSigner, NoteVerifier
from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.audit.store import AuditStore
from clinflow.cli_options import DataDirOption
from clinflow.config import DataDir, resolve_data_dir
from clinflow.crypto.keys import KeyRing
from clinflow.errors import ConfigError

console = Console()
err_console = Console(stderr=True)

audit_app = typer.Typer(help="Verify the tamper-evident audit log; checkpoints, keys, API tokens.")
token_app = typer.Typer(help="Create, list and revoke audit-API bearer tokens (stored hashed).")
audit_app.add_typer(token_app, name="token")

TRUSTED_VKEYS_FILE = "audit-trusted.vkeys"

DsnOption = Annotated[
    str | None,
    typer.Option("--dsn", envvar="CLINFLOW_AUDIT_DSN", help="PostgreSQL DSN (default: SQLite)."),
]
OriginOption = Annotated[str, typer.Option("--origin", help="Log origin = checkpoint key name.")]
PrefixOption = Annotated[str, typer.Option("--table-prefix", help="PostgreSQL table prefix.")]


def open_store(data_dir: DataDir, dsn: str | None, prefix: str = "audit") -> AuditStore:
    """Open an existing store read-mostly (never creates an SQLite log that is not there)."""
    if not dsn and not data_dir.audit_db.exists():
        raise ConfigError(f"no audit log at {data_dir.audit_db}")
    return audit_store.open_store(data_dir, dsn, prefix)


def trusted_verifiers(data_dir: DataDir, origin: str, vkeys: list[str]) -> list[NoteVerifier]:
    """Verifier keys: those given, else the deployment's key plus any rotated-out keys listed
    one per line in ``<data-dir>/keys/audit-trusted.vkeys``."""
    if vkeys:
        return [NoteVerifier(v) for v in vkeys]
    key = KeyRing(data_dir.keys, create_missing=False).audit_signing_key()
    verifiers = [NoteVerifier(NoteSigner(origin, key).vkey())]
    extra = data_dir.keys / TRUSTED_VKEYS_FILE
    if extra.exists():
        for line in extra.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                verifiers.append(NoteVerifier(line))
    return verifiers


@audit_app.command("verify")
def verify_command(
    data_dir: DataDirOption = None,
    from_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--from-checkpoint",
            help="A signed checkpoint you trusted earlier: the log must be consistent with it.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    vkey: Annotated[
        list[str] | None,
        typer.Option("--vkey", help="Trusted verifier key(s) (default: the deployment's own)."),
    ] = None,
    save_checkpoint: Annotated[
        Path | None,
        typer.Option("--save-checkpoint", help="On success, write the latest checkpoint here."),
    ] = None,
    dsn: DsnOption = None,
    origin: OriginOption = DEFAULT_ORIGIN,
    table_prefix: PrefixOption = "audit",
) -> None:
    """Recompute the Merkle tree from every entry and check every signed checkpoint.

    Exits 0 only when everything verifies; otherwise 1, naming each failing entry or
    checkpoint.
    """
    from clinflow.audit.verify import verify_log

    deployment = DataDir(resolve_data_dir(data_dir))  # read-only: create nothing
    store = open_store(deployment, dsn, table_prefix)
    try:
        verifiers = trusted_verifiers(deployment, origin, vkey or [])
        trusted = from_checkpoint.read_text(encoding="utf-8") if from_checkpoint else None
        report = verify_log(store, verifiers, origin=origin, trusted=trusted)
        latest = store.latest_checkpoint()
    finally:
        store.close()
    if not report.ok:
        for failure in report.failures:
            typer.echo(f"FAIL {failure}", err=True)
        if report.truncated_failures:
            err_console.print(f"... and {report.truncated_failures} more failures")
        typer.echo(
            f"audit log NOT verified: {len(report.failures)} failure(s) in "
            f"{report.entries} entries, {report.checkpoints} checkpoints",
            err=True,
        )
        raise typer.Exit(1)
    unsigned = report.entries - report.checkpointed_size
    typer.echo(
        f"OK: {report.entries} entries, {report.checkpoints} checkpoints verified; "
        f"root {report.root.hex()}"
        + (f"; {unsigned} newest entries not yet in a checkpoint" if unsigned else "")
    )
    if save_checkpoint is not None and latest is not None:
        save_checkpoint.write_text(latest.note, encoding="utf-8")


@audit_app.command("checkpoint")
def checkpoint_command(
    data_dir: DataDirOption = None,
    sign: Annotated[
        bool, typer.Option("--sign", help="Sign a checkpoint of the current tree.")
    ] = False,
    dsn: DsnOption = None,
    origin: OriginOption = DEFAULT_ORIGIN,
    table_prefix: PrefixOption = "audit",
) -> None:
    """Print the latest signed checkpoint (C2SP tlog-checkpoint signed note)."""
    deployment = DataDir.open(data_dir) if sign else DataDir(resolve_data_dir(data_dir))
    if sign:
        from clinflow.audit.log import AuditLog

        with AuditLog.open(deployment, dsn=dsn, origin=origin, table_prefix=table_prefix) as log:
            typer.echo(log.sign_checkpoint(), nl=False)
        return
    store = open_store(deployment, dsn, table_prefix)
    try:
        latest = store.latest_checkpoint()
    finally:
        store.close()
    if latest is None:
        err_console.print("no checkpoint signed yet")
        raise typer.Exit(1)
    typer.echo(latest.note, nl=False)


@audit_app.command("pubkey")
def pubkey_command(data_dir: DataDirOption = None, origin: OriginOption = DEFAULT_ORIGIN) -> None:
    """Print the checkpoint verifier key (C2SP vkey: <name>+<hex key id>+<base64 key>)."""
    deployment = DataDir.open(data_dir)
    key = KeyRing(deployment.keys).audit_signing_key()
    typer.echo(NoteSigner(origin, key).vkey())


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
    from clinflow.api.auth import TokenStore, api_tokens_path

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
    from clinflow.api.auth import TokenStore, api_tokens_path

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
    from clinflow.api.auth import TokenStore, api_tokens_path

    store = TokenStore(api_tokens_path(DataDir.open(data_dir)))
    try:
        if not store.revoke(token_id):
            err_console.print(f"no token with id {token_id}")
            raise typer.Exit(1)
    finally:
        store.close()
    typer.echo(f"token {token_id} revoked")
