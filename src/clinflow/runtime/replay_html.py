"""``report.html`` of a replay: one self-contained page (inline CSS and SVG, no script, no
link, no font or image fetched), readable offline and safe to attach anywhere.

Plots: inputs offered and outputs completed per second, latency p50/p99 over time per sink
(by scheduled arrival), the runtime's queue depth; every fault is a red marker (a band for a
ratio fault's span) on each of them. Tables: the checks (correctness beside speed), latency
percentiles, accounting per kind, quarantine reasons, hops, consent decisions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from clinflow.runtime.replay_report import FaultMark, ReplayReport

WIDTH, HEIGHT = 920, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 200, 28, 36
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")
FAULT_COLOUR = "#d62728"

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ddd;padding:3px 8px;
text-align:right} th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
.ok{color:#1a7f37;font-weight:600} .bad{color:#cf222e;font-weight:600}
.note{color:#555;font-size:.9em} svg{display:block;margin:6px 0 14px}
"""


def replay_html(report: ReplayReport) -> str:
    """The whole page for ``report``."""
    timeline = report.timeline
    xs = [i * timeline.bucket_s for i in range(len(timeline.offered))]
    per_s = 1.0 / timeline.bucket_s
    throughput = {
        "offered (inputs/s)": [v * per_s for v in timeline.offered],
        "fed (inputs/s)": [v * per_s for v in timeline.fed],
    }
    for sink, counts in timeline.completed.items():
        throughput[f"{sink} (outputs/s)"] = [v * per_s for v in counts]
    latency: dict[str, list[float | None]] = {}
    for sink in timeline.p99_ms:
        latency[f"{sink} p50"] = list(timeline.p50_ms.get(sink, []))
        latency[f"{sink} p99"] = list(timeline.p99_ms[sink])
    status = (
        '<span class="ok">all checks passed</span>'
        if report.ok
        else '<span class="bad">' + escape("; ".join(report.failed_checks)) + "</span>"
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">",
        f"<title>clinflow replay: {escape(report.source)}</title><style>{_CSS}</style>",
        "</head><body>",
        f"<h1>clinflow replay: {escape(report.source)} ({escape(report.source_kind)}), "
        f"{escape(report.runtime)}</h1>",
        f"<p>{status}</p>",
        _headline(report),
        "<h2>Throughput</h2>",
        line_chart(
            "inputs offered and fed, outputs completed (per second)",
            xs,
            throughput,
            timeline.faults,
        ),
        "<h2>Latency from scheduled arrival to sink</h2>",
        "<p class='note'>Open loop: arrivals were fixed in advance; an input's latency counts "
        "from when it was due, so waiting for a busy pipeline is included. Plotted by the "
        "second the input was due; logarithmic scale.</p>",
        line_chart("latency p50 / p99 (ms)", xs, latency, timeline.faults, log_y=True),
        "<h2>Queue depth</h2>",
        line_chart(
            "inputs waiting in the runtime's hop queues",
            xs,
            {"queued (all hops)": [float(v) for v in timeline.queue_depth]},
            timeline.faults,
        ),
        "<h2>Checks</h2>",
        _checks(report),
        "<h2>Latency percentiles (ms)</h2>",
        _latency_table(report),
        "<h2>Per hop: from scheduled arrival until the hop starts the input (ms)</h2>",
        _hop_latency_table(report),
        "<h2>Accounting (research path, from the audit log)</h2>",
        _accounting(report),
        "<h2>Faults</h2>",
        _faults(report),
        "<h2>Quarantined, by reason</h2>",
        _table(
            ["reason", "inputs"],
            sorted(report.correctness.quarantined_by_reason.items()),
        ),
        "<h2>Hops</h2>",
        _table(
            ["hop", "received", "emitted", "rejected", "already done", "busy s"],
            [
                [name, h.received, h.emitted, h.rejected, h.duplicates, f"{h.busy_s:.2f}"]
                for name, h in report.hops.items()
            ],
        ),
        "<h2>Scoring and alerts</h2>",
        _table(
            ["figure", "count"], [[k.replace("_", " "), v] for k, v in report.scoring.items()]
        ),
        "<h2>Consent decisions</h2>",
        _table(
            ["purpose", "permit", "deny"],
            [[p, d.get("permit", 0), d.get("deny", 0)] for p, d in report.consent.items()],
        ),
        f"<p class='note'>{escape(report.machine.get('note', ''))}</p>",
        f"<p class='note'>report schema {report.schema_version}, clinflow "
        f"{escape(report.clinflow_version)}, started {escape(report.started_at)}</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _headline(report: ReplayReport) -> str:
    run = report.run
    rows = [
        ["source", f"{report.source} ({report.source_kind})"],
        [
            "rate / duration",
            f"{report.rate} / "
            + (f"{report.duration_s:g} s" if report.duration_s is not None else "until the end"),
        ],
        ["faults", report.faults or "none"],
        ["inputs fed", f"{report.inputs.fed} ({report.inputs.source_inputs} from the source)"],
        ["run time", f"{run.seconds:.2f} s (stopped by {run.stopped_by})"],
        [
            "achieved",
            f"{run.achieved_per_s:,.1f} inputs/s"
            + (f" (offered {run.offered_per_s:,.1f}/s)" if run.offered_per_s else ""),
        ],
        ["generator lag p99", _ms(run.generator_lag_ms.p99_ms)],
    ]
    for sink, summary in report.latency.items():
        rows.append(
            [
                f"latency to {sink}",
                f"p50 {_ms(summary.p50_ms)}, p99 {_ms(summary.p99_ms)}, max {_ms(summary.max_ms)}",
            ]
        )
    return _table(["figure", "value"], rows)


def _checks(report: ReplayReport) -> str:
    c = report.correctness
    rows = [
        ("lost inputs", c.lost, c.lost == 0),
        ("outputs duplicated at sinks", c.duplicated_at_sinks, c.duplicated_at_sinks == 0),
        ("repeated disclosures", c.duplicate_disclosures, c.duplicate_disclosures == 0),
        (
            "residual PHI (research store)",
            "not scanned" if c.residual_phi is None else c.residual_phi,
            not c.residual_phi,
        ),
        ("consent violations", c.consent_violations, c.consent_violations == 0),
        (
            f"revoked patients' data left ({c.revoked_patients} revoked)",
            c.revoked_data_remaining,
            c.revoked_data_remaining == 0,
        ),
        (
            "audit log verified",
            "not run" if c.audit_verified is None else ("yes" if c.audit_verified else "NO"),
            c.audit_verified is not False,
        ),
        (
            "released counts = audit disclosures",
            "yes" if c.counts_match_audit else "NO",
            c.counts_match_audit,
        ),
        ("quarantined (expected with faults)", c.quarantined, True),
        ("reprocessed after a redelivery (information)", c.reprocessed, True),
    ]
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(str(value))}</td>"
        f"<td class='{'ok' if ok else 'bad'}'>{'pass' if ok else 'FAIL'}</td></tr>"
        for name, value, ok in rows
    )
    return f"<table><tr><th>check</th><th>value</th><th></th></tr>{body}</table>"


