"""``clinflow consent load|status|revoke``.

PATIENT is the pseudonym (``PT-…``) everywhere; ``--mrn`` instead takes a medical record
number and pseudonymizes it with the deployment's project key (the MRN is never printed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from clinflow.cli_options import DataDirOption
from clinflow.consent.service import ConsentService
from clinflow.errors import ConfigError
from clinflow.patient_ids import PSEUDONYM_RE

if TYPE_CHECKING:
    from clinflow.runtime.deployment import Deployment

consent_app = typer.Typer(
    help="Consent: load FHIR Consent resources, show status, revoke with a receipt."
)
console = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
MrnOption = Annotated[
    bool, typer.Option("--mrn", help="PATIENT is a medical record number: pseudonymize it.")
]


def _patient(service: ConsentService, patient: str, mrn: bool) -> str:
    """The pseudonym PATIENT names. Without ``--mrn`` it must be one (``PSEUDONYM_RE``):
    an MRN typed there used to be taken as a pseudonym of nobody ("no consent") instead of
    refused. The value is never echoed: it may be an MRN."""
    if mrn:
        return service.pseudonym_for(patient)
    if not PSEUDONYM_RE.match(patient):
        raise ConfigError(
            "PATIENT is not a patient pseudonym (PT- and hex digits); for a medical record"
            " number, add --mrn"
        )
    return patient


def _open(data_dir: str | None) -> Deployment:
    """The deployment's stores, opened once (the composition root; imported lazily because
    the runtime layer sits above the consent capability)."""
    from clinflow.runtime.deployment import Deployment

    return Deployment.open(data_dir)


def _print_json(data: object) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@consent_app.command("load")
def consent_load(
    file: Annotated[
        Path, typer.Argument(help="Bundle, Consent JSON or ndjson file, or a folder of them.")
    ],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest Consent resources (R5 or R4B); rejects are quarantined and listed (exit 1)."""
    if not file.exists():
        raise ConfigError(f"{file}: no such file or folder")
    with _open(data_dir) as deployment:
        report = deployment.consent.load(file)
    if as_json:
        _print_json(
            {
                "loaded": report.loaded,
                "rejected": report.rejected,
                "revocations": [r.to_dict() for r in report.revocations],
            }
        )
    else:
        console.print(f"loaded {report.loaded} consent(s) from {file.name}")
        for receipt in report.revocations:
            receipt.render(console)
        for location in report.rejected:
            console.print(f"[red]rejected[/red] {location} (quarantined)")
    if report.rejected:
        raise typer.Exit(1)


@consent_app.command("status")
def consent_status(
    patient: Annotated[
        str | None, typer.Argument(help="Patient pseudonym (or MRN with --mrn).")
    ] = None,
    data_dir: DataDirOption = None,
    mrn: MrnOption = False,
    as_json: JsonOption = False,
) -> None:
    """Consent state of one patient (decisions per purpose), or a summary of all patients."""
    with _open(data_dir) as deployment:
        service = deployment.consent
        if patient is None:
            rows = service.summary()
            if as_json:
                _print_json(rows)
                return
            table = Table("patient", "version", "consents", "revocations in force")
            for row in rows:
                table.add_row(
                    row["patient"],
                    str(row["version"]),
                    str(row["consents"]),
                    str(row["revocations"]),
                )
            console.print(table)
            console.print(f"{len(rows)} patient(s)")
            return
        state = service.status(_patient(service, patient, mrn))
    if as_json:
        _print_json(state)
        return
    console.print(f"patient {state['patient']}  registry version {state['version']}")
    table = Table("purpose", "decision", "source", "reason")
    for purpose, decision in state["decisions"].items():
        table.add_row(purpose, decision["decision"], decision["source"], decision["reason"])
    console.print(table)
    for revocation in state["revocations"]:
        console.print(
            f"revocation {revocation['id']}: {', '.join(revocation['purposes'])}"
            f" at {revocation['effective_at']}"
        )
    if state["merged_patients"]:  # HL7 v2 A40 merges (ADR 0102): revocations cover them
        console.print(f"merged into this patient: {', '.join(state['merged_patients'])}")
    if state["merged_into"]:
        console.print(f"merged into {state['merged_into']} (that patient's consent governs)")


@consent_app.command("revoke")
def consent_revoke(
    patient: Annotated[
        str | None, typer.Argument(help="Patient pseudonym (or MRN with --mrn).")
    ] = None,
    purpose: Annotated[
        list[str] | None,
        typer.Option("--purpose", help="ActReason code to revoke (repeatable); default: all."),
    ] = None,
    data_dir: DataDirOption = None,
    mrn: MrnOption = False,
    from_now: Annotated[
        bool,
        typer.Option("--from-now", help="Not retroactive: keep data released before now."),
    ] = False,
    retry: Annotated[
        str | None,
        typer.Option(
            "--retry",
            metavar="RECEIPT",
            help="Finish an incomplete revocation: sweep again the targets its receipt "
            "could not reach (PATIENT and options are taken from the receipt).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw consent, purge everything released for it, shred keys, print the receipt.

    Every store found through lineage must be reached: the running scoring service (over
    HTTP, with its service token) included. If one cannot be reached the receipt says
    INCOMPLETE, names it, and the exit code is 1; run again with --retry RECEIPT later.
    """
    if (patient is None) == (retry is None):
        raise ConfigError("give PATIENT, or --retry RECEIPT (not both)")
    with _open(data_dir) as deployment:
        service = deployment.consent
        if retry is not None:
            receipt = service.retry(retry)
        else:
            assert patient is not None
            receipt = service.revoke(
                _patient(service, patient, mrn), purpose or None, retroactive=not from_now
            )
    if as_json:
        _print_json(receipt.to_dict())
    else:
        receipt.render(console)
    if not receipt.complete:
        raise typer.Exit(1)
