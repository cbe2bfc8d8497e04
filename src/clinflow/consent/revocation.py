"""Retroactive revocation: record, find through lineage, retract, crypto-shred, receipt.

``RevocationService.revoke(patient, purposes)``, under the patient's registry lock:

1. records the revocation in the registry (every process's gate sees it on its next
   decision, so in-flight messages are dropped);
2. finds through the lineage index everything released for those purposes (all of it for a
   retroactive revocation, from the effective time otherwise);
3. sends a ``RetractionRequest`` to every registered ``RetractionTarget``;
4. destroys the patient's data keys for the revoked purposes (retroactive scope; a full
   revocation also the key of the patient's quarantined inputs), so copies
   clinflow cannot rewrite — topics, exports, audit-log encrypted fields — become unreadable;
5. audits each step and stores a receipt.

Merged records (HL7 v2 ADT^A40, ADR 0102): a revocation of the surviving patient is recorded
for every pseudonym merged into it too and its sweep covers their releases and keys; the
receipt lists them (``merged_patients``, ``FoundItem.patient``).

Idempotent: revoking again reuses the revocation in force and finds nothing new. A revoke
that arrives before the data it covers still applies, because the gate consults the registry.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from clinflow.audit import events as audit_events
from clinflow.audit.events import Agent
from clinflow.consent.decision import DecisionQuery, Revocation
from clinflow.consent.model import ConsentRecord
from clinflow.consent.policy import Effect
from clinflow.consent.receipt import ActionTaken, DestroyedKey, FoundItem, Receipt
from clinflow.consent.registry import ConsentRegistry
from clinflow.crypto.datakeys import DataKeyStore
from clinflow.errors import ConfigError
from clinflow.interfaces import AuditSink, RetractionRequest
from clinflow.lineage import LineageIndex, LineageRecord
from clinflow.patient_ids import PSEUDONYM_RE
from clinflow.quarantine import QUARANTINE_SCOPE
from clinflow.sinks.registry import RetractionOutcome, RetractionRegistry

AGENT = "clinflow-revocation"
MERGE_AGENT = "clinflow-patient-merge"
RECEIPT_DETAIL_LIMIT = 20


@dataclass
class RevocationService:
    registry: ConsentRegistry
    lineage: LineageIndex
    targets: RetractionRegistry
    datakeys: DataKeyStore
    audit: AuditSink

    def resolve_purposes(self, purposes: Iterable[str] | None) -> tuple[str, ...]:
        """Purposes to revoke: the given ones (validated), else all the policy lets go."""
        policy = self.registry.policy
        chosen = tuple(sorted(set(purposes))) if purposes else policy.revocable_purposes()
        unknown = [p for p in chosen if p not in audit_events.PURPOSES]
        if unknown:
            raise ConfigError(f"--purpose: unknown purpose of use {', '.join(unknown)}")
        excluded = [p for p in chosen if p in self.registry.policy.revoke_all_excludes]
        if excluded:
            raise ConfigError(
                f"--purpose: {', '.join(excluded)} cannot be revoked (policy revoke_all_excludes)"
            )
        return tuple(sorted(chosen))

    def revoke(
        self,
        patient: str,
        purposes: Iterable[str] | None = None,
        *,
        retroactive: bool = True,
        requested_by: str | Agent = AGENT,
    ) -> Receipt:
        """Withdraw consent for ``purposes`` (default: every revocable purpose)."""
        if not _looks_pseudonymous(patient):
            raise ConfigError("PATIENT: expected a pseudonym like PT-<hex>, not an identifier")
        chosen = self.resolve_purposes(purposes)
        requested_at = self.registry.clock()
        covered = self.lineage.merges.covering(patient)
        with self.registry.patient_locks(covered):
            existing = self._revocation_in_force(patient, chosen, retroactive)
            revocation = existing or self.registry.add_revocation(
                patient, chosen, retroactive=retroactive
            )
            return self._sweep(
                patient,
                revocation,
                already_revoked=existing is not None,
                requested_at=requested_at.isoformat(),
                requested_by=requested_by,
                full=set(chosen) >= set(self.registry.policy.revocable_purposes()),
                covered=covered,
            )

    def _cover_merged(
        self,
        revocation: Revocation,
        merged: Sequence[str],
        requested_by: str | Agent,
        audit_entries: list[int],
    ) -> None:
        """Record ``revocation`` for each record merged into its patient (ADR 0102), so the
        gate also drops their inputs still in flight; audited like the surviving one's."""
        purposes = tuple(sorted(revocation.purposes))
        for alias in merged:
            if self._revocation_in_force(alias, purposes, revocation.retroactive) is not None:
                continue
            recorded = self.registry.add_revocation(
                alias,
                purposes,
                retroactive=revocation.retroactive,
                effective_at=revocation.effective_at,
                revocation_id=f"{revocation.revocation_id}-merged-{alias.removeprefix('PT-')[:12]}",
            )
            audit_entries.append(
                self._audit_revocation(alias, recorded.revocation_id, purposes, requested_by)
            )

    def _audit_revocation(
        self, patient: str, revocation_id: str, purposes: Sequence[str], agent: str | Agent
    ) -> int:
        """Append the consent-revocation event of ``patient``; its audit entry index."""
        return self.audit.append(
            audit_events.consent_revocation(
                patient=patient, consent_id=revocation_id, purposes=purposes, agent=agent
            )
        )

    def extend_to_merged(self, surviving: str, merged: str) -> list[Receipt]:
        """A record was merged into ``surviving`` (ADR 0102): each revocation of the
        survivor in force now covers it too: swept again (recorded for the merged pseudonym,
        its releases retracted, its keys shredded), one receipt per revocation."""
        return [
            self.revoke(
                surviving,
                sorted(revocation.purposes),
                retroactive=revocation.retroactive,
                requested_by=MERGE_AGENT,
            )
            for revocation in self.registry.revocations(surviving, in_force_only=True)
            if merged in self.lineage.merges.aliases(surviving)
        ]

    def _revocation_in_force(
        self, patient: str, purposes: Sequence[str], retroactive: bool
    ) -> Revocation | None:
        for revocation in self.registry.revocations(patient, in_force_only=True):
            if revocation.purposes >= set(purposes) and (revocation.retroactive or not retroactive):
                return revocation
        return None

    def _sweep(
        self,
        patient: str,
        revocation: Revocation,
        *,
        already_revoked: bool,
        requested_at: str,
        requested_by: str | Agent,
        full: bool,
        covered: Sequence[str] = (),
    ) -> Receipt:
        """Find, retract and shred what was released for ``patient`` and for every record
        merged into it (``covered``: ``patient`` first, then its merged pseudonyms)."""
        purposes = tuple(sorted(revocation.purposes))
        receipt_id = f"rcpt-{uuid.uuid4().hex[:16]}"
        since = None if revocation.retroactive else revocation.effective_at
        patients = list(covered) or [patient]
        merged = patients[1:]
        per_patient = [
            (p, self.lineage.find(p, purposes, since=since, with_inputs=not revocation.retroactive))
            for p in patients
        ]
        found = [record for _, records in per_patient for record in records]
        audit_entries: list[int] = []
        notes: list[str] = []
        if not already_revoked:
            audit_entries.append(
                self._audit_revocation(patient, revocation.revocation_id, purposes, requested_by)
            )
        self._cover_merged(revocation, merged, requested_by, audit_entries)
        if merged:
            notes.append(f"covers {len(merged)} patient record(s) merged into this one")
        actions: list[ActionTaken] = []
        if revocation.retroactive or found:
            for who, records in per_patient:
                if not (revocation.retroactive or records):
                    continue
                message_ids: tuple[str, ...] = ()
                if not revocation.retroactive:
                    message_ids = tuple(sorted({i for record in records for i in record.inputs}))
                request = RetractionRequest(
                    patient=who, purposes=() if full else purposes, message_ids=message_ids
                )
                actions.extend(self._retract(request, records, receipt_id, audit_entries, notes))
            actions = _combine(actions)
        else:
            notes.append("nothing released since the effective time; no retraction sent")
        destroyed: list[DestroyedKey] = []
        if revocation.retroactive:
            # a full revocation purged the quarantine: its data key goes too (ADR 0085)
            scopes = (*purposes, QUARANTINE_SCOPE) if full else purposes
            for who in patients:
                destroyed.extend(self._shred(who, scopes, audit_entries))
        else:
            notes.append("non-retroactive scope: data keys kept for data released before")
        return self._store_receipt(
            Receipt(
                receipt_id=receipt_id,
                patient=patient,
                revocation_id=revocation.revocation_id,
                purposes=purposes,
                retroactive=revocation.retroactive,
                effective_at=revocation.effective_at.isoformat(),
                requested_at=requested_at,
                already_revoked=already_revoked,
                actions=tuple(actions),
                keys_destroyed=tuple(destroyed),
                audit_entries=tuple(audit_entries),
                notes=tuple(dict.fromkeys(notes)),
                merged_patients=tuple(merged),
            ),
            found,
        )

    def _store_receipt(self, receipt: Receipt, found: Sequence[LineageRecord]) -> Receipt:
        """Complete a receipt (what was found per sink and purpose, completion time, registry
        version) and store it append-only."""
        counts = Counter((record.sink, record.purpose, record.patient) for record in found)
        receipt = replace(
            receipt,
            completed_at=self.registry.clock().isoformat(),
            registry_version=self.registry.version(receipt.patient),
            found=tuple(
                FoundItem(sink, purpose, count, patient)
                for (sink, purpose, patient), count in sorted(counts.items())
            ),
        )
        self.registry.store.save_receipt(receipt.receipt_id, receipt.patient, receipt.to_dict())
        return receipt

    def _retract(
        self,
        request: RetractionRequest,
        found: Sequence[LineageRecord],
        receipt_id: str,
        audit_entries: list[int],
        notes: list[str],
    ) -> list[ActionTaken]:
        """Send ``request`` to every target, audit each outcome, mark ``found`` retracted
        when every target succeeded (else a note says to re-run)."""
        outcomes = self.targets.retract_all(request)
        covered = self.targets.covered_sinks()
        for sink in sorted({record.sink for record in found} - covered):
            # found through lineage, but no target can reach it: say so, never "complete"
            outcomes.append(RetractionOutcome(sink, None, error="NoTargetRegistered"))
        actions: list[ActionTaken] = []
        for outcome in outcomes:
            report = outcome.report
            actions.append(
                ActionTaken(
                    target=outcome.target,
                    deleted=report.deleted if report else 0,
                    derived_deleted=report.derived_deleted if report else 0,
                    error=outcome.error,
                    details=_sample(report.details) if report else (),
                )
            )
            audit_entries.append(
                self.audit.append(
                    audit_events.purge(
                        patient=request.patient,
                        target=outcome.target,
                        records_deleted=(report.deleted + report.derived_deleted) if report else 0,
                        receipt_id=receipt_id,
                        reason=request.reason,
                        agent=AGENT,
                        outcome=audit_events.Outcome.SUCCESS
                        if outcome.ok
                        else audit_events.Outcome.SERIOUS_FAILURE,
                    )
                )
            )
        failed = [action.target for action in actions if action.error is not None]
        if failed:
            notes.append(f"retraction failed at {', '.join(failed)}; re-run to retry")
        else:
            self.lineage.mark_retracted(found)
        return actions

    def _shred(
        self,
        patient: str,
        scopes: Iterable[str],
        audit_entries: list[int],
        reason: str = "consent-revoked",
    ) -> list[DestroyedKey]:
        """Destroy the patient's data keys of ``scopes``, each destruction audited."""
        destroyed: list[DestroyedKey] = []
        for scope in scopes:
            for key in self.datakeys.destroy(patient, scope):
                destroyed.append(DestroyedKey(key.key_id, key.scope))
                audit_entries.append(
                    self.audit.append(
                        audit_events.key_destruction(
                            patient=patient, key_id=key.key_id, reason=reason
                        )
                    )
                )
        return destroyed

    def retract_records(
        self,
        patient: str,
        found: Sequence[LineageRecord],
        *,
        basis_id: str,
        purposes: Sequence[str],
        reason: str,
        shred: bool = False,
        requested_by: str = AGENT,
        note: str = "",
    ) -> Receipt:
        """Retract exactly ``found`` (lineage records of ``patient``) for a reason other than
        a revocation — a data use agreement that expired, a retention period that elapsed —
        through the same targets, audit events and receipt as a revocation; ``shred`` also
        destroys the patient's data keys of ``purposes`` (nothing of theirs is left there).

        ``basis_id`` names what ended (``dua:<id>``, ``retention:<store>``); it is the
        receipt's revocation id. Caller holds nothing: this takes the patient's lock."""
        if not _looks_pseudonymous(patient):
            raise ConfigError("patient: expected a pseudonym like PT-<hex>, not an identifier")
        receipt_id = f"rcpt-{uuid.uuid4().hex[:16]}"
        requested_at = self.registry.clock().isoformat()
        audit_entries: list[int] = []
        notes = [note] if note else []
        with self.registry.patient_lock(patient):
            output_ids = tuple(sorted({record.output_id for record in found}))
            actions: list[ActionTaken] = []
            if output_ids:
                request = RetractionRequest(
                    patient=patient,
                    purposes=tuple(sorted(purposes)),
                    message_ids=output_ids,
                    reason=reason,
                )
                actions = self._retract(request, found, receipt_id, audit_entries, notes)
            destroyed = self._shred(patient, purposes, audit_entries, reason) if shred else []
            if not shred:
                notes.append("data keys kept: the patient has other records under a basis")
            return self._store_receipt(
                Receipt(
                    receipt_id=receipt_id,
                    patient=patient,
                    revocation_id=basis_id,
                    purposes=tuple(sorted(purposes)),
                    retroactive=True,
                    effective_at=requested_at,
                    requested_at=requested_at,
                    actions=tuple(actions),
                    keys_destroyed=tuple(destroyed),
                    audit_entries=tuple(audit_entries),
                    notes=tuple(notes),
                ),
                found,
            )

    def receipt(self, receipt_id: str) -> Receipt | None:
        for body in self.registry.store.receipts(None):
            if body.get("receipt_id") == receipt_id:
                return Receipt.from_dict(body)
        return None

    def receipts(self, patient: str | None = None) -> list[Receipt]:
        return [Receipt.from_dict(body) for body in self.registry.store.receipts(patient)]

    # ------------------------------------------------------------------ consent stream

    def apply_consent(self, patient: str, record: ConsentRecord) -> Receipt | None:
        """Record a Consent event from the stream; a withdrawn permit triggers a sweep.

        When an update makes a previously active Consent inactive (or rejected), every purpose
        it permitted that the registry now denies is swept retroactively, exactly as a
        ``revoke`` would.
        """
        covered = self.lineage.merges.covering(patient)
        with self.registry.patient_locks(covered):
            before = {c.consent_id: c for c in self.registry.consents(patient)}
            self.registry.add_consent(patient, record)
            previous = before.get(record.consent_id)
            if previous is None or not previous.active or record.active:
                return None
            withdrawn = [
                purpose
                for purpose in _permitted_purposes(previous, self.registry.policy.purposes)
                if purpose not in self.registry.policy.revoke_all_excludes
                and not self.registry.decide(DecisionQuery(patient, purpose)).permitted
            ]
            if not withdrawn:
                return None
            revocation = self.registry.add_revocation(
                patient, withdrawn, retroactive=True, revocation_id=f"rev-{record.consent_id}"
            )
            return self._sweep(
                patient,
                revocation,
                already_revoked=False,
                requested_at=self.registry.clock().isoformat(),
                requested_by="clinflow-consent-stream",
                full=set(withdrawn) >= set(self.registry.policy.revocable_purposes()),
                covered=covered,
            )


