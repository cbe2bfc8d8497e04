"""A running embedded runtime's per-hop counters and queue depths, published for other
processes (the dashboard of ``clinflow serve``) in ``<data-dir>/run-status.json``.

The file is rewritten atomically (temporary file, then ``os.replace``) every ``INTERVAL_S``
while a run lasts and once more when it ends (``running: false``). It holds hop names and
counts only, never message ids, payloads or pseudonyms. Cumulative counts over every run are
the ledger's (``Ledger.count``); this file adds what only the running process knows: its
queues and this run's received/emitted/rejected counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

RUN_STATUS = "run-status.json"
INTERVAL_S = 0.5
STALE_S = 5.0  # a "running" file not rewritten for this long belongs to a run that died


class _Hop(Protocol):
    received: int
    emitted: int
    rejected: int
    duplicates: int


class _Stats(Protocol):
    @property
    def hops(self) -> Mapping[str, _Hop]: ...


class _Graph(Protocol):
    def order(self) -> Iterable[str]: ...


class Publishing(Protocol):
    """What a runtime shows: its graph, its counters and its queues."""

    @property
    def graph(self) -> _Graph: ...

    @property
    def stats(self) -> _Stats: ...

    def queue_depths(self) -> dict[str, int]: ...


def snapshot(runtime: Publishing, running: bool, started: float) -> dict[str, Any]:
    """The status document of ``runtime`` now (hop names and counts only)."""
    depths = runtime.queue_depths()
    hops = []
    for name in runtime.graph.order():
        hop = runtime.stats.hops[name]
        hops.append(
            {
                "hop": name,
                "received": hop.received,
                "emitted": hop.emitted,
                "rejected": hop.rejected,
                "duplicates": hop.duplicates,
                "queue": depths.get(name, 0),
            }
        )
    return {
        "running": running,
        "pid": os.getpid(),
        "updated": time.time(),
        "seconds": round(time.monotonic() - started, 3),
        "hops": hops,
    }


def write_status(path: Path, document: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``document`` (readers never see half a file)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(document), encoding="utf-8")
    os.replace(partial, path)


async def publish(runtime: Publishing, path: Path, interval: float = INTERVAL_S) -> None:
    """Rewrite ``path`` every ``interval`` seconds until cancelled, then once more with
    ``running: false``. A failed write (disk full, folder removed) is skipped, never raised:
    the pipeline does not stop for its display."""
    started = time.monotonic()
    try:
        while True:
            with contextlib.suppress(OSError):
                write_status(path, snapshot(runtime, True, started))
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(OSError):
            write_status(path, snapshot(runtime, False, started))


def read_status(path: Path, now: float | None = None) -> dict[str, Any] | None:
    """The last published status, or None (no run published one, or the file is unreadable).
    A ``running`` status older than ``STALE_S`` is reported as not running (``stale``)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("hops"), list):
        return None
    updated = document.get("updated")
    age = (now or time.time()) - updated if isinstance(updated, int | float) else None
    document["stale"] = bool(document.get("running")) and (age is None or age > STALE_S)
    if document["stale"]:
        document["running"] = False
    return document
