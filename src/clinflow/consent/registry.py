"""The consent registry: versioned history per patient plus a decision cache.

Consent events (grant, update, revoke) are appended to a ``ConsentStore``; each append bumps
the patient's version. Decisions are cached per patient keyed by (purpose, categories,
recipient, action, time segment) — a time segment is the span between two consecutive period
boundaries of the patient's consents, inside which the answer cannot change. Before answering,
the registry asks the store whether anyone appended (``ConsentStore.changed()``), and
replays new rows, dropping the cache of every patient they touch: a revocation recorded by any
process invalidates cached decisions at once.
"""

from __future__ import annotations

import threading
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from clinflow.consent.decision import (
    Decision,
    DecisionQuery,
    Revocation,
    evaluate,
    revocation_in_force,
)
from clinflow.consent.model import ConsentRecord, parse_consent
from clinflow.consent.policy import ConsentPolicy
from clinflow.consent.store import ConsentStore, HistoryRow

Clock = Callable[[], datetime]
_MAX_CACHED_PER_PATIENT = 512
_LOCK_STRIPES = 64


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PatientConsents:
    """What the registry holds for one patient, rebuilt from history rows."""

    version: int = 0
    consents: dict[str, ConsentRecord] = field(default_factory=dict)
    revocations: list[Revocation] = field(default_factory=list)
    boundaries: list[datetime] = field(default_factory=list)
    cache: dict[tuple[Any, ...], Decision] = field(default_factory=dict)

    def apply(self, row: HistoryRow) -> None:
        self.version = max(self.version, row.version)
        if row.kind == "consent":
            record = parse_consent(row.body["resource"])
            self.consents[record.consent_id] = record  # a later version replaces the earlier
        elif row.kind == "revocation":
            self.revocations.append(_revocation_from_body(row.patient, row.body))
        bounds = {b for c in self.consents.values() for b in c.boundaries()}
        self.boundaries = sorted(bounds)
        self.cache.clear()


def _consent_body(record: ConsentRecord) -> dict[str, Any]:
    """The history row body of a consent event (``PatientConsents.apply`` reads it back)."""
    return {"resource": dict(record.raw), "fhir_version": record.fhir_version.value}


def _revocation_from_body(patient: str, body: dict[str, Any]) -> Revocation:
    return Revocation(
        revocation_id=body["revocation_id"],
        patient=patient,
        purposes=frozenset(body["purposes"]),
        effective_at=datetime.fromisoformat(body["effective_at"]),
        retroactive=bool(body.get("retroactive", True)),
    )


