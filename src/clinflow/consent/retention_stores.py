"""Retention of the stores held for treatment: the quarantine and the scoring store.

Neither is released under a consent, so neither is judged against one: their basis is
treatment, for the period ``policies/retention.yaml`` declares. ``clinflow retention
enforce --as-of T`` removes what is older than that at T:

- **quarantine** (``<data-dir>/quarantine.db``): an item older than its retention by the time
  it was quarantined is purged as a full revocation purges it (``Quarantine.purge_items``:
  row deleted, bytes overwritten, WAL truncated); when none of the patient's items is left,
  the patient's quarantine data key is destroyed too (crypto-shredding, ADR 0085), so a
  backup copy stays unreadable. Items held without a patient are sealed under the project
  key: they are deleted, not shredded.
- **scoring** (``<data-dir>/scoring.db``): a stored Observation whose clinical time
  (``effectiveDateTime``, ``effectiveInstant``, ``effectivePeriod`` end, else ``issued``) is
  older than the retention is deleted (``ScoringStore.delete_rows``, the WAL truncated
  once at the end). A row with no readable clinical time is kept and counted (``undated``).

Each store's removals for one patient are one ``purge`` AuditEvent (the shape a revocation's
purge has: patient, store, records deleted, reason ``retention-elapsed``), each key
destroyed one ``key-destroy`` AuditEvent. See docs/adr/0094-data-use-agreements.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from clinflow.audit import events as audit_events
from clinflow.consent.retention_report import RetentionReport, StoreReport
from clinflow.consent.revocation import RevocationService
from clinflow.quarantine import QUARANTINE_SCOPE, Quarantine
from clinflow.scoring.store import ScoringStore

QUARANTINE_STORE = "quarantine"
SCORING_STORE = "scoring"
RETENTION_ELAPSED = "retention-elapsed"
AGENT = "clinflow-retention"


def clinical_time(resource: Mapping[str, Any]) -> datetime | None:
    """When an Observation was taken: ``effectiveDateTime``/``effectiveInstant``, the end
    (else start) of ``effectivePeriod``, else ``issued``; a date or a time without a zone
    counts as UTC. None when there is none or it does not parse."""
    period = resource.get("effectivePeriod")
    candidates: list[object] = [resource.get("effectiveDateTime"), resource.get("effectiveInstant")]
    if isinstance(period, Mapping):
        candidates += [period.get("end"), period.get("start")]
    candidates.append(resource.get("issued"))
    for raw in candidates:
        if isinstance(raw, str) and raw:
            return _instant(raw)
    return None


def _instant(raw: str) -> datetime | None:
    text = raw.strip().replace("Z", "+00:00")
    if len(text) == 4:  # FHIR partial dates: a year, a year and month
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ExpiredRows:
    """What a store holds past ``cutoff``: ids per patient (None: held without a patient),
    and how many rows could not be dated (kept)."""

    by_patient: dict[str | None, list[int]]
    undated: int = 0

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.by_patient.values())


class TimedStore(Protocol):
    """A store whose rows expire by age alone (no consent behind them)."""

    name: str
    key_scope: str | None  # the data-key scope its payloads are sealed under, if any
    lists_ids: bool  # the report lists the ids removed (quarantine item ids: no PHI)

    def held(self) -> int: ...
    def expired(self, cutoff: datetime) -> ExpiredRows: ...
    def remove(self, ids: list[int]) -> int: ...
    def holds_for(self, patient: str) -> bool: ...
    def finish(self) -> None: ...  # after the removals (e.g. truncate the WAL once)


class QuarantineRetention:
    """The quarantine, judged by when each item was quarantined."""

    name = QUARANTINE_STORE
    key_scope: str | None = QUARANTINE_SCOPE
    lists_ids = True

    def __init__(self, quarantine: Quarantine) -> None:
        self.quarantine = quarantine

    def held(self) -> int:
        return self.quarantine.count(status=None)

    def expired(self, cutoff: datetime) -> ExpiredRows:
        limit = cutoff.timestamp()
        found: dict[str | None, list[int]] = defaultdict(list)
        for item in self.quarantine.list(status=None):
            if item.created < limit:
                found[item.patient].append(item.id)
        return ExpiredRows(dict(found))

    def remove(self, ids: list[int]) -> int:
        return self.quarantine.purge_items(ids)

    def holds_for(self, patient: str) -> bool:
        return self.quarantine.count_for(patient) > 0

    def finish(self) -> None:
        pass  # purge_items truncated the WAL after each patient's items (sealed payloads)


class ScoringRetention:
    """The scoring store, judged by each Observation's clinical time."""

    name = SCORING_STORE
    key_scope: str | None = None  # rows are minimum-necessary Observations, not sealed
    lists_ids = False  # row numbers mean nothing outside scoring.db; counts per patient

    def __init__(self, store: ScoringStore) -> None:
        self.store = store

    def held(self) -> int:
        return self.store.count()

    def expired(self, cutoff: datetime) -> ExpiredRows:
        found: dict[str | None, list[int]] = defaultdict(list)
        undated = 0
        for chunk in self.store.rows():
            for seq, patient, resource in chunk:
                when = clinical_time(resource)
                if when is None:
                    undated += 1
                elif when < cutoff:
                    found[patient].append(seq)
        return ExpiredRows(dict(found), undated)

    def remove(self, ids: list[int]) -> int:
        return self.store.delete_rows(ids)

    def holds_for(self, patient: str) -> bool:
        return self.store.count(patient) > 0

    def finish(self) -> None:
        self.store.checkpoint()  # once: a checkpoint per patient cost 7x the deletes


