"""``kill-worker@T`` on the embedded runtime needs ``--deid-workers``: there is no process to
kill otherwise. (The kill itself, a FHIR de-identification worker process ``kill -9``'d
mid-run and replaced by the pool with nothing lost, is part of the every-fault replay in
``test_replay_run.py``.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from clinflow.errors import ConfigError
from clinflow.runtime.replay import ReplayOptions, run_replay


def test_kill_worker_on_the_embedded_runtime_needs_de_identification_workers(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="--deid-workers 1 or more"):
        run_replay(ReplayOptions(source="icu-ward", report_dir=tmp_path / "r",
                                 faults="kill-worker@3s"))  # fmt: skip
    assert not (tmp_path / "r").exists()
