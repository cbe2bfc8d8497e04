"""Test doubles for clinflow's injected interfaces."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RecordingAuditSink:
    """A list-backed ``clinflow.interfaces.AuditSink``: keeps a copy of every appended event.

    Only ``append`` (no ``append_many``), so ``interfaces.append_all`` takes its one-by-one
    path; the returned index is the event's position in ``events``, as a log's leaf index.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def append(self, event: Mapping[str, Any]) -> int:
        self.events.append(dict(event))
        return len(self.events) - 1

    def codes(self) -> list[str]:
        """Each event's AuditEvent type code (``code.coding[0].code``), in append order."""
        return [e["code"]["coding"][0]["code"] for e in self.events]
