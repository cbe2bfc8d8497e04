"""``clinflow dataset build|verify|rebuild``: research datasets under data use agreements."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clinflow.cli_options import DataDirOption
from clinflow.consent.retention import parse_instant

if TYPE_CHECKING:
    from clinflow.runtime.deployment import Deployment

dataset_app = typer.Typer(
    help="Research datasets: build under data use agreements, verify, rebuild with a diff."
)

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Decide consents and agreements at this time (ISO date or date-time, UTC if no"
        " zone; default now).",
        show_default=False,
    ),
]
FolderArgument = Annotated[Path, typer.Argument(help="Dataset folder (with manifest.json).")]


def _open(data_dir: str | None) -> Deployment:
    from clinflow.runtime.deployment import Deployment

    return Deployment.open(data_dir)


def _as_of(value: str | None) -> datetime:
    return parse_instant(value, "--as-of") if value else datetime.now(UTC)


@dataset_app.command("build")
def build_command(
    dua: Annotated[
        list[str],
        typer.Option("--dua", help="Data use agreement id (repeat for addenda, same recipient)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="New (or empty) output folder.")],
    as_of: AsOfOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write a de-identified dataset (DICOM, FHIR ndjson, notes) with manifest.json and
    DATASET_CARD.md: only records the patient's consent and a listed agreement in force
    permit at --as-of. Each patient's disclosure is audited."""
    from clinflow.datasets.service import build

    moment = _as_of(as_of)
    with _open(data_dir) as deployment:
        result = build(deployment, dua, moment, out)
    manifest = result.manifest
    patients = len({r["patient"] for r in manifest["records"]})
    typer.echo(
        f"dataset {result.dataset_id}: {len(result.items)} records of {patients} patients"
        f" written to {out}; excluded {sum(manifest['exclusions'].values())}"
        + (f" ({', '.join(f'{k} {v}' for k, v in manifest['exclusions'].items())})"
           if manifest["exclusions"] else "")
    )  # fmt: skip


@dataset_app.command("verify")
def verify_command(folder: FolderArgument, data_dir: DataDirOption = None) -> None:
    """Check a dataset against its manifest, its agreements against the deployment's, and
    the deployment's audit log (which must verify and hold the dataset's disclosures).
    Exit 0 only when everything checks."""
    from clinflow.audit.log import DEFAULT_ORIGIN
    from clinflow.audit.store import open_existing_store
    from clinflow.audit.verify import trusted_verifiers, verify_log
    from clinflow.config import DataDir, resolve_data_dir
    from clinflow.consent.dua import load_deployment_agreements
    from clinflow.datasets.service import verify

    root = DataDir(resolve_data_dir(data_dir))
    store = open_existing_store(root)
    try:
        log = verify_log(store, trusted_verifiers(root, DEFAULT_ORIGIN, []), origin=DEFAULT_ORIGIN)
        result = verify(folder, store, load_deployment_agreements(root))
    finally:
        store.close()
    for failure in log.failures:
        result.fail(f"audit log: {failure}")
    typer.echo(json.dumps(result.to_json(), indent=2))
    if not result.ok:
        typer.echo(f"dataset NOT verified: {len(result.problems)} problem(s)", err=True)
        raise typer.Exit(1)


@dataset_app.command("rebuild")
def rebuild_command(
    folder: FolderArgument,
    as_of: AsOfOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Rebuild into this folder instead of replacing FOLDER."),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Rebuild a dataset under the same agreements: byte-identical for the same inputs and
    keys, minus what was revoked, expired or removed since. Prints the diff report and
    writes it to REBUILD_REPORT.json in the rebuilt dataset."""
    from clinflow.datasets.service import rebuild

    moment = _as_of(as_of)
    with _open(data_dir) as deployment:
        report = rebuild(deployment, folder, moment, out)
    typer.echo(json.dumps(report, indent=2))
