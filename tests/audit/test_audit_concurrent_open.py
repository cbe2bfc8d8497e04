"""Several processes opening one new data directory at once (Kafka workers starting together)
all get their stores: creating the same SQLite files concurrently is retried, not fatal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

OPEN = """
import sys, time
from pathlib import Path
from clinflow.config import DataDir
from clinflow.runtime.deployment import Deployment
start = Path(sys.argv[2])
while not start.exists():  # every process imported: open at the same moment
    time.sleep(0.001)
with Deployment.open(DataDir.open(sys.argv[1])) as deployment:
    deployment.audit_log().append_many([])
print("ok")
"""


def test_concurrent_first_opens_all_succeed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env_keys = {"CLINFLOW_PROJECT_KEY": "11" * 32, "CLINFLOW_MASTER_KEY": "22" * 32,
                "CLINFLOW_AUDIT_SIGNING_KEY": "33" * 32}  # fmt: skip
    env = {**os.environ, **env_keys}
    start = tmp_path / "start"
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN, str(data_dir), str(start)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]  # fmt: skip
    time.sleep(4)  # imports done
    start.touch()
    results = [process.communicate(timeout=120) for process in processes]
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0 and stdout.strip() == "ok", stderr[-2000:]
