"""``clinflow audit ...``: verify the log, print checkpoints and the verifier key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clinflow.audit.checkpoint import NoteSigner
from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.audit.store import open_existing_store
from clinflow.audit.verify import trusted_verifiers, verify_log
from clinflow.cli_options import AuditDsnOption, DataDirOption
from clinflow.config import DataDir, resolve_data_dir
from clinflow.crypto.keys import KeyRing

console = Console()
err_console = Console(stderr=True)

# The API-token commands (``audit token ...``) live beside the API's auth in
# clinflow.api.token_commands; the registry attaches them to this app.
audit_app = typer.Typer(help="Verify the tamper-evident audit log; checkpoints, keys, API tokens.")

OriginOption = Annotated[str, typer.Option("--origin", help="Log origin = checkpoint key name.")]
PrefixOption = Annotated[str, typer.Option("--table-prefix", help="PostgreSQL table prefix.")]


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
    dsn: AuditDsnOption = None,
    origin: OriginOption = DEFAULT_ORIGIN,
    table_prefix: PrefixOption = "audit",
) -> None:
    """Recompute the Merkle tree from every entry and check every signed checkpoint.

    Exits 0 only when everything verifies; otherwise 1, naming each failing entry or
    checkpoint.
    """
    deployment = DataDir(resolve_data_dir(data_dir))  # read-only: create nothing
    store = open_existing_store(deployment, dsn, table_prefix)
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
    dsn: AuditDsnOption = None,
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
    store = open_existing_store(deployment, dsn, table_prefix)
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