def _permitted_purposes(record: ConsentRecord, known: Iterable[str]) -> list[str]:
    """Purposes a consent permitted somewhere in its tree (a blanket permit covers all)."""
    purposes: set[str] = set()
    for node in record.root.walk():
        if node.effect is Effect.PERMIT:
            purposes.update(node.purposes or known)
    return sorted(purposes)


def _combine(actions: Sequence[ActionTaken]) -> list[ActionTaken]:
    """One action per target: a sweep over merged records retracts at each target once per
    pseudonym; the receipt sums them (the first error stands)."""
    combined: dict[str, ActionTaken] = {}
    for action in actions:
        seen = combined.get(action.target)
        if seen is None:
            combined[action.target] = action
            continue
        combined[action.target] = ActionTaken(
            target=action.target,
            deleted=seen.deleted + action.deleted,
            derived_deleted=seen.derived_deleted + action.derived_deleted,
            error=seen.error or action.error,
            details=_sample((*seen.details, *action.details)),
        )
    return list(combined.values())


def _sample(details: tuple[str, ...], limit: int = RECEIPT_DETAIL_LIMIT) -> tuple[str, ...]:
    """The first locations a target reported, and how many more (receipts stay small)."""
    if len(details) <= limit:
        return details
    return (*details[:limit], f"... and {len(details) - limit} more")


def _looks_pseudonymous(patient: str) -> bool:
    return bool(PSEUDONYM_RE.match(patient))
