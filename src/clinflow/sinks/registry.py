"""Where downstream stores and endpoints register to receive consent retractions.

Any object with a ``name`` and ``retract(RetractionRequest) -> RetractionReport`` (the
``clinflow.interfaces.RetractionTarget`` protocol) can register: the research store and
quarantine here, the scoring endpoints in their own package. A failing target does not stop
the others; its failure is reported (type only, never a message that might carry PHI) so the
revocation receipt shows it and the revocation can be re-run (retraction is idempotent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from clinflow.errors import ConfigError
from clinflow.interfaces import RetractionReport, RetractionRequest, RetractionTarget


@dataclass(frozen=True, slots=True)
class RetractionOutcome:
    target: str
    report: RetractionReport | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class RetractionRegistry:
    """The set of retraction targets, by unique name."""

    def __init__(self) -> None:
        self._targets: dict[str, RetractionTarget] = {}
        self._lock = threading.Lock()

    def register(self, target: RetractionTarget) -> Callable[[], None]:
        """Register ``target``; returns a function that unregisters it."""
        if not isinstance(target, RetractionTarget):
            raise ConfigError(f"{type(target).__name__} is not a RetractionTarget")
        with self._lock:
            if target.name in self._targets and self._targets[target.name] is not target:
                raise ConfigError(f"retraction target {target.name!r} already registered")
            self._targets[target.name] = target

        def unregister() -> None:
            with self._lock:
                self._targets.pop(target.name, None)

        return unregister

    def unregister(self, name: str) -> None:
        """Remove the target registered under ``name`` (no error if there is none)."""
        with self._lock:
            self._targets.pop(name, None)

    def covered_sinks(self) -> set[str]:
        """Lineage sink names the registered targets hold data for (``covers``, else name)."""
        with self._lock:
            targets = list(self._targets.values())
        covered: set[str] = set()
        for target in targets:
            covered.add(target.name)
            covered.update(getattr(target, "covers", ()))
        return covered

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._targets)

    def retract_all(self, request: RetractionRequest) -> list[RetractionOutcome]:
        with self._lock:
            targets = sorted(self._targets.items())
        outcomes: list[RetractionOutcome] = []
        for name, target in targets:
            try:
                outcomes.append(RetractionOutcome(name, target.retract(request)))
            except Exception as exc:  # noqa: BLE001 - one failing sink must not stop the rest
                outcomes.append(RetractionOutcome(name, None, error=type(exc).__name__))
        return outcomes