def enforce_timed(
    store: TimedStore,
    result: StoreReport,
    as_of: datetime,
    revocations: RevocationService,
    report: RetentionReport,
) -> None:
    """Remove what ``store`` holds past its retention (``result.retention_days``) at
    ``as_of``: per patient, the rows deleted and one purge AuditEvent; the patient's data key
    of the store destroyed when none of theirs is left (each destruction audited). Counts go
    to ``result``, removals and destroyed keys to ``report``."""
    days = result.retention_days
    result.held_before = store.held()
    if not result.enforced:
        result.held_after = result.held_before
        result.note = "enforced: false in the retention policy"
        return
    cutoff = as_of - timedelta(days=days)
    expired = store.expired(cutoff)
    detail = f"retention of {days} days elapsed (held from before {cutoff.isoformat()})"
    audit, registry = revocations.audit, revocations.registry
    for patient, ids in sorted(expired.by_patient.items(), key=lambda kv: kv[0] or ""):
        if patient is None:
            deleted = store.remove(ids)
            audit.append(_purge_event(None, store.name, deleted))
        else:
            with registry.patient_lock(patient):
                deleted = store.remove(ids)
                audit.append(_purge_event(patient, store.name, deleted))
                if store.key_scope is not None and not store.holds_for(patient):
                    report.keys_destroyed += _shred(revocations, patient, store.key_scope)
        result.removed += deleted
        entry: dict[str, Any] = {
            "store": store.name,
            "patient": patient or "",
            "count": deleted,
            "reason": RETENTION_ELAPSED,
            "detail": detail,
        }
        if store.lists_ids:
            entry["ids"] = sorted(ids)
        report.removed.append(entry)
    store.finish()
    result.held_after = store.held()
    if result.removed:
        result.by_reason = {RETENTION_ELAPSED: result.removed}
    if expired.undated:
        result.note = f"kept {expired.undated} row(s) without a clinical time"
    report.remaining_without_basis += store.expired(cutoff).total


def _shred(revocations: RevocationService, patient: str, scope: str) -> int:
    """Destroy the patient's data key of ``scope``, each destruction audited."""
    destroyed = revocations.datakeys.destroy(patient, scope)
    for key in destroyed:
        revocations.audit.append(
            audit_events.key_destruction(
                patient=patient, key_id=key.key_id, agent=AGENT, reason=RETENTION_ELAPSED
            )
        )
    return len(destroyed)


def _purge_event(patient: str | None, store: str, deleted: int) -> audit_events.AuditEvent:
    """The purge AuditEvent of a revocation (``audit_events.purge``), for a retention removal;
    items held without a patient name none."""
    if patient is not None:
        return audit_events.purge(
            patient=patient,
            target=store,
            records_deleted=deleted,
            reason=RETENTION_ELAPSED,
            agent=AGENT,
        )
    return audit_events.build_event(
        audit_events.EventCode.PURGE,
        agents=[audit_events.Agent(AGENT)],
        entities=[audit_events.Entity("store", store, detail={"records-deleted": deleted})],
        outcome_detail=RETENTION_ELAPSED,
    )
