"""What a replay measures while it runs: the open-loop feed, latency per output from its
scheduled arrival to its sink (HDR histograms), throughput and queue depth over time, and
outputs that reach a sink twice.

Latency is taken from ``ingest_time``, which the feed sets to the input's SCHEDULED arrival
(``replay_load.arrival_envelope``) and every derived envelope carries along: when the pipeline
(or the load generator sharing its process) falls behind, the wait counts (no coordinated
omission). Histograms: ``hdrhistogram`` (microseconds, 1 µs to 1 h), 3 significant digits
over the run, 2 per time bucket.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hdrh.histogram import HdrHistogram

from clinflow.envelope import Envelope
from clinflow.runtime.replay_load import Scheduled, arrival_envelope
from clinflow.runtime.replay_report import LatencySummary
from clinflow.runtime.replay_spec import FaultKind

MAX_US = 3_600_000_000  # 1 h
YIELD_EVERY = 256
MIN_SLEEP_S = 0.0005


def histogram(digits: int = 3) -> HdrHistogram:
    return HdrHistogram(1, MAX_US, digits)


def summarize(hist: HdrHistogram) -> LatencySummary:
    count = int(hist.get_total_count())
    if not count:
        return LatencySummary(
            count=0, p50_ms=None, p90_ms=None, p99_ms=None, p999_ms=None, max_ms=None, mean_ms=None
        )

    def ms(value: float) -> float:
        return round(value / 1000.0, 3)

    return LatencySummary(
        count=count,
        p50_ms=ms(hist.get_value_at_percentile(50)),
        p90_ms=ms(hist.get_value_at_percentile(90)),
        p99_ms=ms(hist.get_value_at_percentile(99)),
        p999_ms=ms(hist.get_value_at_percentile(99.9)),
        max_ms=ms(hist.get_max_value()),
        mean_ms=ms(hist.get_mean_value()),
    )


@dataclass
class ReplayMetrics:
    """Filled by the feed (``paced``), the runtime's terminal callback (``on_terminal``) and
    the queue sampler; ``bucket_s`` is the timeline's resolution."""

    bucket_s: float = 1.0
    start_epoch: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    latency: dict[str, HdrHistogram] = field(default_factory=dict)
    latency_by_bucket: dict[str, dict[int, HdrHistogram]] = field(default_factory=dict)
    completed: dict[str, Counter[int]] = field(default_factory=dict)
    offered: Counter[int] = field(default_factory=Counter)
    fed: Counter[int] = field(default_factory=Counter)
    queue_depth: Counter[int] = field(default_factory=Counter)  # max per bucket
    generator_lag: HdrHistogram = field(default_factory=histogram)
    fed_total: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    expected: set[str] = field(default_factory=set)  # source inputs' message ids
    locations: dict[str, str] = field(default_factory=dict)  # source id -> path (leak scan)
    sink_seen: dict[str, set[str]] = field(default_factory=dict)
    sink_duplicates: Counter[str] = field(default_factory=Counter)
    at_hop: dict[str, HdrHistogram] = field(default_factory=dict)  # arrival -> hop starts it
    due: dict[str, float] = field(default_factory=dict)  # message id -> first scheduled at_s

    @property
    def start_wall(self) -> datetime:
        return datetime.fromtimestamp(self.start_epoch, UTC)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _bucket(self, seconds: float) -> int:
        return max(0, int(seconds / self.bucket_s))

    # ----- the feed -------------------------------------------------------------------------
    def note_fed(self, scheduled: Scheduled, lag_s: float) -> None:
        self.fed_total += 1
        self.offered[self._bucket(scheduled.at_s)] += 1
        self.fed[self._bucket(scheduled.at_s + max(0.0, lag_s))] += 1
        self.generator_lag.record_value(min(MAX_US, max(1, int(lag_s * 1e6))))
        envelope = scheduled.envelope
        self.due.setdefault(envelope.message_id, scheduled.at_s)
        if scheduled.fault is not None:
            self.injected[scheduled.fault.value] += 1
        if scheduled.fault in (None, FaultKind.REORDER, FaultKind.MALFORMED):
            self.expected.add(envelope.message_id)
            path = envelope.attributes.get("path")
            if path is not None:
                self.locations[envelope.message_id] = path

    # ----- the sinks ------------------------------------------------------------------------
    def on_terminal(self, hop: str, envelope: Envelope) -> None:
        """The runtime's terminal callback: one output reached the sink ``hop``."""
        self.record_latency(hop, envelope.message_id, envelope.ingest_time.timestamp(), time.time())

    def record_latency(self, hop: str, message_id: str, due: float, now: float) -> None:
        """An output reached the sink ``hop`` at ``now``; its input was due at ``due``
        (both epoch seconds)."""
        seen = self.sink_seen.setdefault(hop, set())
        if message_id in seen:
            self.sink_duplicates[hop] += 1
        else:
            seen.add(message_id)
        micros = min(MAX_US, max(1, int((now - due) * 1e6)))
        total = self.latency.get(hop)
        if total is None:
            total = self.latency[hop] = histogram()
            self.latency_by_bucket[hop] = {}
            self.completed[hop] = Counter()
        total.record_value(micros)
        bucket = self._bucket(due - self.start_epoch)
        by_bucket = self.latency_by_bucket[hop]
        hist = by_bucket.get(bucket)
        if hist is None:
            hist = by_bucket[bucket] = histogram(2)
        hist.record_value(micros)
        self.completed[hop][self._bucket(now - self.start_epoch)] += 1

    def on_hop(self, hop: str, envelope: Envelope) -> None:
        """A hop starts processing ``envelope``: time since its scheduled arrival."""
        hist = self.at_hop.get(hop)
        if hist is None:
            hist = self.at_hop[hop] = histogram(2)
        since = time.time() - envelope.ingest_time.timestamp()
        hist.record_value(min(MAX_US, max(1, int(since * 1e6))))

    def note_queue_depth(self, depth: int) -> None:
        bucket = self._bucket(self.elapsed())
        self.queue_depth[bucket] = max(self.queue_depth[bucket], depth)

    def p99_so_far(self) -> float | None:
        values = [
            h.get_value_at_percentile(99) for h in self.latency.values() if h.get_total_count()
        ]
        return max(values) / 1000.0 if values else None


