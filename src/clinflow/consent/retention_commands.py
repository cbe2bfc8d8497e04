"""``clinflow retention enforce``: remove what has outlived its legal basis, with a report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from clinflow.cli_options import DataDirOption
from clinflow.consent.retention import parse_instant

retention_app = typer.Typer(help="Legal basis and retention per store (policies/retention.yaml).")


@retention_app.command("enforce")
def enforce_command(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Judge bases at this time (ISO; default now).", show_default=False
        ),
    ] = None,  # fmt: skip
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the JSON report here.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Retract (and crypto-shred) research records whose consent, data use agreement or
    retention period no longer holds, through the revocation machinery (audited, receipts);
    purge quarantined items and scoring-store Observations older than their store's
    retention (audited); then verify the audit log. Print the JSON report; exit 1 if a
    retraction failed, anything without a basis remains or the audit log does not verify."""
    from clinflow.audit.log import DEFAULT_ORIGIN
    from clinflow.audit.store import open_existing_store
    from clinflow.audit.verify import trusted_verifiers, verify_log
    from clinflow.consent.retention import enforcer_for
    from clinflow.consent.retention_stores import SCORING_STORE
    from clinflow.runtime.deployment import Deployment

    moment = parse_instant(as_of, "--as-of") if as_of else datetime.now(UTC)
    with Deployment.open(data_dir) as deployment:
        enforcer = enforcer_for(deployment.consent, deployment.data_dir, deployment.scoring_store)
        result = enforcer.enforce(moment)
        if deployment.scoring_registration() is not None:
            result.note_store(
                SCORING_STORE,
                "a scoring service is running: the rows left scoring.db; its in-memory state"
                " holds the latest of them until it restarts",
            )
        root = deployment.data_dir
    # the log signed a checkpoint as the deployment closed: verify everything, offline
    store = open_existing_store(root)
    try:
        log = verify_log(store, trusted_verifiers(root, DEFAULT_ORIGIN, []), origin=DEFAULT_ORIGIN)
    finally:
        store.close()
    result.audit_log_verified = log.ok
    text = json.dumps(result.to_json(), indent=2)
    typer.echo(text)
    if report is not None:
        report.write_text(text + "\n", encoding="utf-8")
    if not result.verified:
        typer.echo("retention NOT verified: see the report", err=True)
        raise typer.Exit(1)
