"""``clinflow generate``: the synthetic cohort from the command line (``demo`` is in
``clinflow.runtime.commands``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from clinflow.cli_options import DataDirOption
from clinflow.config import DataDir
from clinflow.errors import ConfigError
from clinflow.synthetic.generator import GenerateOptions, default_workers, generate
from clinflow.synthetic.scenario import load_scenario

console = Console()
err_console = Console(stderr=True)

def _run(options: GenerateOptions, quiet: bool) -> dict[str, Any]:
    if quiet:
        return generate(options)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("patients", total=options.patients)
        return generate(options, lambda done: progress.update(task, completed=done))


def _record_audit(data_dir: str | None, summary: dict[str, Any], out: Path) -> int:
    """Append a 'data generated' AuditEvent (cohort size, seed, scenario, folder; no PHI)."""
    from clinflow.audit import AuditLog, events

    event = events.data_generation(
        patients=int(summary["patients"]),
        seed=int(summary["seed"]),
        output=str(out),
        scenario=str(summary["scenario"]),
    )
    with AuditLog.open(DataDir.open(data_dir)) as log:
        return log.append(event)


def summary_table(summary: dict[str, Any], out: Path) -> Table:
    table = Table(title=f"synthetic cohort in {out}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("patients", str(summary["patients"]))
    for kind, count in summary["resources"].items():
        table.add_row(f"FHIR {kind}", str(count))
    table.add_row("FHIR bundles", str(summary["bundles"]))
    table.add_row("DICOM files", str(summary["dicom_files"]))
    table.add_row("manifest entries", str(summary["manifest_entries"]))
    for kind, count in summary["phi_by_kind"].items():
        table.add_row(f"  PHI {kind}", str(count))
    table.add_row("deteriorating patients", str(summary["deteriorating_patients"]))
    table.add_row("scheduled consent revocations", str(summary["scheduled_revocations"]))
    return table


def generate_command(
    patients: Annotated[
        int | None, typer.Option("--patients", min=1, help="Cohort size (default: scenario's).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same bytes.")] = 7,
    out: Annotated[Path, typer.Option("--out", help="Output directory (created).")] = Path(
        "synthetic-out"
    ),
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="Scenario YAML (see synthetic/*.yaml).")
    ] = None,
    fhir_version: Annotated[
        str | None, typer.Option("--fhir-version", help="R5 (default) or R4B.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (default 2).")
    ] = None,
    data_dir: DataDirOption = None,  # its audit log records the run
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar or table.")] = False,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="fhir (FHIR, DICOM, notes) or hl7v2 (ADT and ORU^R01 vitals as one HL7 v2 "
            "feed file, in --vendor's dialect; with a scenario's labs_interval_hours and "
            "duplicate_registration_fraction also ORU^R01 lab results and ADT^A28/A40, e.g. "
            "synthetic/icu-labs.yaml).",
        ),
    ] = "fhir",
    vendor: Annotated[
        str, typer.Option("--vendor", help="hl7v2: vendor dialect (policies/ehr/vendors).")
    ] = "standard",
) -> None:
    """Generate a synthetic cohort: FHIR, DICOM, notes and the PHI ground-truth manifest."""
    chosen = load_scenario(scenario)
    if output_format not in ("fhir", "hl7v2"):
        raise ConfigError(f"--format: must be fhir or hl7v2, got {output_format!r}")
    if output_format == "hl7v2":
        from clinflow.ehr.hl7.feed_files import write_feed

        feed = write_feed(out, patients or chosen.patients, seed, chosen, vendor)
        console.print(f"{feed['file']}: {feed['messages']} ({feed['vendor']} dialect)")
        _record_audit(data_dir, feed, out)
        return
    if fhir_version is not None:
        if fhir_version not in ("R4B", "R5"):
            raise ConfigError(f"--fhir-version: must be R4B or R5, got {fhir_version!r}")
        version: Literal["R4B", "R5"] = "R4B" if fhir_version == "R4B" else "R5"
        chosen = chosen.model_copy(update={"fhir_version": version})
    options = GenerateOptions(
        patients=patients or chosen.patients,
        seed=seed,
        out=out,
        scenario=chosen,
        workers=workers or default_workers(),
    )
    summary = _run(options, quiet)
    if not quiet:
        console.print(summary_table(summary, out))
    console.print(f"manifest sha256 {summary['manifest_sha256']}")
    _record_audit(data_dir, summary, out)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)
