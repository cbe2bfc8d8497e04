"""``clinflow deid fhir IN OUT``: FHIR de-identification of Bundles and ndjson."""

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
    TextPolicyOption,
    audit_log_for,
)
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import ConfigError
from clinflow.quarantine import Quarantine, QuarantineSeal

console = Console()
err_console = Console(stderr=True)


def deid_fhir(
    source: Annotated[Path, typer.Argument(help="A Bundle/ndjson file or a folder (recursively).")],
    target: OutputFolderArgument,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            show_default=False,
            help="Policy YAML file or name in policies/fhir/ (default safe-harbor; "
            "also limited-data-set).",
        ),
    ] = None,
    text_policy: TextPolicyOption = None,
    validate: Annotated[
        str,
        typer.Option(
            "--validate",
            help="input (fhir.resources models), shallow (type, id and element names only: "
            "much cheaper), both (input and output), none.",
        ),
    ] = "input",
    data_dir: DataDirOption = None,
    as_json: JsonReportOption = False,
    audit: AuditEventsOption = True,
) -> None:
    """De-identify FHIR Bundles and Bulk ndjson (R4, R4B, R5) by a declarative policy.

    Same patient, same pseudonym and date offset as `clinflow deid dicom` (project key in the
    data directory). Exit 0 when everything was written, 1 when some inputs were quarantined
    (listed with file, entry or line, and field), 2 on a usage or policy error.
    """
    if validate not in ("input", "shallow", "both", "none"):
        raise ConfigError(f"--validate {validate}: expected input, both or none")
    if not source.exists():
        raise ConfigError(f"input {source}: no such file or directory")
    from clinflow.crypto.datakeys import DataKeyStore
    from clinflow.deid.fhir.engine import build_fhir_deidentifier
    from clinflow.deid.fhir.io import FhirDeidRunner, Validation

    deployment = DataDir.open(data_dir)
    keyring = KeyRing(deployment.keys)
    pseudonymizer = Pseudonymizer(keyring.project_key())
    datakeys = DataKeyStore(deployment.datakeys_db, keyring.master_key())
    engine = build_fhir_deidentifier(pseudonymizer, datakeys, policy, text_policy)
    compiled = engine.policy
    quarantine = Quarantine(deployment.quarantine_db, QuarantineSeal.for_keys(datakeys, keyring))
    try:
        mode: Validation = validate  # type: ignore[assignment]
        with audit_log_for(deployment, audit) as log:
            report = FhirDeidRunner(engine, quarantine, log, mode).run(source, target)
    finally:
        quarantine.close()
        datakeys.close()
    if as_json:
        print(
            json.dumps(
                {
                    "policy": compiled.name,
                    "policy_hash": compiled.digest,
                    **report.as_dict(),
                    "problems": report.problems,
                }
            )
        )
    else:
        console.print(
            f"{report.files} file(s), {report.resources_out} resource(s) de-identified with "
            f"policy {compiled.name} ({compiled.digest[:12]}), {len(report.patients)} patient(s); "
            f"{report.validation_skipped} R4 resource(s) validation skipped; "
            f"{report.quarantined} quarantined"
        )
        for problem in report.problems[:50]:
            err_console.print(f"quarantined: {problem}")
    if report.failed:
        raise typer.Exit(1)


def register(deid_app: typer.Typer) -> None:
    deid_app.command("fhir")(deid_fhir)