async def paced(items: Iterator[Scheduled], metrics: ReplayMetrics) -> AsyncIterator[Envelope]:
    """Hand inputs out at their scheduled times (open loop). A late input goes out at once
    with its scheduled ``ingest_time``; the loop is handed over every ``YIELD_EVERY`` inputs
    when nothing needs waiting for, so the runtime's hops take whole batches."""
    start = metrics.start_wall
    count = 0
    for scheduled in items:
        delay = scheduled.at_s - metrics.elapsed()
        if delay > MIN_SLEEP_S:
            await asyncio.sleep(delay)
        elif count % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        count += 1
        metrics.note_fed(scheduled, metrics.elapsed() - scheduled.at_s)
        yield arrival_envelope(scheduled, start)


async def sample_queues(runtime: object, metrics: ReplayMetrics, every_s: float = 0.25) -> None:
    """Until cancelled: the sum of the runtime's hop queue depths, every ``every_s``."""
    depths = getattr(runtime, "queue_depths", None)
    while callable(depths):
        metrics.note_queue_depth(sum(depths().values()))
        await asyncio.sleep(every_s)


class TimedStage:
    """A hop's stage, wrapped to note when each input reaches it (per-hop latency); every
    other attribute (``flush``, counters) is the stage's own."""

    def __init__(self, inner: Any, hop: str, metrics: Callable[[], ReplayMetrics]) -> None:
        self._inner = inner
        self._hop = hop
        self._metrics = metrics

    def process(self, envelope: Envelope) -> list[Envelope]:
        self._metrics().on_hop(self._hop, envelope)
        result: list[Envelope] = self._inner.process(envelope)
        return result

    def apply(self, envelope: Envelope, outcome: Any) -> list[Envelope]:
        """A stage computed in worker processes (ADR 0112): its in-process half."""
        self._metrics().on_hop(self._hop, envelope)
        result: list[Envelope] = self._inner.apply(envelope, outcome)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
