"""``clinflow replay SOURCE`` (load runs with faults and a report) and ``clinflow record
SOURCE --out FILE`` (a stream with its timing, in a file that replays byte for byte)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from clinflow.cli_options import JsonReportOption
from clinflow.envelope import TimedInput
from clinflow.runtime.offload import parse_deid_workers
from clinflow.runtime.run_command import (
    DeidWorkersOption,
    ProgressOption,
    RuntimeOption,
    ValidationOption,
    parse_duration,
    parse_validation,
)

if TYPE_CHECKING:
    from clinflow.runtime.embedded import EmbeddedRuntime
    from clinflow.runtime.replay_metrics import ReplayMetrics
    from clinflow.runtime.replay_report import ReplayReport

console = Console()
err_console = Console(stderr=True)

SourceArgument = Annotated[
    str,
    typer.Argument(
        help="A scenario name (icu-ward) or file (synthetic/*.yaml), a generated "
        "cohort folder, or a recording (clinflow record)."
    ),
]
PatientsOption = Annotated[int, typer.Option("--patients", min=1, help="Scenario: cohort size.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Scenario cohort and fault RNG seed.")]


def replay_command(
    source: SourceArgument,
    reports: Annotated[
        list[Path] | None,
        typer.Argument(
            help="With SOURCE 'compare': the baseline and the candidate report "
            "(report.json or its folder).",
            show_default=False,
        ),
    ] = None,
    report: Annotated[
        Path, typer.Option("--report", help="Folder for report.json and report.html.")
    ] = Path("replay-report"),
    runtime: RuntimeOption = "embedded",
    brokers: Annotated[
        str | None,
        typer.Option("--brokers", help="Kafka: HOST:PORT (default: start a local broker)."),
    ] = None,
    broker_storage: Annotated[
        str | None,
        typer.Option(
            "--broker-storage",
            help="Kafka: the local Tansu broker's --storage-engine (default memory://tansu/; "
            "s3://BUCKET/ with AWS_ENDPOINT... keeps topics across a broker-restart fault).",
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Kafka: worker processes.")] = 2,
    partitions: Annotated[
        int, typer.Option("--partitions", min=1, help="Kafka: partitions per topic.")
    ] = 4,
    rate: Annotated[
        str,
        typer.Option(
            "--rate",
            help="Open-loop arrivals: N/s (inputs per second), xN (the "
            "source's own timing N times faster) or max.",
        ),
    ] = "max",
    ramp: Annotated[
        str | None,
        typer.Option("--ramp", help="FROM/s:DURATION: rise linearly from FROM to --rate."),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration",
            help="Schedule inputs for this long (30s, 10m); default: the whole source.",
        ),
    ] = None,
    patients: PatientsOption = 20,
    seed: SeedOption = 7,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            help="e.g. 'malformed:ratio=0.01; duplicate:ratio=0.02; "
            "reorder:ratio=0.05,shift=2s; revoke-storm@10s:patients=50%; audit-outage@20s:for=5s' "
            "; kill-worker@T (kafka, or --deid-workers), broker-restart@T:for=S (kafka, "
            "persistent --broker-storage) (grammar: docs/adr/0073, 0114).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="A FRESH data directory for the run's stores (default: REPORT/data)."
        ),
    ] = None,
    validation: ValidationOption = "input",
    deid_workers: DeidWorkersOption = "0",
    leak_scan: Annotated[
        bool, typer.Option("--leak-scan/--no-leak-scan", help="Scan the research store.")
    ] = True,
    progress: ProgressOption = True,
    as_json: JsonReportOption = False,
    tolerance: Annotated[
        str, typer.Option("--tolerance", help="compare: how much worse a speed figure may be.")
    ] = "10%",
) -> None:
    """Drive the pipeline with a scenario, cohort or recording at a controlled rate, inject
    faults, and report throughput, latency (from scheduled arrival: open loop) and
    correctness (lost, duplicated, quarantined, residual PHI, consent violations, revoked
    data left, audit verified). Exit 1 when a correctness check fails.

    `clinflow replay compare A B`: two reports side by side, regressions of B against A
    flagged (speed beyond --tolerance, correctness on any change); exit 1 when flagged."""
    from clinflow.errors import ConfigError
    from clinflow.runtime.replay import ReplayOptions, run_replay

    if source == "compare":
        _compare(reports or [], tolerance)
        return
    if reports:
        raise ConfigError(f"unexpected argument {str(reports[0])!r} (one SOURCE per replay)")

    checked = parse_validation(validation)
    options = ReplayOptions(
        source=source,
        report_dir=report,
        data_dir=data_dir,
        runtime=runtime,
        rate=rate,
        ramp=ramp,
        duration_s=parse_duration(duration),
        patients=patients,
        seed=seed,
        faults=faults,
        validation=checked,
        deid_workers=parse_deid_workers(deid_workers),
        leak_scan=leak_scan,
        brokers=brokers,
        broker_storage=broker_storage,
        workers=workers,
        partitions=partitions,
    )
    show = progress and not as_json
    if show:
        started = time.perf_counter()
        with Live(console=err_console, refresh_per_second=2) as live:

            def update(metrics: ReplayMetrics, runtime: EmbeddedRuntime) -> None:
                live.update(_progress(metrics, runtime, time.perf_counter() - started))

            result = run_replay(options, update)
    else:
        result = run_replay(options)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        render(result, report)
    if not result.ok:
        raise typer.Exit(1)


def _progress(metrics: ReplayMetrics, runtime: EmbeddedRuntime, elapsed: float) -> Table:
    fed = metrics.fed_total
    p99 = metrics.p99_so_far()
    rejected = sum(h.rejected for h in runtime.stats.hops.values())
    table = Table(title=f"clinflow replay - {elapsed:6.1f} s", show_header=False)
    table.add_row("inputs fed", f"{fed} ({fed / max(metrics.elapsed(), 1e-9):,.0f}/s)")
    for hop, hist in metrics.latency.items():
        table.add_row(f"reached {hop}", str(hist.get_total_count()))
    table.add_row("p99 so far", "-" if p99 is None else f"{p99:,.1f} ms")
    table.add_row("quarantined", str(rejected))
    table.add_row("queued", str(sum(runtime.queue_depths().values())))
    return table


def _compare(reports: list[Path], tolerance_text: str) -> None:
    from clinflow.errors import ConfigError
    from clinflow.runtime.replay_compare import compare, load_report
    from clinflow.runtime.replay_spec import parse_ratio

    if len(reports) != 2:
        raise ConfigError("replay compare: expected two reports, A (baseline) and B")
    tolerance = parse_ratio(tolerance_text, "--tolerance")
    a, b = (load_report(path) for path in reports)
    rows = compare(a, b, tolerance)
    table = Table(
        title=f"replay compare: A {reports[0]} vs B {reports[1]} (tolerance {tolerance:.0%})"
    )
    for column in ("figure", "A", "B", "change", ""):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for row in rows:
        table.add_row(
            row.figure,
            _value(row.a),
            _value(row.b),
            row.change,
            "[red]REGRESSION[/red]" if row.regressed else "ok",
        )
    console.print(table)
    flagged = [row.figure for row in rows if row.regressed]
    if flagged:
        console.print(f"{len(flagged)} regression(s): {', '.join(flagged)}")
        raise typer.Exit(1)
    console.print("no regression")


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render(report: ReplayReport, folder: Path) -> None:
    run = report.run
    table = Table(
        title=f"clinflow replay {report.source}: {report.inputs.fed} inputs in "
        f"{run.seconds:.1f} s ({run.achieved_per_s:,.0f}/s), rate {report.rate}"
    )
    for column in ("sink", "outputs", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "sink" else "right")
    for sink, latency in report.latency.items():
        table.add_row(
            sink,
            str(latency.count),
            *(
                f"{v:,.1f}" if v is not None else "-"
                for v in (latency.p50_ms, latency.p99_ms, latency.max_ms)
            ),
        )
    console.print(table)
    c = report.correctness
    console.print(
        f"lost {c.lost}, duplicated at sinks {c.duplicated_at_sinks}, quarantined "
        f"{c.quarantined}, residual PHI {'-' if c.residual_phi is None else c.residual_phi}, "
        f"consent violations {c.consent_violations}, revoked data left "
        f"{c.revoked_data_remaining} ({c.revoked_patients} patients revoked), audit "
        f"{'verified' if c.audit_verified else 'NOT verified' if c.audit_verified is False else 'not checked'}"  # noqa: E501
    )
    for kind, account in sorted(c.accounting.items()):
        console.print(
            f"{kind}: ingested {account.ingested} = released {account.released} + "
            f"denied {account.denied} + quarantined {account.quarantined}"
            f"{'' if account.balanced else ' (NOT BALANCED)'}"
        )
    for mark in report.timeline.faults:
        console.print(f"fault {mark.kind} at {mark.at_s:.1f} s: {mark.count} ({mark.detail})")
    state = "all checks passed" if report.ok else "FAILED: " + "; ".join(report.failed_checks)
    console.print(f"{state}; report: {folder / 'report.html'}")


def record_command(
    source: SourceArgument,
    out: Annotated[Path, typer.Option("--out", help="The recording file to write.")],
    patients: PatientsOption = 20,
    seed: SeedOption = 7,
    duration: Annotated[
        str | None,
        typer.Option("--duration", help="Keep the first part of the source (source time)."),
    ] = None,
) -> None:
    """Capture a source stream with its timing into a recording (versioned, length-prefixed
    envelopes) that `clinflow replay` replays byte for byte. A scenario's PHI manifest is
    written beside it (OUT.manifest.ndjson) for the replay's leak scan."""
    import shutil

    from clinflow.runtime.recording import copy_recording, is_recording, write_recording
    from clinflow.runtime.replay_load import open_source

    limit = parse_duration(duration)
    sidecar = out.with_name(out.name + ".manifest.ndjson")
    if is_recording(Path(source)):
        if limit is not None:
            from clinflow.errors import ConfigError

            raise ConfigError("--duration: a recording is copied whole (record its source)")
        count = copy_recording(Path(source), out)
        known = Path(source).with_name(Path(source).name + ".manifest.ndjson")
        if known.is_file():
            shutil.copyfile(known, sidecar)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        opened = open_source(source, patients=patients, seed=seed, manifest=sidecar)
        items = opened.items()
        try:
            count = write_recording(out, opened.header, _first(items, limit))
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()  # a scenario stream closes its manifest file
        if opened.manifest is not None and opened.manifest != sidecar:
            shutil.copyfile(opened.manifest, sidecar)
    console.print(f"recorded {count} input(s) to {out}")


def _first(items: Iterator[TimedInput], limit: float | None) -> Iterator[TimedInput]:
    """The items before ``limit`` seconds of source time (the source is in time order)."""
    for item in items:
        if limit is not None and item.at_s >= limit:
            return
        yield item
