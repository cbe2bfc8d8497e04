"""The pipeline as a graph of hops, shared by the embedded and the Kafka runtime.

A hop is a named stage (``process(envelope) -> list[Envelope]``) and the hops its outputs go
to. The embedded runtime gives every hop an asyncio task and a bounded queue; the Kafka
runtime gives every hop a topic (``clinflow.<hop>``) and a faust agent. Neither changes the
stages: the graph is the only thing a runtime reads. ``run_through`` runs one envelope through
the graph synchronously, depth first: the reference semantics both runtimes must match (same
outputs at the same terminal hops, order-insensitive).

Idempotency: a hop's outputs are a deterministic function of its input (content-derived
message ids), so a redelivered input yields the same ids; ``Ledger`` remembers which
(hop, message id) pairs completed, so a replayed input is neither processed nor audited twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from clinflow.envelope import Envelope
from clinflow.errors import ConfigError


@runtime_checkable
class Stage(Protocol):
    """What every pipeline stage is: an envelope transformer that knows no runtime.

    It may raise ``InputRejected`` for bad input; the runtime quarantines that envelope
    (with a validation-failure AuditEvent) and goes on with the next one.
    """

    def process(self, envelope: Envelope) -> list[Envelope]: ...


def flush_stage(stage: Stage) -> list[Envelope]:
    """End of a batch: a stage that defers its work (``flush()``) does it now, before the
    runtime commits the audit entries and hands the batch's outputs on. A stage that batches
    its releases (one transaction for the batch) returns from ``flush`` the outputs its
    ``process`` calls deferred; they go on like ``process`` outputs."""
    flush = getattr(stage, "flush", None)
    if not callable(flush):
        return []
    deferred = flush()
    return list(deferred) if deferred else []


def patient_key(envelope: Envelope) -> str:
    """Partition key: the patient's pseudonym keeps a patient's events in order; inputs whose
    patient is not known yet (raw sources) are keyed by their message id."""
    return envelope.patient or envelope.message_id


@dataclass(frozen=True, slots=True)
class Hop:
    name: str
    stage: Stage
    downstream: tuple[str, ...] = ()  # hops that receive every output; () = terminal
    key: Callable[[Envelope], str] = patient_key
    # embedded runtime: a hop off the latency-critical path may wait this long after its
    # first queued input for more, so it and the hops after it work (and commit) in larger
    # batches; 0 = take what is queued now
    linger_s: float = 0.0


@dataclass
class Graph:
    """Hops by name; ``entry`` receives source inputs. Validated on construction."""

    hops: dict[str, Hop]
    entry: str
    closers: list[Callable[[], None]] = field(default_factory=list)  # flush/close at the end

    def __post_init__(self) -> None:
        if self.entry not in self.hops:
            raise ConfigError(f"pipeline graph: entry hop {self.entry!r} is not defined")
        for hop in self.hops.values():
            for name in hop.downstream:
                if name not in self.hops:
                    raise ConfigError(f"pipeline graph: hop {hop.name!r} sends to unknown {name!r}")
        self.order()  # raises on a cycle

    @classmethod
    def of(cls, hops: Iterable[Hop], entry: str) -> Graph:
        return cls({hop.name: hop for hop in hops}, entry)

    def order(self) -> list[str]:
        """Hop names in topological order (upstream first); a cycle is a ``ConfigError``."""
        seen: dict[str, int] = {}  # 1 = on the stack, 2 = done
        ordered: list[str] = []

        def visit(name: str) -> None:
            state = seen.get(name)
            if state == 2:
                return
            if state == 1:
                raise ConfigError(f"pipeline graph: cycle through hop {name!r}")
            seen[name] = 1
            for child in self.hops[name].downstream:
                visit(child)
            seen[name] = 2
            ordered.append(name)

        for name in self.hops:
            visit(name)
        return ordered[::-1]

    def terminals(self) -> list[str]:
        return [name for name, hop in self.hops.items() if not hop.downstream]

    def run_through(self, envelope: Envelope) -> Counter[str]:
        """Run one input through every hop synchronously; counts of outputs per terminal hop."""
        reached: Counter[str] = Counter()
        pending: list[tuple[str, Envelope]] = [(self.entry, envelope)]
        while pending:
            name, item = pending.pop()
            hop = self.hops[name]
            outputs = [*hop.stage.process(item), *flush_stage(hop.stage)]  # a batch of one
            if not hop.downstream:
                reached[name] += len(outputs)
                continue
            for output in outputs:
                pending.extend((child, output) for child in hop.downstream)
        return reached

    def close(self) -> None:
        for closer in self.closers:
            closer()
