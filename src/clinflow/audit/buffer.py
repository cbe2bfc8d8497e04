"""An audit buffer for batch stages: collect AuditEvents, hand them over in group commits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
