"""``clinflow deid dicom IN OUT``: de-identify DICOM files with the PS3.15 Annex E profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clinflow.cli_options import (
    AuditEventsOption,
    DataDirOption,
    JsonReportOption,
    OutputFolderArgument,
    audit_log_for,
)
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.deid.dicom.batch import deidentify_tree
from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.deid.dicom.profile import ProfileOption, compile_policy
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.quarantine import Quarantine

console = Console()
err_console = Console(stderr=True)

_OPTIONS = ", ".join(o.value for o in ProfileOption)


def deid_dicom(
    source: Annotated[Path, typer.Argument(help="A DICOM file or a folder (recursively).")],
    target: OutputFolderArgument,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="Site policy YAML (default policies/dicom/site-default.yaml).",
            show_default=False,
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help=f"Profile option (repeatable; replaces the policy's defaults): {_OPTIONS}.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    as_json: JsonReportOption = False,
    audit: AuditEventsOption = True,
) -> None:
    """De-identify DICOM with PS3.15 Table E.1-1 and its options; quarantine what cannot be.

    Exit 0 when every file was de-identified, 1 when some were quarantined (listed with the
    reason), 2 on a usage or policy error.
    """
    deployment = DataDir.open(data_dir)
    compiled = compile_policy(policy, option or None)
    pseudonymizer = Pseudonymizer(KeyRing(deployment.keys).project_key())
    engine = DicomDeidentifier(compiled, pseudonymizer)
    quarantine = Quarantine(deployment.quarantine_db)
    try:
        with audit_log_for(deployment, audit) as log:
            report = deidentify_tree(source, target, engine, quarantine, log)
    finally:
        quarantine.close()
    if as_json:
        print(json.dumps({"policy_hash": compiled.policy_hash, **report.to_json()}))
    else:
        rate = report.files / report.seconds if report.seconds else 0.0
        console.print(
            f"de-identified {report.deidentified} of {report.files} file(s) "
            f"({report.bytes_in / 1e6:.1f} MB, {rate:.0f} files/s, "
            f"{report.burned_in_masked} burned-in masked) into {target}; "
            f"policy {compiled.policy_hash[:12]}"
        )
        for rejected in report.rejected:
            err_console.print(
                f"quarantined {rejected.location}: {rejected.reason} "
                f"(quarantine id {rejected.quarantine_id})"
            )
    if report.rejected:
        if not as_json:
            err_console.print(
                f"{len(report.rejected)} file(s) quarantined: see `clinflow quarantine list`"
            )
        raise typer.Exit(1)


def register(deid_app: typer.Typer) -> None:
    deid_app.command("dicom")(deid_dicom)
