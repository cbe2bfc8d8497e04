"""kill -9 during a burst from 64 producers (48 threads appending single entries, 16 asyncio
tasks awaiting ``append_async``): every acknowledged entry is present with the content its
producer appended, the stored log has no gap and verifies (``verify_log`` and the RFC 9162
reference)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from clinflow.audit.store_sqlite import SqliteStore
from clinflow.config import DataDir
from helpers import rfc9162_reference as ref

from .helpers import verify

CHILD = r"""
import asyncio, sys, threading
from clinflow.audit import AuditLog, events
from clinflow.config import DataDir

log = AuditLog.open(DataDir.open(sys.argv[1]), checkpoint_every=300)
lock = threading.Lock()

def acknowledge(index, message_id):
    with lock:  # written only after the append returned: acknowledged
        sys.stdout.write(f"{index} {message_id}\n")
        sys.stdout.flush()

def event(worker, i):
    message_id = f"p{worker}-{i}"
    return message_id, events.ingest(
        patient=f"PT-{worker:016x}", message_id=message_id, source_kind="fhir"
    )

def thread_producer(worker):
    i = 0
    while True:
        message_id, e = event(worker, i)
        acknowledge(log.append(e), message_id)
        i += 1

async def task_producer(worker):
    i = 0
    while True:
        message_id, e = event(worker, i)
        acknowledge(await log.append_async(e), message_id)
        i += 1

async def tasks():
    await asyncio.gather(*(task_producer(48 + w) for w in range(16)))

for worker in range(48):
    threading.Thread(target=thread_producer, args=(worker,), daemon=True).start()
asyncio.run(tasks())
"""


def test_kill_9_during_a_64_producer_burst_loses_no_acknowledged_entry(data_dir: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acknowledged: dict[int, str] = {}
    deadline = time.monotonic() + 60
    try:
        while len(acknowledged) < 2000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            index, message_id = line.split()
            acknowledged[int(index)] = message_id.decode()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    for line in rest.splitlines():
        index, message_id = line.split()
        acknowledged[int(index)] = message_id.decode()
    assert child.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 500, "the child acknowledged too few entries to be a test"
    producers = {message_id.split("-")[0] for message_id in acknowledged.values()}
    assert len(producers) == 64, "not every producer got an acknowledgement"

    deployment = DataDir.open(data_dir)
    store = SqliteStore(deployment.audit_db)
    try:
        stored = {index: entry for index, _, entry in store.iter_entries()}
    finally:
        store.close()
    assert sorted(stored) == list(range(len(stored)))  # no gap, no half-written entry
    for index, message_id in acknowledged.items():
        assert index in stored, f"acknowledged entry {index} lost"
        entity = orjson.loads(stored[index])["entity"]
        assert any(e.get("what", {}).get("identifier", {}).get("value") == message_id
                   for e in entity), f"entry {index} is not {message_id}"  # fmt: skip
    report = verify(deployment)
    assert report.ok, [str(f) for f in report.failures]
    assert report.entries == len(stored)
    # An independent RFC 9162 implementation agrees with every stored checkpoint's root.
    entries = [stored[i] for i in range(len(stored))]
    store = SqliteStore(deployment.audit_db)
    try:
        checkpoints = store.checkpoints()
    finally:
        store.close()
    assert checkpoints
    for checkpoint in checkpoints:
        assert checkpoint.root == ref.mth(entries[: checkpoint.size])
