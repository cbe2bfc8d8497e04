"""Audit buffers: collect AuditEvents and hand them over in group commits — per batch for
batch stages (``BufferedSink``), per request for services on an event loop (``RequestAudit``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from clinflow.interfaces import AuditSink, append_all


class BufferedSink:
    """Collects AuditEvents and hands them to the real sink in batches (one commit each).

    ``append`` returns -1: the leaf index is not known until ``flush``. Callers that need
    "acknowledged means durable" per event must append to the log directly; batch stages
    flush before they report success.
    """

    def __init__(self, sink: AuditSink, batch: int = 256) -> None:
        self.sink = sink
        self.batch = batch
        self.pending: list[dict[str, object]] = []

    def append(self, event: Mapping[str, Any]) -> int:
        self.pending.append(dict(event))
        if len(self.pending) >= self.batch:
            self.flush()
        return -1

    def flush(self) -> None:
        if not self.pending:
            return
        append_all(self.sink, self.pending)
        self.pending = []

    def take(self) -> list[dict[str, object]]:
        """Hand over what is pending (the caller commits it); the buffer starts empty."""
        pending, self.pending = self.pending, []
        return pending


class AsyncAuditLog(Protocol):
    """What ``RequestAudit`` needs of the log: blocking and awaitable durable appends."""

    def append(self, event: Mapping[str, Any]) -> int: ...

    def append_many(self, events: Iterable[Mapping[str, Any]]) -> list[int]: ...

    async def append_many_async(self, events: Iterable[Mapping[str, Any]]) -> list[int]: ...


_COLLECTING: ContextVar[list[Mapping[str, Any]] | None] = ContextVar(
    "clinflow_request_audit", default=None
)


class RequestAudit:
    """The audit sink of a service whose request handlers run on an event loop.

    Inside ``collect()`` (one request's handler, in its task's context), ``append`` only
    collects the event — the handler may hold a state lock, which must not be held across an
    fsync — and returns -1; the handler then awaits ``commit`` before it responds, so the
    response still leaves only once its entries are durable (ADR 0011), and the loop serves
    other requests meanwhile: the entries of many requests share one group commit (ADR 0015).
    Outside ``collect()`` it appends to the log directly (blocking until durable).
    """

    def __init__(self, log: AsyncAuditLog) -> None:
        self.log = log

    def append(self, event: Mapping[str, Any]) -> int:
        pending = _COLLECTING.get()
        if pending is None:
            return self.log.append(event)
        pending.append(event)
        return -1

    def append_many(self, events: Iterable[Mapping[str, Any]]) -> list[int]:
        pending = _COLLECTING.get()
        if pending is None:
            return self.log.append_many(events)
        before = len(pending)
        pending.extend(events)
        return [-1] * (len(pending) - before)

    @contextmanager
    def collect(self) -> Iterator[list[Mapping[str, Any]]]:
        """Collect what the code inside appends (this context only) for ``commit``."""
        pending: list[Mapping[str, Any]] = []
        token = _COLLECTING.set(pending)
        try:
            yield pending
        finally:
            _COLLECTING.reset(token)

    async def commit(self, pending: list[Mapping[str, Any]]) -> None:
        """Make the collected events durable (``AuditUnavailable`` when they could not be)."""
        if pending:
            await self.log.append_many_async(pending)


def request_audit(sink: AuditSink | None) -> AuditSink | None:
    """``sink`` as a ``RequestAudit`` when it can append asynchronously (the AuditLog), else
    unchanged (None, or a plain sink such as a test fake: handlers then block as before)."""
    if sink is None or isinstance(sink, RequestAudit):
        return sink
    if callable(getattr(sink, "append_many_async", None)):
        return RequestAudit(sink)  # type: ignore[arg-type]
    return sink
