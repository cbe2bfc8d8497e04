"""``clinflow quarantine ...``: list, inspect, export and replay dead-letter inputs.

Replay re-runs a quarantined input through the stage that rejected it (the DICOM and FHIR
de-identifiers, with the deployment's keys and default policies), writing the result under
``--out``; the item is marked replayed only when the stage now accepts it. Items of other
stages can be exported, fixed and fed back through their own command.

Payloads are sealed at rest (ADR 0085): ``list`` shows metadata only; ``show``, ``export`` and
``replay`` decrypt. Listing and replaying link an item held without a patient to the patient
its payload names (re-sealed under that patient's data key), so a revocation purges it.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from clinflow.cli_options import DataDirOption
from clinflow.config import DataDir
from clinflow.errors import ConfigError, KeyError_
from clinflow.quarantine import Quarantine, QuarantinedItem
from clinflow.sqlite_store import private_opener

console = Console()
quarantine_app = typer.Typer(help="List, inspect, export and replay quarantined inputs.")

REPLAYABLE = ("deid-dicom", "deid-fhir")


def _store(data_dir: str | None) -> Quarantine:
    return Quarantine(DataDir.open(data_dir).quarantine_db)


def _link_unknown(store: Quarantine, deployment: DataDir) -> int:
    """Link items held without a patient whose payload names one (see ``deid.quarantined``)."""
    from clinflow.crypto.keys import KeyRing
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.deid.quarantined import patient_resolver

    pseudonymizer = Pseudonymizer(KeyRing(deployment.keys).project_key())
    return store.link_unknown(patient_resolver(pseudonymizer))


def _item(store: Quarantine, item_id: int) -> QuarantinedItem:
    try:
        item = store.get(item_id)
    except KeyError_ as exc:
        raise ConfigError(f"quarantine item {item_id}: payload cannot be opened ({exc})") from exc
    if item is None:
        raise ConfigError(f"quarantine item {item_id}: not found (see `clinflow quarantine list`)")
    return item


def _safe_name(location: str, item_id: int) -> str:
    """A relative file name for the payload: the location's last part, never a path escape."""
    name = PurePosixPath(location.split("#")[0].split(":")[0]).name or f"item-{item_id}"
    return name if name not in (".", "..") else f"item-{item_id}"


@quarantine_app.command("list")
def quarantine_list(
    data_dir: DataDirOption = None,
    status: Annotated[str, typer.Option(help="open, replayed or all")] = "open",
) -> None:
    """List quarantined inputs with their stage, location and reason."""
    if status not in ("open", "replayed", "all"):
        raise ConfigError(f"--status {status}: expected open, replayed or all")
    deployment = DataDir.open(data_dir)
    store = Quarantine(deployment.quarantine_db)
    try:
        linked = _link_unknown(store, deployment)
        items = store.list(status=None if status == "all" else status)
    finally:
        store.close()
    table = Table("id", "stage", "location", "reason", "patient", "status")
    for item in items:
        table.add_row(
            str(item.id), item.stage, item.location, item.reason,
            "linked" if item.patient else "-", item.status,
        )
    console.print(table)
    console.print(f"{len(items)} item(s)" + (f"; {linked} newly linked to their patient"
                                             if linked else ""))


@quarantine_app.command("show")
def quarantine_show(item_id: int, data_dir: DataDirOption = None) -> None:
    """Show one item: stage, location, reason, when, payload size and SHA-256 (not content)."""
    item = _item(_store(data_dir), item_id)
    payload = item.payload or b""
    when = datetime.fromtimestamp(item.created, UTC).isoformat(timespec="seconds")
    table = Table("field", "value")
    for field, value in (
        ("id", str(item.id)),
        ("stage", item.stage),
        ("location", item.location),
        ("reason", item.reason),
        ("status", item.status),
        ("quarantined at", when),
        ("patient (pseudonym)", item.patient or "-"),
        ("payload bytes", str(len(payload))),
        ("payload sha256", hashlib.sha256(payload).hexdigest() if payload else "-"),
        ("replayable", "yes" if item.stage in REPLAYABLE else "export, fix, re-run"),
    ):
        table.add_row(field, value)
    console.print(table)


@quarantine_app.command("export")
def quarantine_export(
    item_id: int,
    out: Annotated[Path, typer.Argument(help="File to write the quarantined payload to.")],
    data_dir: DataDirOption = None,
) -> None:
    """Write an item's payload (decrypted, as received; may hold PHI) to an owner-only file."""
    item = _item(_store(data_dir), item_id)
    if item.payload is None:
        raise ConfigError(f"quarantine item {item_id}: no payload was kept")
    with open(out, "wb", opener=private_opener) as handle:  # decrypted, may hold PHI: 0600
        handle.write(item.payload)
    console.print(f"wrote {len(item.payload)} bytes to {out}")


@quarantine_app.command("replay")
def quarantine_replay(
    item_id: int,
    out: Annotated[Path, typer.Option("--out", help="Folder for the de-identified output.")],
    data_dir: DataDirOption = None,
) -> None:
    """Re-run an item through the stage that rejected it; mark it replayed if it now passes."""
    deployment = DataDir.open(data_dir)
    store = Quarantine(deployment.quarantine_db)
    item = _item(store, item_id)
    if item.status != "open":
        raise ConfigError(f"quarantine item {item_id}: already {item.status}")
    if item.stage not in REPLAYABLE:
        raise ConfigError(
            f"quarantine item {item_id}: stage {item.stage} has no replay; use "
            "`clinflow quarantine export` and re-run its command"
        )
    if item.payload is None:
        raise ConfigError(f"quarantine item {item_id}: no payload was kept")
    _link_unknown(store, deployment)  # the patient may be known now: revocation then purges it
    with tempfile.TemporaryDirectory(prefix="clinflow-replay-") as scratch:
        source = Path(scratch) / _safe_name(item.location, item.id)
        source.write_bytes(item.payload)
        problems = _run_stage(item.stage, deployment, Path(scratch), out)
    if problems:
        console.print(f"item {item_id} still rejected: {problems[0]}")
        raise typer.Exit(1)
    store.replay(item_id, lambda _item: None)
    console.print(f"item {item_id} replayed through {item.stage} into {out}")


def _run_stage(stage: str, deployment: DataDir, source: Path, out: Path) -> list[str]:
    """Run ``stage`` on ``source`` into ``out``; the reasons it rejected anything (no PHI)."""
    from clinflow.audit import AuditLog
    from clinflow.crypto.keys import KeyRing
    from clinflow.deid.pseudonym import Pseudonymizer

    keyring = KeyRing(deployment.keys)
    pseudonymizer = Pseudonymizer(keyring.project_key())
    with AuditLog.open(deployment) as audit:
        if stage == "deid-dicom":
            from clinflow.deid.dicom.batch import deidentify_tree
            from clinflow.deid.dicom.engine import DicomDeidentifier
            from clinflow.deid.dicom.profile import compile_policy

            engine = DicomDeidentifier(compile_policy(None, None), pseudonymizer)
            report = deidentify_tree(source, out, engine, None, audit)
            return [f"{r.location}: {r.reason}" for r in report.rejected]
        from clinflow.crypto.datakeys import DataKeyStore
        from clinflow.deid.fhir.engine import build_fhir_deidentifier
        from clinflow.deid.fhir.io import FhirDeidRunner

        datakeys = DataKeyStore(deployment.datakeys_db, keyring.master_key())
        fhir = build_fhir_deidentifier(pseudonymizer, datakeys)
        result = FhirDeidRunner(fhir, None, audit, "input").run(source, out)
        return list(result.problems)