def _latency_table(report: ReplayReport) -> str:
    rows = [
        [sink, s.count, *map(_ms, (s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms))]
        for sink, s in report.latency.items()
    ]
    return _table(["sink", "outputs", "p50", "p90", "p99", "p99.9", "max"], rows)


def _hop_latency_table(report: ReplayReport) -> str:
    rows = [
        [
            hop,
            s.count,
            *map(_ms, (s.p50_ms, s.p99_ms, s.max_ms)),
            f"{report.hops[hop].busy_s:.2f}" if hop in report.hops else "-",
        ]
        for hop, s in report.hop_latency.items()
    ]
    return _table(["hop", "inputs", "p50", "p99", "max", "busy s"], rows)


def _accounting(report: ReplayReport) -> str:
    rows = [
        [kind, a.ingested, a.released, a.denied, a.quarantined, "yes" if a.balanced else "NO"]
        for kind, a in sorted(report.correctness.accounting.items())
    ]
    return _table(["kind", "ingested", "released", "denied", "quarantined", "balanced"], rows)


def _faults(report: ReplayReport) -> str:
    rows = [
        [
            m.kind,
            f"{m.at_s:.2f}",
            "" if m.until_s is None else f"{m.until_s:.2f}",
            m.count,
            m.detail,
        ]
        for m in report.timeline.faults
    ]
    if not rows:
        return "<p>none</p>"
    return _table(["fault", "at s", "until s", "count", "detail"], rows)


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """An HTML table; each cell is written as ``str(cell)``, escaped."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


# ----- SVG ----------------------------------------------------------------------------------------


def line_chart(
    title: str,
    xs: list[float],
    series: Mapping[str, Sequence[float | None]],
    faults: list[FaultMark],
    *,
    log_y: bool = False,
) -> str:
    """An inline SVG line chart; ``None`` values break a line; faults are red markers."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    x_max = max((xs[-1] if xs else 0.0) + (xs[1] - xs[0] if len(xs) > 1 else 1.0), 1e-9)
    values = [v for points in series.values() for v in points if v is not None]
    positive = [v for v in values if v > 0]
    low = math.floor(math.log10(min(positive))) if positive else 0  # log scale: 10^low..
    high = max(math.ceil(math.log10(max(positive))) if positive else 1, low + 1)
    top = _nice(max(values, default=1.0))  # linear scale: 0..top

    def y_of(value: float) -> float:
        if log_y:
            ratio = (math.log10(max(value, 10.0**low)) - low) / (high - low)
        else:
            ratio = value / top
        return TOP + plot_h * (1.0 - ratio)

    def x_of(value: float) -> float:
        return LEFT + plot_w * value / x_max

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='{escape(title)}'>",
        f"<text x='{LEFT}' y='16' font-size='13' font-weight='600'>{escape(title)}</text>",
        f"<rect x='{LEFT}' y='{TOP}' width='{plot_w}' height='{plot_h}' fill='none' "
        "stroke='#999'/>",
    ]
    ticks = [10.0**e for e in range(low, high + 1)] if log_y else [top * i / 4 for i in range(5)]
    for tick in ticks:
        y = y_of(tick)
        out.append(
            f"<line x1='{LEFT}' x2='{LEFT + plot_w}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eee'/>"
        )
        out.append(
            f"<text x='{LEFT - 6}' y='{y + 4:.1f}' font-size='11' "
            f"text-anchor='end'>{_short(tick)}</text>"
        )
    for i in range(6):
        x_value = x_max * i / 5
        x = x_of(x_value)
        out.append(
            f"<text x='{x:.1f}' y='{TOP + plot_h + 16}' font-size='11' "
            f"text-anchor='middle'>{x_value:.0f}s</text>"
        )
    for number, mark in enumerate(faults):
        x = x_of(min(mark.at_s, x_max))
        if mark.until_s is not None and mark.until_s > mark.at_s:
            width = max(1.0, x_of(min(mark.until_s, x_max)) - x)
            out.append(
                f"<rect x='{x:.1f}' y='{TOP}' width='{width:.1f}' height='{plot_h}' "
                f"fill='{FAULT_COLOUR}' opacity='0.05'/>"
            )
        out.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{TOP}' y2='{TOP + plot_h}' "
            f"stroke='{FAULT_COLOUR}' stroke-dasharray='4 3'/>"
        )
        out.append(
            f"<text x='{x + 3:.1f}' y='{TOP + 11 + 11 * (number % 4)}' font-size='10' "
            f"fill='{FAULT_COLOUR}'>{escape(mark.kind)}</text>"
        )
    for number, (name, points) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        segments: list[list[str]] = [[]]
        for x_value, value in zip(xs, points, strict=False):
            if value is None or (log_y and value <= 0):
                segments.append([])
                continue
            segments[-1].append(f"{x_of(x_value):.1f},{y_of(value):.1f}")
        for segment in segments:
            if len(segment) == 1:
                cx, cy = segment[0].split(",")
                out.append(f"<circle cx='{cx}' cy='{cy}' r='2' fill='{colour}'/>")
            elif segment:
                out.append(
                    f"<polyline fill='none' stroke='{colour}' stroke-width='1.6' "
                    f"points='{' '.join(segment)}'/>"
                )
        legend_y = TOP + 12 + 16 * number
        out.append(
            f"<rect x='{WIDTH - RIGHT + 10}' y='{legend_y - 8}' width='10' height='10' "
            f"fill='{colour}'/>"
        )
        out.append(
            f"<text x='{WIDTH - RIGHT + 24}' y='{legend_y + 1}' font-size='11'>"
            f"{escape(name)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _nice(value: float) -> float:
    """A round upper bound for an axis (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if value <= step * power:
            return step * power
    return 10.0 * power


def _short(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"
