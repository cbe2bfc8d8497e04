"""Typer option types shared by every command group (one definition, one help text)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from clinflow.audit.log import AuditLog
    from clinflow.config import DataDir

DataDirOption = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        help="Deployment data directory (default ./clinflow-data or $CLINFLOW_DATA_DIR).",
        show_default=False,
    ),
]
HostOption = Annotated[str, typer.Option("--host", help="Interface to bind.")]
PortOption = Annotated[int, typer.Option("--port", help="TCP port.")]
OutputFolderArgument = Annotated[Path, typer.Argument(help="Output folder (mirrors input paths).")]
JsonReportOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
# The de-identification commands: one AuditEvent per input written (file, note, resource set).
AuditEventsOption = Annotated[
    bool, typer.Option("--audit/--no-audit", help="Write one AuditEvent per input de-identified.")
]
# deid text and deid fhir (a FHIR resource's narrative and notes are free text).
TextPolicyOption = Annotated[
    Path | None,
    typer.Option("--text-policy", show_default=False,
                 help="Free-text policy YAML (default policies/text.yaml)."),
]  # fmt: skip
AuditDsnOption = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        envvar="CLINFLOW_AUDIT_DSN",
        help="PostgreSQL DSN of the audit log (default: SQLite in the data directory).",
    ),
]


@contextmanager
def audit_log_for(data_dir: DataDir, audit: bool) -> Iterator[AuditLog | None]:
    """What ``--audit/--no-audit`` asks for: the data directory's audit log while the command
    runs (closed at the end, signing a checkpoint), or None."""
    if not audit:
        yield None
        return
    from clinflow.audit.log import AuditLog

    with AuditLog.open(data_dir) as log:
        yield log
