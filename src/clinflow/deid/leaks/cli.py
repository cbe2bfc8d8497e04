"""``clinflow leaks --manifest FILE OUTPUT_DIR``: residual PHI against the ground truth."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from clinflow.cli_options import DataDirOption, JsonReportOption
from clinflow.config import DataDir, resolve_data_dir
from clinflow.crypto.keys import KeyRing
from clinflow.deid.leaks.scanner import scan
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import ConfigError, KeyError_

console = Console()


def _date_offsets(data_dir: str | None) -> Callable[[str], int] | None:
    """The deployment's keyed date offset per patient key, if its project key exists."""
    deployment = DataDir(resolve_data_dir(data_dir))
    try:
        key = KeyRing(deployment.keys, create_missing=False).project_key()
    except KeyError_:
        return None  # no key here: every planted date found counts as residual
    return Pseudonymizer(key).date_offset_days


def leaks(
    output_dir: Annotated[Path, typer.Argument(help="De-identified output folder to scan.")],
    manifest: Annotated[
        Path, typer.Option("--manifest", help="The generator's manifest.ndjson (ground truth).")
    ],
    as_json: JsonReportOption = False,
    show_values: Annotated[
        bool,
        typer.Option("--show-values", help="Include the leaked values (synthetic labs only)."),
    ] = False,
    limit: Annotated[int, typer.Option(help="Findings to list (text output).")] = 50,
    data_dir: DataDirOption = None,
    text_source: Annotated[
        Path | None,
        typer.Option(
            "--text-source",
            help="Original cohort folder: also score free-text PHI recall/precision per kind "
            "(clinflow.deid.text.evaluate); exit 1 if below target.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Residual PHI per kind and location, and a MIDI-B-style scorecard; exit 1 if any."""
    if not manifest.is_file():
        raise ConfigError(f"--manifest {manifest}: no such file")
    if not output_dir.is_dir():
        raise ConfigError(f"output folder {output_dir}: no such directory")
    report = scan(manifest, output_dir, _date_offsets(data_dir))
    if as_json:
        print(json.dumps(report.to_json(show_values)))
    else:
        console.print(
            f"{report.entries} manifest entries, {report.files_scanned} file(s) scanned, "
            f"{report.files_absent} absent (quarantined or not output); "
            f"residual PHI: {report.residual}"
        )
        if report.coincidental:
            console.print(
                f"{len(report.coincidental)} planted date(s) equal a shifted date of the same "
                "patient (written by de-identification; not counted as residual)"
            )
        if report.findings:
            by_kind = Table("kind", "residual")
            for kind, count in report.by_kind().items():
                by_kind.add_row(kind, str(count))
            console.print(by_kind)
            found = Table(
                "kind", "file", "location", "variant", *(["value"] if show_values else [])
            )
            for finding in report.findings[:limit]:
                row = [finding.kind, finding.file, finding.location, finding.variant]
                found.add_row(*row, *([finding.value] if show_values else []))
            console.print(found)
        card = Table("check", "correct", "total", "share")
        for name, check in report.checks.items():
            card.add_row(name, str(check.correct), str(check.total), f"{100 * check.share:.2f}%")
        console.print(card)
        console.print(f"scorecard overall: {100 * report.overall():.3f}%")
    text_ok = True
    if text_source is not None:  # free-text section (issue 6), detector vs planted spans
        from clinflow.deid.text.evaluate import meets_targets, text_section

        figures = text_section(text_source, manifest)
        text_ok = meets_targets(figures)
        print(json.dumps({"text": figures}))
    if report.residual or not text_ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("leaks")(leaks)
