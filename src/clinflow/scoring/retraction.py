"""Retraction (``clinflow.interfaces.RetractionTarget``): on consent revocation, delete all a
scoring service holds about a patient, or only what derives from given inputs."""

from __future__ import annotations

from collections import deque

from clinflow.audit import events as audit_events
from clinflow.interfaces import RetractionReport, RetractionRequest
from clinflow.scoring.identifiers import check_patient
from clinflow.scoring.state import MAX_SCORES_PER_PATIENT, ScoringState, locked


class ScoringRetraction(ScoringState):
    """Forget readings, scores, alerts and triage results of a patient (or of some inputs)."""

    @locked
    def retract(self, request: RetractionRequest) -> RetractionReport:
        """Delete everything held for the pseudonymous patient (or derived from given inputs)."""
        patient = check_patient(request.patient)
        if request.purposes and not self.policy.held_purposes() & set(request.purposes):
            return RetractionReport(self.name, 0, 0, ("no data held for these purposes",))
        if self.store is not None:
            self.save_remembered()  # a deferred row must not outlive the delete
            self.store.delete(patient, request.message_ids)
        if request.message_ids:
            deleted, derived = self._retract_inputs(patient, frozenset(request.message_ids))
        else:
            deleted = self.features.forget(patient)
            held = self._held.pop(patient, None)
            derived = self.alerting.forget(patient)
            if held is not None:
                derived += len(held.history) + len(held.triage)
        details = (
            f"readings={deleted}",
            f"scores+alerts+triage={derived}",
            f"patient={patient}",
        )
        if self.audit is not None:
            self.audit.append(
                audit_events.purge(
                    patient=patient,
                    target=self.name,
                    records_deleted=deleted + derived,
                    reason=request.reason,
                )
            )
        return RetractionReport(self.name, deleted, derived, details)

    def _retract_inputs(self, patient: str, ids: frozenset[str]) -> tuple[int, int]:
        deleted = self.features.forget_sources(patient, ids)
        held = self._held.get(patient)
        derived = 0
        if held is not None:
            kept = [h for h in held.history if not ids & set(h[2])]
            derived += len(held.history) - len(kept)
            held.history = deque(kept, maxlen=MAX_SCORES_PER_PATIENT)
            if held.latest is not None and ids & set(held.latest.lineage):
                held.latest = None
            kept_triage = [t for t in held.triage if not ids & set(t.lineage)]
            derived += len(held.triage) - len(kept_triage)
            held.triage = kept_triage
        # Alerts derive from scores: drop those whose lineage touches the inputs.
        for alert in self.alerting.alerts(patient):
            if ids & set(alert.lineage):
                derived += self.alerting.forget_alert(alert.alert_id)
        return deleted, derived
