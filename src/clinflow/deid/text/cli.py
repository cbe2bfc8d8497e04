"""``clinflow deid text IN OUT`` (plain-text notes) and ``clinflow deid text-eval`` (quality
against a generated cohort's manifest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

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


def text_eval(
    cohort: Annotated[Path, typer.Argument(help="A generated cohort folder (original notes).")],
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="Manifest (default COHORT/manifest.ndjson).")
    ] = None,
    text_policy: TextPolicyOption = None,
    ner: Annotated[bool, typer.Option("--ner/--no-ner", help="Force spaCy NER on or off.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Text PHI recall per kind and precision against the generator's manifest (JSON).

    Exit 1 when overall recall < 0.99, the patient's own name/MRN/SSN/phone < 1.0, or
    precision < 0.90.
    """
    from clinflow.deid.text.engine import TextDeidentifier, load_text_policy
    from clinflow.deid.text.evaluate import evaluate, meets_targets

    manifest = manifest or cohort / "manifest.ndjson"
    if not manifest.is_file():
        raise ConfigError(f"--manifest {manifest}: no such file")
    policy = load_text_policy(text_policy)
    if ner:
        policy = policy.model_copy(update={"ner": True})
    deployment = DataDir.open(data_dir)
    pseudonymizer = Pseudonymizer(KeyRing(deployment.keys).project_key())
    report = evaluate(cohort, manifest, TextDeidentifier(pseudonymizer, policy))
    print(json.dumps(report.as_dict()))
    if not meets_targets(report.as_dict()):
        raise typer.Exit(1)


def deid_text(
    source: Annotated[
        Path,
        typer.Argument(
            help="A .txt note, a folder of .txt notes (recursively), or a .jsonl of notes "
            '({"id", "text", "patient"?: FHIR Patient, "people"?: [FHIR resources]}).'
        ),
    ],
    target: OutputFolderArgument,
    text_policy: TextPolicyOption = None,
    patient_id: Annotated[
        str | None,
        typer.Option("--patient-id", show_default=False,
                     help="Patient key (MRN) for notes that carry no Patient record: their "
                     "dates move by this patient's offset and names get this patient's "
                     "surrogates (without it such dates become [DATE_TIME])."),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print every span: note, type, offsets, recognizers.")
    ] = False,
    show_values: Annotated[
        bool, typer.Option("--show-values", help="With --explain: also print the PHI values.")
    ] = False,
    data_dir: DataDirOption = None,
    as_json: JsonReportOption = False,
    audit: AuditEventsOption = True,
) -> None:
    """De-identify plain-text clinical notes with the same surrogates and date shift as
    `clinflow deid fhir` (project key in the data directory).

    Output mirrors the input: OUT/<path>.txt per note, or OUT/<name>.jsonl with {"id", "text"}
    per note (the Patient and people are not copied). Notes that cannot be read are
    quarantined and listed (file, line, what is wrong). Exit 0 when every note was written,
    1 when some were quarantined, 2 on a usage or policy error.
    """
    if not source.exists():
        raise ConfigError(f"input {source}: no such file or directory")
    if source.is_file() and source.suffix not in (".txt", ".jsonl"):
        raise ConfigError(f"input {source}: expected a .txt or .jsonl file or a folder")
    if show_values and not explain:
        raise ConfigError("--show-values needs --explain")
    from clinflow.deid.text.engine import TextDeidentifier, load_text_policy
    from clinflow.deid.text.runner import TextDeidRunner
    from clinflow.quarantine import Quarantine

    policy = load_text_policy(text_policy)
    deployment = DataDir.open(data_dir)
    pseudonymizer = Pseudonymizer(KeyRing(deployment.keys).project_key())
    quarantine = Quarantine(deployment.quarantine_db)
    try:
        deidentifier = TextDeidentifier(pseudonymizer, policy)
        with audit_log_for(deployment, audit) as log:
            report = TextDeidRunner(deidentifier, quarantine, patient_id, log).run(source, target)
    finally:
        quarantine.close()
    if explain:
        for line in report.explain(show_values):
            print(line)
    if as_json:
        print(json.dumps({"policy": policy.name, **report.as_dict()}))
    else:
        print(
            f"{report.notes} note(s) de-identified with text policy {policy.name}, "
            f"{report.spans} span(s) replaced; {report.quarantined} quarantined"
        )
        for problem in report.problems[:50]:
            typer.echo(f"quarantined: {problem}", err=True)
    if report.quarantined:
        raise typer.Exit(1)


def register(deid_app: typer.Typer) -> None:
    deid_app.command("text")(deid_text)
    deid_app.command("text-eval")(text_eval)
