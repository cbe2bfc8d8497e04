"""kill -9 during a write burst loses no acknowledged entry and leaves a log that verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from clinflow.audit.store_sqlite import SqliteStore
from clinflow.config import DataDir

from .helpers import verify

CHILD = r"""
import sys, threading
from clinflow.audit import AuditLog, events
from clinflow.config import DataDir

log = AuditLog.open(DataDir.open(sys.argv[1]), checkpoint_every=200)
lock = threading.Lock()

def writer(worker):
    i = 0
    while True:
        event = events.ingest(
            patient=f"PT-{worker:016x}", message_id=f"w{worker}-{i}", source_kind="fhir"
        )
        if i % 5 == 0:
            indices = log.append_many([event] * 20)
        else:
            indices = [log.append(event)]
        with lock:  # printed only after append returned: acknowledged
            sys.stdout.write("".join(f"{n}\n" for n in indices))
            sys.stdout.flush()
        i += 1

for worker in range(4):
    threading.Thread(target=writer, args=(worker,), daemon=True).start()
threading.Event().wait()
"""


def test_kill_9_loses_no_acknowledged_entry(data_dir: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acknowledged: set[int] = set()
    deadline = time.monotonic() + 60
    try:
        while len(acknowledged) < 3000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.add(int(line))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    acknowledged.update(int(n) for n in rest.split())
    assert child.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 1000, "the child acknowledged too few entries to be a test"

    deployment = DataDir.open(data_dir)
    store = SqliteStore(deployment.audit_db)
    try:
        size = store.size()
        present = {index for index, _, _ in store.iter_entries()}
    finally:
        store.close()
    assert acknowledged <= present
    assert present == set(range(size))
    report = verify(deployment)
    assert report.ok, [str(f) for f in report.failures]
    assert report.checkpoints >= 1
