"""``kill-worker@T`` on the embedded runtime with ``--deid-workers``: ``kill -9`` of a FHIR
de-identification worker process mid-run; the pool replaces it and recomputes its share,
and the run still loses nothing, duplicates nothing and verifies its audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinflow.errors import ConfigError
from clinflow.runtime.replay import ReplayOptions, run_replay


@pytest.mark.slow  # a worker process loads the de-identification engine (spawn), 8 s of replay
def test_a_de_identification_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    report = run_replay(ReplayOptions(
        source="icu-ward", report_dir=tmp_path / "report", patients=4, seed=4, rate="60/s",
        duration_s=8.0, validation="shallow", deid_workers=1,
        faults="kill-worker@3s; duplicate:ratio=0.02",
    ))  # fmt: skip
    c = report.correctness
    assert report.ok, report.failed_checks
    assert c.lost == 0 and c.duplicated_at_sinks == 0 and c.duplicate_disclosures == 0
    assert c.residual_phi == 0 and c.consent_violations == 0
    assert c.audit_verified is True and c.counts_match_audit
    for kind, account in c.accounting.items():
        assert account.balanced and account.unaccounted == [], kind
    # the killed worker's share was computed again, not quarantined as a stage error
    assert not any("worker" in reason or "stage error" in reason
                   for reason in c.quarantined_by_reason), c.quarantined_by_reason  # fmt: skip
    kill = next(m for m in report.timeline.faults if m.kind == "kill-worker")
    assert kill.at_s == 3.0 and "de-identification worker process" in kill.detail
    assert "(1 restart(s) in the run)" in kill.detail
    assert report.latency["research-release"].count > 0


def test_kill_worker_on_the_embedded_runtime_needs_de_identification_workers(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="--deid-workers 1 or more"):
        run_replay(ReplayOptions(source="icu-ward", report_dir=tmp_path / "r",
                                 faults="kill-worker@3s"))  # fmt: skip
    assert not (tmp_path / "r").exists()
