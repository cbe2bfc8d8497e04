"""A full disk under concurrent producers (16 threads, 16 asyncio tasks, one entry per call):
every caller whose batch could not be stored gets ``AuditUnavailable`` naming the store, none
waits forever, every acknowledged entry is present with its content, the log verifies, and the
same log takes appends again once the disk has room."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from clinflow.audit.store_sqlite import SqliteStore
from clinflow.config import DataDir

from .helpers import failures, verify

CHILD = r"""
import asyncio, resource, signal, sys, threading
from clinflow.audit import AuditLog, events
from clinflow.config import DataDir
from clinflow.errors import AuditUnavailable

data_dir, limit, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
log = AuditLog.open(DataDir.open(data_dir), checkpoint_every=200)
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
out = threading.Lock()

def say(line):
    with out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

def event(worker, i):
    return f"w{worker}-{i}", events.ingest(
        patient=f"PT-{worker:016x}", message_id=f"w{worker}-{i}", source_kind="fhir")

def thread_producer(worker):
    for i in range(rounds):
        message_id, e = event(worker, i)
        try:
            say(f"ACK {log.append(e)} {message_id}")
        except AuditUnavailable as exc:
            say(f"FAILED {exc}")
            return

async def task_producer(worker):
    for i in range(rounds):
        message_id, e = event(worker, i)
        try:
            say(f"ACK {await log.append_async(e)} {message_id}")
        except AuditUnavailable as exc:
            say(f"FAILED {exc}")
            return

async def tasks():
    await asyncio.gather(*(task_producer(16 + w) for w in range(16)))

threads = [threading.Thread(target=thread_producer, args=(w,)) for w in range(16)]
for thread in threads:
    thread.start()
asyncio.run(tasks())
for thread in threads:
    thread.join()
log.close()
say("DONE")
"""


def _run(data_dir: Path, limit: int, rounds: int) -> tuple[dict[int, str], list[str]]:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir), str(limit), str(rounds)],
        capture_output=True, text=True, timeout=180,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert child.returncode == 0 and "Traceback" not in child.stderr, child.stderr[-2000:]
    lines = child.stdout.splitlines()
    assert lines[-1] == "DONE"  # every producer came back: none left waiting
    acked = {int(line.split()[1]): line.split()[2] for line in lines if line.startswith("ACK")}
    return acked, [line for line in lines if line.startswith("FAILED")]


def test_disk_full_under_concurrent_producers_fails_callers_clearly_and_loses_nothing(
    data_dir: Path,
) -> None:
    deployment = DataDir.open(data_dir)
    acked, failed = _run(data_dir, limit=4_000_000, rounds=10_000)
    assert len(acked) > 200 and len(failed) == 32  # all stopped on the fault, none hung
    for line in failed:
        assert line.startswith("FAILED audit log: entries not stored")
        assert str(deployment.audit_db) in line and "write failed" in line
    store = SqliteStore(deployment.audit_db)
    try:
        stored = {
            index: orjson.loads(entry)["entity"][0]["what"]["identifier"]["value"]
            for index, _, entry in store.iter_entries()
        }
    finally:
        store.close()
    assert {index: stored.get(index) for index in acked} == acked  # no acknowledged entry lost
    assert sorted(stored) == list(range(len(stored)))
    report = verify(deployment)
    assert report.ok, failures(report)
    # room again: the same log takes appends from every producer and still verifies
    again, failed = _run(data_dir, limit=0, rounds=3)
    assert not failed and len(again) == 32 * 3 and min(again) >= len(stored)
    report = verify(deployment)
    assert report.ok and report.unindexed == 0, failures(report)
