"""The DICOMweb STOW-RS spool as a source for ``clinflow run --source stow``.

``POST /dicomweb/studies`` on the audit-query API (``clinflow.api.routes.stow``) writes each
accepted Part 10 instance into ``<data-dir>/sources/dicomweb-stow/`` (a ``dicom_scp.Spool``:
content-id names, fsync before the HTTP answer) and this source, in the runtime's process,
polls that folder: spool files left by an earlier run first, then new ones as they arrive,
each yielded as a RAW DICOM envelope exactly as the C-STORE SCP source yields its own, and
deleted once the ledger says the entry hop completed it (``dicom_scp.SpoolReader``, shared).
A study POSTed twice writes the same spool names; the ledger drops the second copy. ADR 0026.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path

from clinflow.envelope import TimedInput
from clinflow.runtime.dicom_scp import Completed, Spool, SpoolCounts, SpoolReader

STOW_SPOOL = Path("sources") / "dicomweb-stow"
SOURCE_NAMES = ("stow", "dicomweb")  # ``--source`` values


def stow_spool(root: Path) -> Path:
    """The STOW-RS spool folder of the deployment whose data directory is ``root``."""
    return root / STOW_SPOOL


@dataclass(slots=True)
class StowStats(SpoolCounts):
    received: int = 0  # spool files that appeared while this run watched the folder


class StowSource:
    """Watch the deployment's STOW-RS spool (every ``poll_s``) and yield each instance."""

    def __init__(
        self, root: Path, *, completed: Completed | None = None, poll_s: float = 0.5
    ) -> None:
        self.spool = Spool(stow_spool(root))
        self.completed = completed
        self.poll_s = poll_s
        self.stats = StowStats()

    def _found(self, count: int) -> None:
        self.stats.received += count

    async def __aiter__(self) -> AsyncGenerator[TimedInput]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        reader = SpoolReader(self.spool, self.stats, self.completed, self.poll_s)
        reader.resume(queue)
        items = reader.envelopes(queue, "dicomweb-stow", on_found=self._found)
        try:
            async for item in items:
                yield item
        finally:
            await items.aclose()
