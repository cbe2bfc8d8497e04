"""The ``audit-outage`` fault: the audit log does not answer for a while.

``StalledAudit`` stands between the runtime's buffered sink and the deployment's audit log.
A group commit submitted during an outage window completes only once the window has passed,
as a client retrying an unreachable database would; the runtime commits one batch at a time,
so the order of the log is kept. Every hop then waits at its next commit (one commit in flight
per hop), its queue fills, backpressure reaches the feed, and the report shows what an outage
of the audit database costs in latency, and that nothing is lost or written twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from clinflow.interfaces import AuditSink, append_all


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
