"""What the dashboard views compute: the runtime's published status (live_status), rates,
the NEWS2 plot geometry, the replay report listing."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.api.dashboard.plot import (
    HEIGHT,
    MAX_POINTS,
    VITALS_HEIGHT,
    WIDTH,
    news2_plot,
    vitals_plots,
)
from clinflow.api.dashboard.views import RateSampler, replay_reports, report_path, vital_series
from clinflow.runtime.live_status import STALE_S, publish, read_status, write_status
from clinflow.scoring.vitals import Parameter


@dataclass
class _Hop:
    received: int = 0
    emitted: int = 0
    rejected: int = 0
    duplicates: int = 0


@dataclass
class _Stats:
    hops: dict[str, _Hop] = field(default_factory=lambda: {"ingest": _Hop(), "sink": _Hop()})


class _Graph:
    def order(self) -> list[str]:
        return ["ingest", "sink"]


class _Runtime:
    def __init__(self) -> None:
        self.graph, self.stats, self.depths = _Graph(), _Stats(), {"ingest": 0, "sink": 0}

    def queue_depths(self) -> dict[str, int]:
        return dict(self.depths)


def test_a_runtime_publishes_its_hops_while_it_runs_and_once_when_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "run-status.json"
    runtime = _Runtime()

    async def run() -> list[dict[str, object] | None]:
        seen = []
        task = asyncio.create_task(publish(runtime, path, interval=0.01))
        for received in (3, 9):
            runtime.stats.hops["ingest"].received = received
            runtime.depths["sink"] = received * 2
            await asyncio.sleep(0.05)
            seen.append(read_status(path))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    during = asyncio.run(run())
    assert [s["running"] for s in during if s] == [True, True]
    last = during[-1]
    assert last is not None and last["hops"][0] == {
        "hop": "ingest", "received": 9, "emitted": 0, "rejected": 0, "duplicates": 0, "queue": 0,
    }  # fmt: skip
    assert last["hops"][1]["queue"] == 18
    ended = read_status(path)
    assert ended is not None and ended["running"] is False and not ended["stale"]
    assert "PT-" not in path.read_text()  # hop names and counts only
    assert not list(tmp_path.glob(".*.tmp"))  # replaced atomically, nothing left behind


def test_a_status_nobody_rewrites_is_stale_and_garbage_is_no_status(tmp_path: Path) -> None:
    path = tmp_path / "run-status.json"
    write_status(path, {"running": True, "updated": time.time() - STALE_S - 1, "hops": []})
    stale = read_status(path)
    assert stale is not None and stale["running"] is False and stale["stale"] is True
    for garbage in ("", "{", "[]", '{"hops": 3}', "\x00\xff"):
        path.write_text(garbage, encoding="utf-8", errors="surrogateescape")
        assert read_status(path) is None
    assert read_status(tmp_path / "missing.json") is None


def test_rates_are_completions_per_second_over_the_window() -> None:
    sampler = RateSampler(window_s=5.0)
    assert sampler.rates({"ingest": 100}, now=0.0) == {"ingest": 0.0}
    assert sampler.rates({"ingest": 120}, now=2.0) == {"ingest": 10.0}
    assert sampler.rates({"ingest": 150}, now=4.0) == {"ingest": 12.5}
    later = sampler.rates({"ingest": 150, "sink": 7}, now=20.0)  # old samples dropped
    assert later["ingest"] == 0.0 and later["sink"] == 0.0


histories = st.lists(
    st.tuples(st.floats(1.7e9, 1.8e9), st.integers(0, 20)), min_size=1, max_size=1500
)


@settings(max_examples=60, deadline=None)
@given(history=histories, alert_at=st.lists(st.integers(0, 1499), max_size=5))
def test_the_news2_plot_stays_in_its_box_and_keeps_the_peak(
    history: list[tuple[float, int]], alert_at: list[int]
) -> None:
    alerts = [(history[i % len(history)][0], 7, "new", "high") for i in alert_at]
    plot = news2_plot(history, alerts)
    assert plot is not None and plot.count == len(history)
    points = [tuple(map(float, p.split(","))) for p in plot.points.split()]
    assert 1 <= len(points) <= MAX_POINTS
    for x, y in points + [(m.x, m.y) for m in plot.markers]:
        assert 0 <= x <= WIDTH and 0 <= y <= HEIGHT
    top = min(y for _, y in points)  # smaller y is higher on screen: thinning keeps the peak
    assert abs(top - _y_of(plot, max(total for _, total in history))) < 0.11
    assert len(plot.markers) == len(alerts)


def _y_of(plot: object, value: int) -> float:
    ticks = {v: y for y, v in plot.y_ticks}  # type: ignore[attr-defined]
    return float(ticks[0] - value / 20 * (ticks[0] - ticks[20]))


def test_no_history_no_plot() -> None:
    assert news2_plot([], []) is None
    assert vitals_plots({}, (0.0, 1.0)) == []


def _observation(code: str, value: object, when: str, unit: str = "/min") -> dict[str, object]:
    return {
        "resourceType": "Observation", "id": f"obs-{code}-{when}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }  # fmt: skip


def test_vital_signs_are_plotted_on_the_shared_axis_and_bad_ones_left_out() -> None:
    observations = [_observation("8867-4", 80 + i, f"2026-01-05T0{i}:00:00Z") for i in range(5)] + [
        _observation("8867-4", "fast", "2026-01-05T06:00:00Z"),  # refused by scoring too
        _observation("9279-1", 400, "2026-01-05T02:00:00Z"),  # off the chart: clamped
        {"resourceType": "Patient", "id": "x"},
    ]
    series = vital_series(observations)
    assert sorted(series) == [Parameter.HEART_RATE, Parameter.RESPIRATORY_RATE]
    assert [v for _, v in series[Parameter.HEART_RATE]] == [80.0, 81.0, 82.0, 83.0, 84.0]
    start = series[Parameter.HEART_RATE][0][0]
    plots = vitals_plots(series, (start - 3600, start + 8 * 3600))
    assert [p.title for p in plots] == ["respiration rate /min", "pulse /min"]
    for plot in plots:
        for point in plot.points.split():
            x, y = map(float, point.split(","))
            assert 40 < x < WIDTH and 0 <= y <= VITALS_HEIGHT
    assert plots[0].last == 400.0 and plots[1].last == 84.0


def test_replay_reports_under_the_data_dir_only(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for name in ("replays/a", "replays/b/nested", "keys/x"):
        (root / name).mkdir(parents=True)
        (root / name / "report.html").write_text("<h1>report</h1>", encoding="utf-8")
    (root / "replays" / "a" / "report.json").write_text(
        json.dumps({"source": "generator", "rate": "x60", "inputs": {"fed": 5},
                    "run": {"achieved_per_s": 12.0}}), encoding="utf-8",
    )  # fmt: skip
    outside = tmp_path / "elsewhere.html"
    outside.write_text("secret", encoding="utf-8")
    (root / "replays" / "link").mkdir()
    os.symlink(outside, root / "replays" / "link" / "report.html")
    os.utime(root / "replays" / "a" / "report.html", (time.time() + 60, time.time() + 60))
    found = replay_reports(root)
    assert [r.folder for r in found] == ["replays/a", "replays/b/nested"]
    assert found[0].summary == "generator: 5 inputs, rate x60, 12/s"
    assert report_path(root, 0) == root / "replays" / "a" / "report.html"
    assert report_path(root, 2) is None and report_path(root, -1) is None


def test_scoring_store_gives_a_patients_latest_observations_in_arrival_order(
    tmp_path: Path,
) -> None:
    from clinflow.scoring.store import ScoringStore

    store = ScoringStore(tmp_path / "scoring.db")
    try:
        patients = ("PT-00000000000000b2", "PT-00000000000000a1")
        rows = [
            (patients[i % 2], _observation("8867-4", 60 + i, f"2026-01-05T0{i}:00:00Z"))
            for i in range(8)
        ]
        store.append(rows)
        latest = store.observations("PT-00000000000000a1", limit=3)
        assert [o["valueQuantity"]["value"] for o in latest] == [63, 65, 67]  # type: ignore[index]
        assert store.observations("PT-00000000000000ff") == []
    finally:
        store.close()
