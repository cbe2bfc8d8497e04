"""SIGINT/SIGTERM for a whole ``clinflow run``, not only while its event loop runs.

The embedded runtime drains on SIGINT/SIGTERM through the event loop's signal handlers. A
signal that arrives before the loop runs (imports, opening the stores, building the
source: seconds on a loaded machine) or after it ended (writing the report) found the
default disposition and killed the process with -15: an orchestrator stopping a run at
the wrong moment saw a failure and no report. ``StopSignals`` remembers such a signal; the
run then stops at once when its loop starts, or finishes its report and exits 0.
"""

from __future__ import annotations

import signal
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Remember the first SIGINT/SIGTERM outside the event loop (``received``)."""

    def __init__(self) -> None:
        self.received: str | None = None

    def install(self) -> StopSignals:
        """Take SIGINT/SIGTERM now (again after an event loop gave them back)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._note)
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name
