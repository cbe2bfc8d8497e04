"""``clinflow demo``: the whole embedded pipeline on a small synthetic cohort, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clinflow.cli_options import DataDirOption, JsonReportOption
from clinflow.config import DataDir
from clinflow.runtime.pipeline import (
    DEMO_PATIENTS,
    DEMO_SEED,
    DemoPipeline,
    PipelineOptions,
    report_path,
)

console = Console()
err_console = Console(stderr=True)


def demo_command(
    data_dir: DataDirOption = None,
    patients: Annotated[
        int, typer.Option("--patients", min=1, max=1000, help="Cohort size.")
    ] = DEMO_PATIENTS,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same cohort.")] = (
        DEMO_SEED
    ),
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="Scenario YAML (default synthetic/demo.yaml).",
                     show_default=False),
    ] = None,  # fmt: skip
    bad_inputs: Annotated[
        bool,
        typer.Option("--bad-inputs/--no-bad-inputs",
                     help="Plant two malformed files to show the quarantine."),
    ] = True,  # fmt: skip
    as_json: JsonReportOption = False,
) -> None:
    """Run the embedded pipeline end to end on a synthetic cohort and report what it did.

    Generates a cohort into <data-dir>/cohort/, ingests it, loads the Consents, scores vital
    signs at the ICU endpoint (TREAT), de-identifies DICOM and FHIR and releases them to the
    research store (HRESCH), scans the releases for residual PHI, applies the scheduled
    research-consent revocations, checks nothing revoked remains, and verifies the audit log.
    The run streams into the deployment's own stores (no throw-away run folder), so afterwards
    `clinflow consent status|revoke`, `audit ...`, `quarantine ...` and the API see its data;
    a re-run with the same seed finds every input already processed (idempotent by content).
    The figures go to <data-dir>/demo-report.json. Exit 0 when residual PHI
    is 0, there is no consent violation and the audit log verifies; 1 otherwise.
    """
    deployment = DataDir.open(data_dir)
    options = PipelineOptions(patients=patients, seed=seed, scenario=scenario,
                              bad_inputs=bad_inputs)  # fmt: skip
    if as_json:
        report = DemoPipeline(deployment, options).run()
    else:
        with err_console.status("running the pipeline") as status:
            report = DemoPipeline(
                deployment, options, progress=lambda stage: status.update(f"stage: {stage}")
            ).run()
    data = report.to_json()
    text = json.dumps(data, indent=2) + "\n"
    report_path(deployment).write_text(text, encoding="utf-8")
    if as_json:
        print(json.dumps(data))
    else:
        report.render(console)
        for reason in report.quarantined:
            err_console.print(f"quarantined {reason}")
        console.print(f"report written to {report_path(deployment)}")
    if not report.ok:
        err_console.print(f"demo check failed: {report.reason}")
        raise typer.Exit(1)
