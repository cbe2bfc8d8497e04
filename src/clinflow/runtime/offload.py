"""FHIR de-identification in worker processes, partitioned by patient (ADR 0110).

De-identifying a FHIR resource costs ~0.2-0.4 ms of pure Python (validation with the
fhir.resources models, the rule walk, free text); in one process it takes most of the CPU
and holds the event loop, so the scoring path waits behind it. ``DeidWorkers`` runs the FHIR
de-identification stage's ``compute`` in N worker processes, each with its own engine,
keyed by the same project key and reading the same patient directory; a patient's messages
always go to the same worker (by pseudonym), as a Kafka partition would, so a worker's
patient index holds its patients. Everything with a side effect stays in the runtime's
process (``FhirDeidStage.apply``: quarantine, AuditEvents, the released envelope, the
ledger), so durability and exactly-once rules do not change.

A worker that dies is replaced and its share of the batch retried once; if the replacement
dies too, the messages are rejected (quarantined, replayable) as a stage error.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import zlib
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from clinflow.envelope import Envelope, SourceKind

if TYPE_CHECKING:
    from clinflow.deid.fhir.io import RunReport, Validation
    from clinflow.deid.fhir.stage import DeidOutcome, FhirDeidStage

_STAGE: FhirDeidStage | None = None  # the worker process's own stage


def _init_worker(data_dir: str, validation: Validation) -> None:
    """Build the worker's FHIR de-identification stage (same policy and keys as the parent)."""
    global _STAGE
    # Ctrl-C reaches the whole process group: the parent drains and then closes the pool,
    # so a worker must not die of it (and print a traceback) while the batch it holds waits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from clinflow.config import DataDir
    from clinflow.crypto.datakeys import DataKeyStore
    from clinflow.crypto.keys import KeyRing
    from clinflow.deid.fhir.engine import build_fhir_deidentifier
    from clinflow.deid.fhir.io import FhirDeidRunner
    from clinflow.deid.fhir.stage import FhirDeidStage, RecordedQuarantine
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.runtime.ingest import PatientDirectory

    root = DataDir.open(Path(data_dir))
    keyring = KeyRing(root.keys)
    pseudonymizer = Pseudonymizer(keyring.project_key())
    datakeys = DataKeyStore(root.datakeys_db, keyring.master_key())
    engine = build_fhir_deidentifier(pseudonymizer, datakeys)
    runner = FhirDeidRunner(engine, RecordedQuarantine(), None, validation)
    directory = PatientDirectory(root.ledger_db, pseudonymizer)
    _STAGE = FhirDeidStage(runner, directory.patient_key)
    # the collector as the embedded runtime sets it (ADR 0103): the engine's long-lived
    # heap out of its sight, young collections every YOUNG_GC_THRESHOLD allocations
    from clinflow.runtime.embedded import YOUNG_GC_THRESHOLD, freeze_long_lived

    freeze_long_lived(collect=True)
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], YOUNG_GC_THRESHOLD), threshold[1], threshold[2])
    _STAGE.warm_up()  # lazy loads (models, name lists) before the run
    freeze_long_lived()


def _ready() -> int:
    return os.getpid()


def _work(items: list[tuple[str, bytes]]) -> tuple[list[DeidOutcome], RunReport]:
    stage = _STAGE
    assert stage is not None, "worker not initialised"
    outcomes = [stage.compute(message_id, payload) for message_id, payload in items]
    return outcomes, stage.take_report()


def parse_deid_workers(text: str) -> int:
    """``--deid-workers``: a count (0 = in-process, the default) or ``auto``: one worker per
    core beyond the first (the runtime's own process keeps one), at least one, at most 4."""
    from clinflow.errors import ConfigError

    if text == "auto":
        return max(1, min(4, (os.cpu_count() or 1) - 1))
    if not text.isdigit() or int(text) > 32:
        raise ConfigError(f"--deid-workers {text!r}: expected a number from 0 to 32 or auto")
    return int(text)


class DeidWorkers:
    """N single-process executors (spawned, not forked: the parent has threads), one per
    partition; ``run(batch)`` returns each FHIR envelope's outcome in batch order."""

    def __init__(self, workers: int, data_dir: Path, validation: Validation) -> None:
        if workers < 1:
            raise ValueError("DeidWorkers needs at least one worker")
        self._args = (str(data_dir), validation)
        self._context = multiprocessing.get_context("spawn")
        self._executors = [self._start() for _ in range(workers)]
        # the workers load the engine (policies, name lists, NLP model) while the parent
        # goes on; ``wait_ready`` waits for them (benchmarks start their clocks after)
        self._warming: list[Future[int]] = [ex.submit(_ready) for ex in self._executors]
        self.restarts = 0

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            1, mp_context=self._context, initializer=_init_worker, initargs=self._args
        )

    def wait_ready(self) -> list[int]:
        """Block until every worker has loaded its engine; their pids."""
        return [future.result() for future in self._warming]

    def pids(self) -> list[int]:
        """The worker processes' pids now, as each reported it once started (after a
        restart: the replacement's, once it has started); the replay's ``kill-worker`` fault
        picks one."""
        return [
            future.result()
            for future in self._warming
            if future.done() and not future.cancelled() and future.exception() is None
        ]

    def partition(self, envelope: Envelope) -> int:
        return zlib.crc32(envelope.patient.encode()) % len(self._executors)

    async def run(self, batch: Sequence[Envelope], report: RunReport) -> list[DeidOutcome | None]:
        """Outcomes aligned with ``batch`` (None for non-FHIR envelopes, which pass through);
        adds the workers' counts (resources, types, quarantined entries) to ``report``."""
        from clinflow.deid.fhir.stage import DeidOutcome

        shares: list[list[int]] = [[] for _ in self._executors]
        for position, envelope in enumerate(batch):
            if envelope.source is SourceKind.FHIR:
                shares[self.partition(envelope)].append(position)
        outcomes: list[DeidOutcome | None] = [None] * len(batch)
        results = await asyncio.gather(
            *(
                self._share(worker, [(batch[i].message_id, batch[i].payload) for i in share])
                for worker, share in enumerate(shares)
                if share
            )
        )
        for _, share_report in results:
            if share_report is not None:
                report.merge(share_report)
        for share, (share_outcomes, _) in zip((s for s in shares if s), results, strict=True):
            for position, outcome in zip(share, share_outcomes, strict=True):
                outcomes[position] = outcome
        return [
            outcome
            if outcome is not None or batch[i].source is not SourceKind.FHIR
            else DeidOutcome(None, error="de-identification worker lost")
            for i, outcome in enumerate(outcomes)
        ]

    async def _share(
        self, worker: int, items: list[tuple[str, bytes]]
    ) -> tuple[list[DeidOutcome | None], RunReport | None]:
        for attempt in range(2):
            executor = self._executors[worker]
            try:
                outcomes, report = await asyncio.wrap_future(executor.submit(_work, items))
                return list(outcomes), report
            except BrokenProcessPool:
                # the worker died (killed, out of memory): replace it -- once, though two
                # batches in flight (the runtime starts the next before applying this one)
                # both see it die -- and retry the share once
                if self._executors[worker] is executor:
                    executor.shutdown(wait=False, cancel_futures=True)
                    self._executors[worker] = replacement = self._start()
                    self._warming[worker] = replacement.submit(_ready)  # its pid (pids())
                    self.restarts += 1
                if attempt:
                    break
        return [None] * len(items), None

    def close(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True, cancel_futures=True)