class ConsentRegistry:
    """Decisions over a patient's consent history, cached and invalidated by new events."""

    def __init__(self, store: ConsentStore, policy: ConsentPolicy, clock: Clock = utc_now) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self._patients: dict[str, PatientConsents] = {}
        self._lock = threading.RLock()
        self._seen_seq = store.last_seq()
        self._patient_locks = tuple(threading.RLock() for _ in range(_LOCK_STRIPES))
        self.cache_hits = 0
        self.cache_misses = 0

    def patient_lock(self, patient: str) -> threading.RLock:
        """A lock a sink holds across check-and-write and a revocation across record-and-purge.

        It closes the window where a message passes the check, the revocation sweeps the
        stores, and only then the message is written (embedded runtime; see ADR 0041).
        """
        return self._patient_locks[hash(patient) % _LOCK_STRIPES]

    @contextmanager
    def patient_locks(self, patients: Iterable[str]) -> Iterator[None]:
        """Hold the ``patient_lock`` of every one of ``patients``, always taken in one global
        order, so two holders of several (a batch's release, a sweep of a patient and the
        records merged into it) cannot deadlock."""
        locks = {id(lock): lock for lock in map(self.patient_lock, patients)}
        with ExitStack() as stack:
            for key in sorted(locks):
                stack.enter_context(locks[key])
            yield

    # ------------------------------------------------------------------ events in

    def add_consent(self, patient: str, record: ConsentRecord) -> int:
        """Append a Consent (new or a new version of one) for a pseudonymous patient."""
        return self._append(patient, "consent", record.consent_id, _consent_body(record))

    def add_consents(self, items: Iterable[tuple[str, ConsentRecord]]) -> int:
        """Bulk-append (patient, consent) pairs in one transaction (SQLite store only)."""
        append_many = getattr(self.store, "append_many", None)
        if append_many is None:
            return sum(1 for patient, record in items if self.add_consent(patient, record))
        rows = [
            (patient, "consent", record.consent_id, _consent_body(record))
            for patient, record in items
        ]
        with self._lock:
            count = int(append_many(rows))
            self._sync(force=True)
            return count

    def add_revocation(
        self,
        patient: str,
        purposes: Iterable[str],
        *,
        retroactive: bool = True,
        effective_at: datetime | None = None,
        revocation_id: str | None = None,
    ) -> Revocation:
        """Record that the patient withdraws ``purposes``; returns the revocation."""
        revocation = Revocation(
            revocation_id=revocation_id or f"rev-{uuid.uuid4().hex[:16]}",
            patient=patient,
            purposes=frozenset(purposes),
            effective_at=effective_at or self.clock(),
            retroactive=retroactive,
        )
        body = {
            "revocation_id": revocation.revocation_id,
            "purposes": sorted(revocation.purposes),
            "effective_at": revocation.effective_at.isoformat(),
            "retroactive": revocation.retroactive,
        }
        self._append(patient, "revocation", revocation.revocation_id, body)
        return revocation

    def _append(self, patient: str, kind: str, item_id: str, body: dict[str, Any]) -> int:
        with self._lock:
            row = self.store.append(patient, kind, item_id, body)
            self._sync(force=True)
            return row.version

    # ------------------------------------------------------------------ state out

    def _sync(self, force: bool = False) -> None:
        if not (self.store.changed() or force):
            return
        for row in self.store.rows_since(self._seen_seq):
            state = self._patients.get(row.patient)
            if state is not None:
                state.apply(row)
            self._seen_seq = max(self._seen_seq, row.seq)

    def preload(self) -> int:
        """Load every patient's history in one scan (startup), instead of lazily per patient."""
        with self._lock:
            self.store.changed()
            states: dict[str, PatientConsents] = {}
            seen = self._seen_seq
            for row in self.store.rows_since(0):
                states.setdefault(row.patient, PatientConsents()).apply(row)
                seen = max(seen, row.seq)
            self._patients = states
            self._seen_seq = seen
            return len(states)

    def _state(self, patient: str) -> PatientConsents:
        state = self._patients.get(patient)
        if state is None:
            state = PatientConsents()
            for row in self.store.rows_for(patient):
                if row.seq <= self._seen_seq:
                    state.apply(row)
            self._patients[patient] = state
        return state

    def version(self, patient: str) -> int:
        with self._lock:
            self._sync()
            return self._state(patient).version

    def consents(self, patient: str) -> list[ConsentRecord]:
        with self._lock:
            self._sync()
            return list(self._state(patient).consents.values())

    def revocations(self, patient: str, *, in_force_only: bool = False) -> list[Revocation]:
        with self._lock:
            self._sync()
            state = self._state(patient)
            if not in_force_only:
                return list(state.revocations)
            consents = state.consents.values()
            return [r for r in state.revocations if revocation_in_force(r, consents)]

    def history(self, patient: str) -> list[HistoryRow]:
        return self.store.rows_for(patient)

    def patients(self) -> list[str]:
        return self.store.patients()

    def decide(self, query: DecisionQuery, when: datetime | None = None) -> Decision:
        """The decision in force, from cache when the patient's history is unchanged."""
        when = when or self.clock()
        with self._lock:
            self._sync()
            state = self._state(query.patient)
            segment = bisect_right(state.boundaries, when) if state.boundaries else 0
            key = (query.key(), segment)
            cached = state.cache.get(key)
            if cached is not None:
                self.cache_hits += 1
                return cached
            self.cache_misses += 1
            decision = replace(
                evaluate(
                    query,
                    when,
                    list(state.consents.values()),
                    state.revocations,
                    self.policy,
                ),
                registry_version=state.version,
            )
            if len(state.cache) >= _MAX_CACHED_PER_PATIENT:
                state.cache.clear()
            state.cache[key] = decision
            return decision

    def decide_uncached(self, query: DecisionQuery, when: datetime | None = None) -> Decision:
        """Evaluate from the stored history every time (the baseline the benchmark compares)."""
        when = when or self.clock()
        state = PatientConsents()
        for row in self.store.rows_for(query.patient):
            state.apply(row)
        decision = evaluate(
            query, when, list(state.consents.values()), state.revocations, self.policy
        )
        return replace(decision, registry_version=state.version)
