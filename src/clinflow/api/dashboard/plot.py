"""Inline SVG geometry for the patient view: NEWS2 over time with the alerts raised on it.

Only coordinates and numbers leave this module (the template draws them), so the plot needs no
script and no stylesheet from outside the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

WIDTH, HEIGHT = 720, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 40, 12, 12, 28
MAX_POINTS = 400  # a long history is thinned to this many points (the peaks are kept)
NEWS2_MAX = 20


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: float
    label: str  # e.g. "new high 8 at 2026-01-05 09:00"
    band: str


@dataclass(frozen=True, slots=True)
class Plot:
    width: int
    height: int
    points: str  # polyline "x,y x,y ..."
    markers: tuple[Marker, ...]
    y_ticks: tuple[tuple[float, int], ...]  # (y, NEWS2 value)
    x_labels: tuple[tuple[float, str], ...]  # (x, time)
    bands: tuple[tuple[float, float, str], ...]  # (y top, height, risk band) shaded rows
    count: int


def _thin(series: list[tuple[float, int]], limit: int) -> list[tuple[float, int]]:
    """At most ``limit`` points: the maximum of each run of consecutive points."""
    if len(series) <= limit:
        return series
    step = len(series) / limit
    out = []
    for i in range(limit):
        chunk = series[int(i * step) : int((i + 1) * step)] or series[-1:]
        out.append(max(chunk, key=lambda point: point[1]))
    return out


def _label(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def news2_plot(
    history: list[tuple[float, int]], alerts: list[tuple[float, int, str, str]]
) -> Plot | None:
    """The plot of ``history`` ((epoch s, NEWS2 total), in time order) with ``alerts``
    ((epoch s, total, kind, band)); None when there is nothing to draw."""
    if not history:
        return None
    series = _thin(sorted(history), MAX_POINTS)
    start = series[0][0]
    end = max(series[-1][0], *(a[0] for a in alerts)) if alerts else series[-1][0]
    span = max(end - start, 1.0)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(epoch: float) -> float:
        return round(PAD_LEFT + (epoch - start) / span * inner_w, 1)

    def y(total: int) -> float:
        return round(PAD_TOP + (1 - min(total, NEWS2_MAX) / NEWS2_MAX) * inner_h, 1)

    markers = tuple(
        Marker(x(t), y(total), f"{kind} {band} alert, NEWS2 {total} at {_label(t)}", band)
        for t, total, kind, band in alerts
    )
    bands = (
        (y(NEWS2_MAX), y(7) - y(NEWS2_MAX), "high"),
        (y(7), y(5) - y(7), "medium"),
    )
    return Plot(
        width=WIDTH,
        height=HEIGHT,
        points=" ".join(f"{x(t)},{y(total)}" for t, total in series),
        markers=markers,
        y_ticks=tuple((y(v), v) for v in (0, 5, 7, 10, 15, 20)),
        x_labels=((x(start), _label(start)), (x(end), _label(end))),
        bands=bands,
        count=len(history),
    )
