"""``clinflow run``: stream a source into the deployment until it ends or is stopped.

The embedded runtime (default) runs the streaming graph in this process with a live display
of every hop (received, emitted, rejected, duplicates, queue depth, rate). SIGINT/SIGTERM
stop the source, drain what is in flight, flush the audit log (a signed checkpoint as it
closes) and exit 0. ``--runtime kafka`` starts a faust-streaming worker on the same graph
instead (several workers share the partitions).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
import signal
import time
from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from clinflow.cli_options import DataDirOption, JsonReportOption
from clinflow.envelope import Envelope, TimedInput
from clinflow.errors import ConfigError
from clinflow.listeners import PeerPolicy
from clinflow.runtime.offload import parse_deid_workers

if TYPE_CHECKING:
    from clinflow.deid.fhir.io import Validation

console = Console()
err_console = Console(stderr=True)

RUN_REPORT = "run-report.json"
STREAM_MANIFEST = "stream-manifest.ndjson"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$")

# Options of both streaming commands (run here, replay borrows them with the parsers): which
# runtime, how the embedded one checks and de-identifies FHIR, whether it shows live figures.
ValidationOption = Annotated[
    str,
    typer.Option(
        "--validation",
        help="FHIR input validation: input (fhir.resources models) or shallow (type, id, "
        "element names; much cheaper).",
    ),
]
DeidWorkersOption = Annotated[
    str,
    typer.Option(
        "--deid-workers",
        help="embedded: FHIR de-identification in N worker processes (partitioned by patient; "
        "0 = in this process, the default; auto = one per core beyond the first). Frees the "
        "event loop for the scoring path.",
    ),
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Live display while running.")
]
RuntimeOption = Annotated[
    str, typer.Option("--runtime", help="embedded (default) or kafka (worker processes).")
]


def parse_validation(text: str) -> Validation:
    """``--validation`` of a streaming command: ``input`` (fhir.resources) or ``shallow``."""
    if text not in ("input", "shallow"):
        raise ConfigError(f"--validation {text!r}: expected input or shallow")
    return "shallow" if text == "shallow" else "input"


def parse_duration(text: str | None) -> float | None:
    """``90``, ``90s``, ``10m``, ``1.5h``, ``500ms`` → seconds; None → no limit."""
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if not match:
        raise ConfigError(f"--duration {text!r}: expected e.g. 30s, 10m, 1h")
    value = float(match.group(1))
    unit = match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def parse_speed(text: str) -> float:
    """``max`` (as fast as possible) → 0; ``x60`` or ``60`` → 60 clinical seconds per second."""
    cleaned = text.strip().lower()
    if cleaned in ("max", "inf", "0"):
        return 0.0
    try:
        speed = float(cleaned.removeprefix("x"))
    except ValueError as exc:
        raise ConfigError(f"--speed {text!r}: expected max, x60 or a number") from exc
    if speed <= 0:
        raise ConfigError(f"--speed {text!r}: must be positive (or max)")
    return speed


def parse_source(text: str) -> tuple[str, Path | None]:
    """``generator`` | ``folder:PATH`` | ``PATH`` (an existing folder) | ``dicom-scp:[HOST:]PORT``
    (the address is read again by ``scp_address``) | ``stow`` (or ``dicomweb``: the API's
    DICOMweb STOW-RS spool)."""
    if text == "generator":
        return "generator", None
    if text in ("stow", "dicomweb"):
        return "stow", None
    if text.startswith("dicom-scp:"):
        scp_address(text)  # refuse a bad address before anything starts
        return "dicom-scp", None
    if text.startswith("mllp:"):
        mllp_address(text)  # refuse a bad address before anything starts
        return "mllp", None
    if text.startswith("hl7:"):  # HL7 v2 feed files, read once
        feed = Path(text.removeprefix("hl7:"))
        if not feed.exists():
            raise ConfigError(f"--source {text!r}: {feed} is not a file or folder")
        return "hl7", feed
    if text.startswith(("fhir:", "bulk:")):  # a FHIR server: REST polling or a Bulk export
        from clinflow.runtime.fhir_sources import parse_server_url

        kind = text.partition(":")[0]
        parse_server_url(kind, text)  # refuse a bad URL before anything starts
        return kind, None
    if text.startswith("folder:"):
        path = Path(text.removeprefix("folder:"))
    elif Path(text).is_dir():
        path = Path(text)
    else:
        raise ConfigError(
            f"--source {text!r}: expected generator, folder:PATH, a folder or dicom-scp:PORT"
        )
    if not path.is_dir():
        raise ConfigError(f"--source {text!r}: {path} is not a folder")
    return "folder", path


def mllp_address(text: str) -> tuple[str, int]:
    """(host, port) of ``mllp:[HOST:]PORT`` (host defaults to 127.0.0.1)."""
    from clinflow.ehr.hl7.mllp import parse_address

    return parse_address(text.removeprefix("mllp:"))


def scp_address(text: str) -> tuple[str, int]:
    """(host, port) of ``dicom-scp:[HOST:]PORT`` (host defaults to 127.0.0.1)."""
    from clinflow.runtime.dicom_scp import parse_address

    return parse_address(text.removeprefix("dicom-scp:"))


def run_command(
    data_dir: DataDirOption = None,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="generator (a synthetic cohort as a timed stream), folder:PATH or PATH "
            "(a DICOM/FHIR drop folder, watched), or dicom-scp:[HOST:]PORT (a DICOM C-STORE "
            "SCP: modalities and PACS send studies; host 127.0.0.1 unless given), fhir:URL "
            "(a FHIR R4 server: every Patient's $everything, or ?_type=A,B searches) or "
            "bulk:URL (one Bulk Data $export; ?_type=, ?_since=). Token: CLINFLOW_FHIR_TOKEN "
            "or CLINFLOW_FHIR_TOKEN_FILE. mllp:[HOST:]PORT: an HL7 v2 listener (ADT, ORU^R01; "
            "AA once stored; vendor dialects in policies/ehr/vendors); hl7:PATH: HL7 v2 feed "
            "files (a file or a folder of *.hl7), read once. stow (or dicomweb): instances "
            "the API accepted by DICOMweb STOW-RS (POST /dicomweb/studies).",
        ),
    ] = "generator",
    speed: Annotated[
        str,
        typer.Option("--speed", help="Clinical time per wall second: max, x60, x3600 ..."),
    ] = "max",
    duration: Annotated[
        str | None,
        typer.Option("--duration", help="Stop after this long (30s, 10m, 1h); default: "
                     "when the source ends (a folder is watched until stopped)."),
    ] = None,  # fmt: skip
    patients: Annotated[int, typer.Option("--patients", min=1, help="Generator: cohort size.")]
    = 20,
    seed: Annotated[int, typer.Option("--seed", help="Generator: random seed.")] = 7,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="Generator: scenario YAML.")
    ] = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="Folder: scan once; fhir: one pass; then drain and exit."),
    ] = False,
    runtime: RuntimeOption = "embedded",
    brokers: Annotated[
        str | None, typer.Option("--brokers", help="Kafka: bootstrap servers HOST:PORT.")
    ] = None,
    feed: Annotated[
        bool,
        typer.Option("--feed", help="Kafka: send the source into the ingest topic and exit "
                     "(workers started with --runtime kafka process it)."),
    ] = False,  # fmt: skip
    validation: ValidationOption = "input",
    deid_workers: DeidWorkersOption = "0",
    progress: ProgressOption = True,
    as_json: JsonReportOption = False,
    ae_title: Annotated[
        str, typer.Option("--ae-title", help="dicom-scp: this SCP's AE title.")
    ] = "CLINFLOW",
    allow_peers: Annotated[
        str | None,
        typer.Option("--allow-peers", help="mllp/dicom-scp: networks senders may connect from "
                     "(CIDR,...); others are closed unread."),
    ] = None,  # fmt: skip
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="mllp/dicom-scp: TLS with this PEM cert.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="mllp/dicom-scp: the cert's PEM private key.")
    ] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option("--tls-client-ca", help="mllp/dicom-scp: senders must present a cert this "
                     "CA signed (mutual TLS)."),
    ] = None,  # fmt: skip
) -> None:
    """Stream a source through de-identification, consent, audit and scoring until it ends
    or is stopped (SIGINT/SIGTERM drain and exit 0).

    Everything goes to the deployment's own stores, so `clinflow consent status|revoke`,
    `audit ...`, `quarantine ...` and the API see it while it runs and afterwards. Inputs
    already processed (same content) are skipped, never processed or audited twice.
    """
    if runtime not in ("embedded", "kafka"):
        raise ConfigError(f"--runtime {runtime!r}: expected embedded or kafka")
    checked = parse_validation(validation)
    workers = parse_deid_workers(deid_workers)
    kind, folder = parse_source(source)
    scp = scp_address(source) if kind == "dicom-scp" else None
    mllp = mllp_address(source) if kind == "mllp" else None
    peers = None
    listening = mllp or scp
    if listening is not None:  # a non-loopback listener must say who may send PHI to it
        peers = PeerPolicy.for_listener(kind, listening[0], allow_peers=allow_peers,
                                        tls_cert=tls_cert, tls_key=tls_key,
                                        tls_client_ca=tls_client_ca)  # fmt: skip
    elif allow_peers or tls_cert or tls_key or tls_client_ca:
        raise ConfigError("--allow-peers and --tls-* apply to the listening sources "
                          "(mllp:, dicom-scp:) only")  # fmt: skip
    if mllp is not None and runtime == "kafka" and feed:
        raise ConfigError("--feed: mllp is a live source; run it on the embedded runtime")
    if kind == "stow" and runtime == "kafka" and feed:
        raise ConfigError("--feed: stow is a live source; run it on the embedded runtime")
    if scp is not None:
        from clinflow.runtime.dicom_scp import check_ae_title

        ae_title = check_ae_title(ae_title)
        if runtime == "kafka" and feed:
            raise ConfigError("--feed: dicom-scp is a live source; run it on the embedded runtime")
    seconds = parse_duration(duration)
    pace = parse_speed(speed)
    if runtime == "kafka":
        feed_source = None
        if feed:
            if pace:
                raise ConfigError("--feed sends the source flat out: use --speed max")
            from clinflow.config import DataDir

            feed_source = _source(
                kind, folder, speed=0.0, patients=patients, seed=seed, scenario=scenario,
                manifest=DataDir.open(data_dir).root / STREAM_MANIFEST, once=True,
                endpoint=source,
            )  # fmt: skip
        _run_kafka(data_dir, brokers, feed, feed_source)
        return
    report = run_embedded(
        data_dir,
        kind=kind,
        folder=folder,
        speed=pace,
        duration_s=seconds,
        patients=patients,
        seed=seed,
        scenario=scenario,
        once=once,
        progress=progress and not as_json,
        validation=checked,
        deid_workers=workers,
        scp=scp,
        ae_title=ae_title,
        endpoint=source if kind in ("fhir", "bulk") else None,
        mllp=mllp,
        peers=peers,
    )
    if as_json:
        print(json.dumps(report))
    else:
        _render(report)


def _run_kafka(
    data_dir: str | None,
    brokers: str | None,
    feed: bool,
    source: AsyncIterable[TimedInput] | AsyncIterable[Envelope] | None,
) -> None:
    """A Kafka worker (default), or with ``--feed`` the source sent into the entry topic."""
    from clinflow.runtime.broker import BrokerUnavailable
    from clinflow.runtime.kafka_worker import run_kafka_worker

    if not brokers:
        raise ConfigError("--runtime kafka needs --brokers HOST:PORT")
    if feed:
        assert source is not None
        from clinflow.runtime.ingest import route_key
        from clinflow.runtime.kafka import produce_sync
        from clinflow.runtime.kafka_settings import KafkaSettings

        envelopes = asyncio.run(_collect(source))
        sent = produce_sync(KafkaSettings(brokers=brokers), envelopes, entry="ingest",
                            key=route_key)  # fmt: skip
        console.print(f"sent {sent} input(s) to the ingest topic at {brokers}")
        return
    try:
        status = run_kafka_worker(brokers=brokers, data_dir=data_dir)
    except BrokerUnavailable as exc:
        raise ConfigError(str(exc)) from exc
    raise typer.Exit(status)


async def _collect(
    source: AsyncIterable[TimedInput] | AsyncIterable[Envelope],
) -> list[Envelope]:
    collected = []
    async for item in source:
        collected.append(item.envelope if isinstance(item, TimedInput) else item)
    return collected


def _source(
    kind: str,
    folder: Path | None,
    *,
    speed: float,
    patients: int,
    seed: int,
    scenario: Path | None,
    manifest: Path,
    once: bool,
    scp: tuple[str, int] | None = None,
    ae_title: str = "CLINFLOW",
    completed: Callable[[Iterable[str]], set[str]] | None = None,
    endpoint: str | None = None,
    mllp: tuple[str, int] | None = None,
    reject: Callable[[str, Envelope, str, str | None], None] | None = None,
    peers: PeerPolicy | None = None,
) -> AsyncIterable[TimedInput] | AsyncIterable[Envelope]:
    from clinflow.runtime import sources

    if mllp is not None:
        from clinflow.ehr.hl7.mllp import MllpSource

        # acknowledged messages wait here, fsynced, until the entry hop completed them
        spool = manifest.parent / "sources" / f"mllp-{mllp[1]}"
        return MllpSource(
            mllp[0], mllp[1], spool, reject=reject, completed=completed, peers=peers
        )
    if kind == "hl7":
        from clinflow.ehr.hl7.file_source import Hl7FileSource

        assert folder is not None
        return Hl7FileSource(folder, reject=reject)

    if kind in ("fhir", "bulk"):
        from clinflow.runtime.fhir_sources import server_source

        assert endpoint is not None
        return server_source(kind, endpoint, once=once, completed=completed)

    if kind == "dicom-scp":
        from clinflow.runtime.dicom_scp import DicomScpSource

        assert scp is not None
        # received instances wait here, fsynced, until the entry hop completed them (ADR 0026)
        spool = manifest.parent / "sources" / f"dicom-scp-{scp[1]}"
        return DicomScpSource(
            scp[0], scp[1], spool, ae_title=ae_title, completed=completed, peers=peers
        )

    if kind == "stow":
        from clinflow.runtime.dicom_stow import StowSource

        # the API spools accepted instances beside the stores, fsynced (ADR 0026)
        return StowSource(manifest.parent, completed=completed)

    if kind == "folder":
        assert folder is not None
        # what this folder already yielded, per folder, kept beside the stores (paths only)
        digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
        state = manifest.parent / "sources" / f"folder-{digest}.seen"
        state.parent.mkdir(parents=True, exist_ok=True)
        return sources.FolderSource(folder, once=once, state_file=state)
    from clinflow.config import scenarios_dir
    from clinflow.synthetic.scenario import load_scenario
    from clinflow.synthetic.stream import StreamOptions

    options = StreamOptions(
        patients=patients,
        seed=seed,
        scenario=load_scenario(scenario or scenarios_dir() / "demo.yaml"),
        speed=speed,
        manifest=manifest,
    )
    return sources.GeneratorSource(options)


def run_embedded(
    data_dir: str | Path | None,
    *,
    kind: str,
    folder: Path | None,
    speed: float,
    duration_s: float | None,
    patients: int,
    seed: int,
    scenario: Path | None,
    once: bool,
    progress: bool,
    validation: Validation = "input",
    deid_workers: int = 0,
    scp: tuple[str, int] | None = None,
    ae_title: str = "CLINFLOW",
    endpoint: str | None = None,
    mllp: tuple[str, int] | None = None,
    peers: PeerPolicy | None = None,
) -> dict[str, Any]:
    """Run the streaming graph on the embedded runtime; returns the run report (JSON-able)."""
    from clinflow.runtime.signals import StopSignals

    stop_signals = StopSignals().install()  # a signal before the loop runs or after it ends
    from clinflow.audit.buffer import BufferedSink
    from clinflow.config import DataDir
    from clinflow.runtime import sources
    from clinflow.runtime.accounting import account_research
    from clinflow.runtime.deployment import Deployment
    from clinflow.runtime.embedded import EmbeddedRuntime
    from clinflow.runtime.live_status import RUN_STATUS
    from clinflow.runtime.rejects import quarantine_reject
    from clinflow.runtime.stages import build_pipeline

    root = DataDir.open(data_dir)
    with Deployment.open(root) as deployment:
        log = deployment.audit_log()
        first_entry = log.size
        buffered = BufferedSink(deployment.audit)
        stages = build_pipeline(
            deployment, buffered, validation=validation, deid_workers=deid_workers
        )
        runtime = EmbeddedRuntime(
            stages.graph, quarantine=deployment.quarantine, audit=buffered,
            ledger=deployment.ledger, status_path=root.root / RUN_STATUS,
        )  # fmt: skip
        feed = _source(
            kind, folder, speed=speed, patients=patients, seed=seed, scenario=scenario,
            manifest=root.root / STREAM_MANIFEST, once=once, scp=scp, ae_title=ae_title,
            completed=lambda ids: deployment.ledger.seen(stages.graph.entry, ids),
            endpoint=endpoint, mllp=mllp, peers=peers,
            reject=quarantine_reject(deployment.quarantine, buffered),
        )  # fmt: skip

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, runtime.stop, signal.Signals(signum).name)
            if stop_signals.received is not None:  # stopped while starting: no input taken
                runtime.stop(stop_signals.received)
            run = asyncio.ensure_future(runtime.run(feed, duration_s=duration_s))
            if progress:
                with Live(_table(runtime, 0.0), console=err_console, refresh_per_second=4) as live:
                    started = time.perf_counter()
                    while not run.done():
                        await asyncio.wait({run}, timeout=0.25)
                        live.update(_table(runtime, time.perf_counter() - started))
            await run

        asyncio.run(main())
        stop_signals.install()  # the loop gave the signals back: the report still gets written
        stats = runtime.stats
        entries = (log.get_entry(index) or b"{}" for index in range(first_entry, log.size))
        accounting = {k: a.to_json() for k, a in account_research(entries).items()}
        report: dict[str, Any] = {
            "source": (
                f"dicom-scp:{scp[0]}:{scp[1]}" if scp else kind if folder is None
                else f"folder:{folder}"
            ),  # fmt: skip
            "speed": speed or "max",
            **stats.to_json(),
            "consent": {
                purpose: {"permit": gate.permitted, "deny": gate.denied}
                for purpose, gate in (
                    ("TREAT", stages.treatment_gate),
                    ("HRESCH", stages.research_gate),
                )
            },
            "released_research": stages.release.released,
            "scores": stages.score_sink.scores,
            "alerts": stages.score_sink.alerts,
            "accounting": accounting,
            "audit_entries_appended": log.size - first_entry,
        }
        if mllp is not None:  # answered AA/AE/AR, duplicates, spool (no PHI)
            from clinflow.ehr.hl7.mllp import MllpSource

            report["source"] = f"mllp:{mllp[0]}:{mllp[1]}"
            if isinstance(feed, MllpSource):
                report["mllp"] = dataclasses.asdict(feed.stats)
        if kind == "hl7":  # messages read, accepted, duplicates, quarantined
            from clinflow.ehr.hl7.file_source import Hl7FileSource

            report["source"] = f"hl7:{folder}"
            if isinstance(feed, Hl7FileSource):
                report["hl7_file"] = dataclasses.asdict(feed.stats)
        if isinstance(feed, sources.FolderSource):
            # paths not read as inputs (symlink loops, dangling links...): named, not silent
            report["source_skipped"] = list(feed.stats.skipped)
        fhir_stats = getattr(feed, "stats", None) if endpoint else None
        if fhir_stats is not None:  # requests, retries, export polls, errors (PHI-free)
            report["source"] = fhir_stats.system
            report["fhir_source"] = fhir_stats.to_json()
        if kind == "stow":  # instances picked up from the STOW-RS spool, resumed, released
            from clinflow.runtime.dicom_stow import StowSource

            if isinstance(feed, StowSource):
                report["dicom_stow"] = dataclasses.asdict(feed.stats)
        if scp is not None:
            from clinflow.runtime.dicom_scp import DicomScpSource

            if isinstance(feed, DicomScpSource):
                report["dicom_scp"] = {
                    "ae_title": ae_title, **dataclasses.asdict(feed.stats),
                }  # fmt: skip
    (root.root / RUN_REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _table(runtime: Any, elapsed: float) -> Table:
    table = Table(title=f"clinflow run — {elapsed:6.1f} s", show_lines=False)
    for column in ("hop", "received", "emitted", "rejected", "dup", "queue", "per s"):
        table.add_column(column, justify="left" if column == "hop" else "right")
    depths = runtime.queue_depths()
    for name in runtime.graph.order():
        hop = runtime.stats.hops[name]
        rate = hop.received / elapsed if elapsed > 0 else 0.0
        table.add_row(
            name,
            str(hop.received),
            str(hop.emitted),
            str(hop.rejected),
            str(hop.duplicates),
            str(depths.get(name, 0)),
            f"{rate:,.0f}",
        )
    return table


def _render(report: dict[str, Any]) -> None:
    table = Table(title=f"clinflow run: {report['inputs']} inputs in {report['seconds']} s "
                  f"(stopped by {report['stopped_by']})")  # fmt: skip
    for column in ("hop", "received", "emitted", "rejected", "duplicates", "busy s"):
        table.add_column(column, justify="left" if column == "hop" else "right")
    for name, hop in report["hops"].items():
        table.add_row(name, *(str(hop[k]) for k in ("received", "emitted", "rejected",
                                                    "duplicates", "busy_s")))  # fmt: skip
    console.print(table)
    for kind, account in report["accounting"].items():
        state = "balanced" if account["balanced"] else "NOT BALANCED"
        console.print(
            f"{kind}: ingested {account['ingested']} = released {account['released']} + "
            f"denied {account['denied']} + quarantined {account['quarantined']} ({state})"
        )
    for hop, latency in report["latency"].items():
        console.print(
            f"latency to {hop}: p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms"
            if latency["count"]
            else f"latency to {hop}: no outputs"
        )
