"""Inline SVG geometry for the patient view: NEWS2 over time with the alerts raised on it, and
the vital signs it is scored from, on one time axis.

Only coordinates and numbers leave this module (the template draws them), so the plots need no
script and no stylesheet from outside the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from clinflow.scoring.vitals import Parameter

WIDTH, HEIGHT, VITALS_HEIGHT = 720, 220, 120
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 40, 12, 12, 28
MAX_POINTS = 400  # a long history is thinned to this many points (the extremes are kept)
NEWS2_MAX = 20

# parameter, label, plotted range, ticks (the NEWS2 band edges, RCP 2017 chart 1)
VITALS: tuple[tuple[Parameter, str, float, float, tuple[float, ...]], ...] = (
    (Parameter.RESPIRATORY_RATE, "respiration rate /min", 4, 40, (8, 20, 25)),
    (Parameter.SPO2, "SpO2 %", 80, 100, (91, 96)),
    (Parameter.SYSTOLIC_BP, "systolic BP mmHg", 60, 230, (90, 110, 220)),
    (Parameter.HEART_RATE, "pulse /min", 30, 180, (40, 90, 130)),
    (Parameter.TEMPERATURE, "temperature °C", 34, 41, (35, 38, 39)),
)


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: float
    label: str  # e.g. "new high alert, NEWS2 8 at 2026-01-05 09:00"
    band: str


@dataclass(frozen=True, slots=True)
class Plot:
    title: str
    width: int
    height: int
    points: str  # polyline "x,y x,y ..."
    markers: tuple[Marker, ...]
    y_ticks: tuple[tuple[float, float], ...]  # (y, value)
    x_labels: tuple[tuple[float, str], ...]  # (x, time)
    bands: tuple[tuple[float, float, str], ...]  # (y top, height, risk band) shaded rows
    count: int
    last: float | None  # the latest value


def _thin(
    series: list[tuple[float, float]], limit: int, extreme: Callable[[float], float]
) -> list[tuple[float, float]]:
    """At most ``limit`` points: of each run of consecutive points, the most extreme one."""
    if len(series) <= limit:
        return series
    step = len(series) / limit
    out = []
    for i in range(limit):
        chunk = series[int(i * step) : int((i + 1) * step)] or series[-1:]
        out.append(max(chunk, key=lambda point: extreme(point[1])))
    return out


def _label(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps (epoch, value) into a plot of ``height`` over [start, end] x [low, high]."""

    start: float
    end: float
    low: float
    high: float
    height: int
    bottom: int = PAD_BOTTOM  # room for the time labels (none under the vital-sign plots)

    def x(self, epoch: float) -> float:
        span = max(self.end - self.start, 1.0)
        return round(PAD_LEFT + (epoch - self.start) / span * (WIDTH - PAD_LEFT - PAD_RIGHT), 1)

    def y(self, value: float) -> float:
        inner = self.height - PAD_TOP - self.bottom
        clamped = min(max(value, self.low), self.high)
        return round(PAD_TOP + (1 - (clamped - self.low) / (self.high - self.low)) * inner, 1)


def news2_plot(
    history: list[tuple[float, int]],
    alerts: list[tuple[float, int, str, str]],
    span: tuple[float, float] | None = None,
) -> Plot | None:
    """NEWS2 totals ((epoch s, total)) with ``alerts`` ((epoch s, total, kind, band)) over
    ``span`` (default: the history's own); None when there is nothing to draw."""
    if not history:
        return None
    ordered = sorted((t, float(v)) for t, v in history)
    start, end = span or time_span([t for t, _ in ordered] + [a[0] for a in alerts])
    frame = _Frame(start, end, 0, NEWS2_MAX, HEIGHT)
    series = _thin(ordered, MAX_POINTS, lambda v: v)
    markers = tuple(
        Marker(frame.x(t), frame.y(total), f"{kind} {band} alert, NEWS2 {total} at {_label(t)}",
               band)
        for t, total, kind, band in alerts
    )  # fmt: skip
    return Plot(
        title="NEWS2",
        width=WIDTH,
        height=HEIGHT,
        points=" ".join(f"{frame.x(t)},{frame.y(v)}" for t, v in series),
        markers=markers,
        y_ticks=tuple((frame.y(v), v) for v in (0, 5, 7, 10, 15, 20)),
        x_labels=((frame.x(start), _label(start)), (frame.x(end), _label(end))),
        bands=(
            (frame.y(NEWS2_MAX), frame.y(7) - frame.y(NEWS2_MAX), "high"),
            (frame.y(7), frame.y(5) - frame.y(7), "medium"),
        ),
        count=len(history),
        last=ordered[-1][1],
    )


def vitals_plots(
    readings: dict[Parameter, list[tuple[float, float]]], span: tuple[float, float]
) -> list[Plot]:
    """One small plot per numeric vital sign that has readings ((epoch s, value)), on the
    time axis ``span`` shared with the NEWS2 plot."""
    plots = []
    for parameter, title, low, high, ticks in VITALS:
        found = sorted(readings.get(parameter, ()))
        if not found:
            continue
        frame = _Frame(span[0], span[1], low, high, VITALS_HEIGHT, bottom=6)
        series = _thin(found, MAX_POINTS, _distance_from((ticks[0] + ticks[-1]) / 2))
        plots.append(
            Plot(
                title=title,
                width=WIDTH,
                height=VITALS_HEIGHT,
                points=" ".join(f"{frame.x(t)},{frame.y(v)}" for t, v in series),
                markers=(),
                y_ticks=tuple((frame.y(v), v) for v in ticks),
                x_labels=(),
                bands=(),
                count=len(found),
                last=found[-1][1],
            )
        )
    return plots


def _distance_from(middle: float) -> Callable[[float], float]:
    return lambda value: abs(value - middle)


def time_span(times: list[float]) -> tuple[float, float]:
    """(first, last) of ``times`` (a zero-length span is drawn one second wide)."""
    return (min(times), max(max(times), min(times) + 1.0))
