"""The ``audit-outage`` fault: the audit log does not answer for a while.

``StalledAudit`` stands between the runtime's buffered sink and the deployment's audit log.
A group commit submitted during an outage window completes only once the window has passed,
as a client retrying an unreachable database would; the runtime commits one batch at a time,
so the order of the log is kept. Every hop then waits at its next commit (one commit in flight
per hop), its queue fills, backpressure reaches the feed, and the report shows what an outage
of the audit database costs in latency, and that nothing is lost or written twice.

On ``--runtime kafka`` the workers write the audit log themselves, in their own processes.
The replay starts them with ``worker_graph`` (the deployment's graph, as
``kafka_pipeline.deployment_graph`` builds it) whose audit sink is a ``SwitchedAudit``: while
the replay holds the switch file (``OutageSwitch``) on, a worker's group commit does not reach
the audit store; it retries with backoff (0.05 s doubling to 1 s) until the switch is off,
then commits. The stage thread waits, so the worker neither acknowledges the batch nor sends
its outputs on (its ledger marks come after the commit). This simulates the database being
unreachable at the client; the audit store itself (SQLite or PostgreSQL) is not stopped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinflow.interfaces import AuditSink, append_all

if TYPE_CHECKING:
    from clinflow.runtime.kafka_settings import WorkerGraph

SWITCH_OPTION = "audit_switch"  # the --graph-option naming the switch file
WORKER_GRAPH = "clinflow.runtime.replay_outage:worker_graph"
MAX_BACKOFF_S = 1.0


class StalledAudit:
    """An ``AuditSink`` that holds commits back during ``windows`` ((start, end) in seconds
    of ``elapsed()``); outside them it is the inner sink."""

    def __init__(
        self, inner: AuditSink, windows: list[tuple[float, float]], elapsed: Callable[[], float]
    ) -> None:
        self.inner = inner
        self.windows = windows
        self.elapsed = elapsed
        self.stalled_commits = 0

    def _wait_s(self) -> float:
        now = self.elapsed()
        return max((end - now for start, end in self.windows if start <= now < end), default=0.0)

    def submit_many(self, events: Iterable[Mapping[str, Any]]) -> Future[list[int]]:
        pending = list(events)
        wait = self._wait_s()
        submit = getattr(self.inner, "submit_many", None)
        if wait <= 0 and callable(submit):
            result: Future[list[int]] = submit(pending)
            return result
        self.stalled_commits += wait > 0
        future: Future[list[int]] = Future()

        def commit_later() -> None:
            time.sleep(wait)
            try:
                if callable(submit):
                    indices: list[int] = submit(pending).result()
                else:
                    indices = [self.inner.append(event) for event in pending]
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting runtime
                future.set_exception(exc)
            else:
                future.set_result(indices)

        threading.Thread(target=commit_later, name="audit-outage", daemon=True).start()
        return future

    def append(self, event: Mapping[str, Any]) -> int:
        return self.inner.append(event)

    def append_many(self, events: Iterable[Mapping[str, Any]]) -> list[int]:
        pending = list(events)
        many = getattr(self.inner, "append_many", None)
        if callable(many):
            indices: list[int] = many(pending)
            return indices
        append_all(self.inner, pending)
        return []


class OutageSwitch:
    """The file the replay turns on (exists) during an outage; each worker commit held back
    adds a line to ``<switch>.held`` (appends of a few bytes: whole lines from any process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.held_path = path.with_name(path.name + ".held")

    def on(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("audit store unavailable\n", encoding="utf-8")

    def off(self) -> None:
        self.path.unlink(missing_ok=True)

    @property
    def is_on(self) -> bool:
        return self.path.exists()

    def note_held(self) -> None:
        fd = os.open(self.held_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, b"%d\n" % os.getpid())
        finally:
            os.close(fd)

    def held(self) -> int:
        """How many commits the workers held back so far."""
        try:
            return len(self.held_path.read_bytes().splitlines())
        except FileNotFoundError:
            return 0


class SwitchedAudit:
    """An ``AuditSink`` (in a Kafka worker) whose commits wait while ``switch`` is on, with
    backoff, as a client retrying an unreachable database; then the inner sink commits."""

    def __init__(
        self, inner: AuditSink, switch: OutageSwitch, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.inner = inner
        self.switch = switch
        self.sleep = sleep

    def _wait(self) -> None:
        if not self.switch.is_on:
            return
        self.switch.note_held()
        backoff = 0.05
        while self.switch.is_on:
            self.sleep(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    def append(self, event: Mapping[str, Any]) -> int:
        self._wait()
        return self.inner.append(event)

    def append_many(self, events: Iterable[Mapping[str, Any]]) -> list[int]:
        pending = list(events)
        self._wait()
        many = getattr(self.inner, "append_many", None)
        if callable(many):
            indices: list[int] = many(pending)
            return indices
        return [self.inner.append(event) for event in pending]


def worker_graph(data_dir: Path, options: Mapping[str, str]) -> WorkerGraph:
    """``kafka_pipeline.deployment_graph`` with the audit behind a ``SwitchedAudit`` on the
    switch file of the ``audit_switch`` graph option (the replay's Kafka workers)."""
    from clinflow.runtime.kafka_pipeline import deployment_graph

    switch = OutageSwitch(Path(options[SWITCH_OPTION]))
    rest = {key: value for key, value in options.items() if key != SWITCH_OPTION}
    return deployment_graph(data_dir, rest, lambda audit: SwitchedAudit(audit, switch))
