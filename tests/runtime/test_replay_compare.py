"""``clinflow replay compare A B``: two reports side by side, regressions flagged (CI gate)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinflow.errors import ConfigError
from clinflow.runtime.replay_compare import compare, load_report
from helpers.cli import run_cli

from .helpers import sample_replay_report


def _write(folder: Path, **figures: float) -> Path:
    folder.mkdir(parents=True)
    report = sample_replay_report(**figures)  # type: ignore[arg-type]
    (folder / "report.json").write_text(report.model_dump_json())
    return folder


def test_the_same_figures_are_no_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _write(tmp_path / "a"), _write(tmp_path / "b", p99_ms=43.0)  # +7.5 % < 10 %
    code, out, _ = run_cli(capsys, "replay", "compare", str(a), str(b))
    assert code == 0 and "no regression" in out


def test_an_injected_latency_regression_is_flagged_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _write(tmp_path / "a"), _write(tmp_path / "b", p99_ms=80.0)
    code, out, _ = run_cli(capsys, "replay", "compare", str(a), str(b / "report.json"))
    assert code == 1
    flagged = {r.figure for r in compare(load_report(a), load_report(b)) if r.regressed}
    assert flagged == {"score-sink p50 ms", "score-sink p99 ms", "score-sink max ms"}
    assert "REGRESSION" in out and "score-sink p99 ms" in out


def test_any_correctness_change_for_the_worse_is_flagged() -> None:
    a, b = sample_replay_report(), sample_replay_report(lost=1, per_s=600.0)
    rows = {r.figure: r for r in compare(a, b, tolerance=0.5)}
    assert rows["lost"].regressed and rows["all checks passed"].regressed
    assert not rows["inputs/s achieved"].regressed  # faster is not a regression
    slower = {r.figure: r for r in compare(a, sample_replay_report(per_s=400.0), 0.1)}
    assert slower["inputs/s achieved"].regressed


def test_a_file_that_is_no_report_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "report.json"
    bad.write_text('{"schema_version": "1"}')
    with pytest.raises(ConfigError, match=r"report.json: not a replay report"):
        load_report(bad)
    with pytest.raises(ConfigError, match="no replay report there"):
        load_report(tmp_path / "missing")
