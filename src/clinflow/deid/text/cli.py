"""``clinflow deid text-eval``: free-text de-identification measured against a manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from clinflow.cli_options import DataDirOption
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import ConfigError


def text_eval(
    cohort: Annotated[Path, typer.Argument(help="A generated cohort folder (original notes).")],
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="Manifest (default COHORT/manifest.ndjson).")
    ] = None,
    text_policy: Annotated[Path | None, typer.Option("--text-policy")] = None,
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


def register(deid_app: typer.Typer) -> None:
    deid_app.command("text-eval")(text_eval)
