"""ICU scoring entry points: vital-sign and lab Observations (streamed, micro-batched, or a
Bundle) and plain-JSON vitals and labs in; NEWS2 + qSOFA + SOFA-style lab components and the
lactate flag + alerting out, audited when a sink is given.

A lab result is drawn before it is reported, so it often arrives after later vital signs:
a score triggered only by lab readings is taken as of the patient's stream time (the latest
observation), not the draw time, so it never scores vitals from its future."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from clinflow.audit import events as audit_events
from clinflow.errors import InputRejected
from clinflow.scoring.fhir_io import observations_from_body, parse_resource
from clinflow.scoring.fields import JSON_FIELDS
from clinflow.scoring.identifiers import check_patient, request_id, subject_patient
from clinflow.scoring.news2 import score_news2
from clinflow.scoring.qsofa import score_qsofa
from clinflow.scoring.scores import IcuScore
from clinflow.scoring.sofa import score_labs
from clinflow.scoring.state import PatientScores, ScoringState, locked, validate_request
from clinflow.scoring.vitals import (
    LAB_PARAMETERS,
    VASOACTIVE_PARAMETERS,
    Consciousness,
    Parameter,
    Reading,
)

# reported after later vital signs (lab results; pump records of infusions)
_LABS = frozenset((*LAB_PARAMETERS, *VASOACTIVE_PARAMETERS))


class IcuScoring(ScoringState):
    """NEWS2 + qSOFA + alert escalation over each patient's vital-sign windows."""

    @locked
    def ingest_observation(self, resource: Mapping[str, Any]) -> IcuScore | None:
        """Streaming hot path: one vital-sign Observation in, a fresh score out.

        Returns None for an already-seen (replayed) or unusable (entered-in-error) input.
        """
        self.icu_gate.enforce_resource(resource)
        subject = subject_patient([resource])
        self._remember([(subject, resource)])
        readings = parse_resource(resource, str(resource.get("resourceType") or "resource"))
        fresh = [r for r in readings if self.features.add(subject, r)]
        if not fresh:
            return None
        return self._score(subject, self._as_of(subject, fresh), None)

    def _as_of(self, patient: str, readings: list[Reading]) -> datetime:
        """When a score triggered by ``readings`` is taken: their latest time, or the stream
        time when they are all lab results or infusion doses (reported after later vital
        signs)."""
        when = max(r.time for r in readings) if len(readings) > 1 else readings[0].time
        if readings[0].parameter in _LABS and all(r.parameter in _LABS for r in readings):
            stream_time = self.features.last_time(patient)
            if stream_time is not None and stream_time > when:
                return stream_time
        return when

    @locked
    def ingest_many(
        self, resources: Iterable[Mapping[str, Any]], *, defer_store: bool = False
    ) -> list[IcuScore]:
        """Micro-batched streaming: one score per (patient, charting time) instead of one per
        Observation. A patient's pending score is flushed as soon as a later reading for that
        patient arrives, so no score ever sees readings from its future. ``defer_store``: the
        inputs reach the scoring store at the caller's ``save_remembered()`` (a pipeline
        stage's end of batch) instead of now."""
        pending: dict[str, datetime] = {}
        scores: list[IcuScore] = []
        remembered: list[tuple[str, Mapping[str, Any]]] = []
        gate, add = self.icu_gate, self.features.add
        for resource in resources:
            gate.enforce_resource(resource)
            subject = subject_patient([resource])
            remembered.append((subject, resource))
            readings = parse_resource(resource, str(resource.get("resourceType") or "resource"))
            if not readings:
                continue
            when = self._as_of(subject, readings)
            previous = pending.get(subject)
            if previous is not None and when > previous:
                # flush before the later readings enter the window
                scores.append(self._score(subject, previous, None))
                del pending[subject]
            fresh = False
            for reading in readings:
                fresh = add(subject, reading) or fresh
            if fresh:
                pending[subject] = max(when, pending.get(subject, when))
        for subject, when in pending.items():
            scores.append(self._score(subject, when, None))
        self._remember(remembered, defer=defer_store)
        return scores

    def _remember(self, rows: list[tuple[str, Mapping[str, Any]]], defer: bool = False) -> None:
        if self.store is None or not rows:
            return
        if defer:
            self._unsaved.extend((patient, dict(resource)) for patient, resource in rows)
        else:
            self.store.append((patient, dict(resource)) for patient, resource in rows)

    @locked
    def restore(self) -> int:
        """Rebuild the state from the store after a restart (no audit: nothing new happens)."""
        if self.store is None:
            return 0
        store, audit = self.store, self.audit
        self.store, self.audit = None, None
        restored = 0
        try:
            for chunk in store.replay():
                self.ingest_many(chunk)
                restored += len(chunk)
        finally:
            self.store, self.audit = store, audit
        return restored

    @locked
    def score_icu_fhir(
        self,
        body: Any,
        *,
        spo2_scale2: bool | None = None,
        as_of: datetime | None = None,
        defer_store: bool = False,
    ) -> IcuScore:
        """Score a Bundle / array of one patient's vital-sign Observations (the patient is
        the pseudonym in their ``subject.reference``; all must agree). ``defer_store``: the
        inputs reach the scoring store at the caller's ``save_remembered()`` (the HTTP fast
        path's one write per event-loop turn)."""
        if isinstance(body, BaseModel):
            body = body.model_dump(exclude_none=True)
        elif isinstance(body, list) and body and isinstance(body[0], BaseModel):
            body = [item.model_dump(exclude_none=True) for item in body]
        self.icu_gate.enforce(body)
        located = observations_from_body(body)
        subject = subject_patient([r for _, r in located])
        readings = [reading for where, res in located for reading in parse_resource(res, where)]
        if not readings:
            raise InputRejected("no usable vital-sign or lab Observations", "body")
        self._remember([(subject, resource) for _, resource in located], defer=defer_store)
        for reading in readings:
            self.features.add(subject, reading)
        when = as_of or max(r.time for r in readings)
        return self._score(subject, when, spo2_scale2)

    @locked
    def score_icu_json(self, request: BaseModel | Mapping[str, Any]) -> IcuScore:
        """Score flat plain-JSON vitals (fields limited by the policy)."""
        model = validate_request(self.IcuRequest, request)
        data = model.model_dump()
        patient = check_patient(data["patient"])
        when = data.get("observed_at") or datetime.now(UTC)
        source_id = request_id("icu", data)
        for name, parameter in JSON_FIELDS.items():
            value = data.get(name)
            if value is None:
                continue
            if parameter is Parameter.CONSCIOUSNESS:
                value = Consciousness(value)
            elif parameter is not Parameter.SUPPLEMENTAL_OXYGEN:
                value = float(value)
            self.features.add(patient, Reading(parameter, value, when, source_id))
        return self._score(patient, when, bool(data.get("spo2_scale2", False)))

    def _score(self, patient: str, as_of: datetime, scale2: bool | None) -> IcuScore:
        held = self._held.get(patient)
        if held is None:
            held = self._held[patient] = PatientScores()
        if scale2 is not None:
            held.scale2 = scale2
        latest = self.features.latest_view(patient)
        news2 = score_news2(latest, as_of, scale2=held.scale2, staleness=self.staleness)
        qsofa = score_qsofa(latest, as_of, staleness=self.staleness)
        score = IcuScore(patient, news2, qsofa, score_labs(self.features, patient, as_of))
        score.alert = self.alerting.evaluate(patient, news2, lambda: score.assessment_id)
        held.latest = score
        held.record(as_of.timestamp(), news2.total, news2.lineage)
        if self.audit is not None:
            self._audit_score(score)
        return score

    def _audit_score(self, score: IcuScore) -> None:
        assert self.audit is not None
        self.audit.append(
            audit_events.score_produced(
                patient=score.patient,
                score_name="news2",
                value=score.news2.total,
                message_id=score.assessment_id,
                recorded=datetime.now(UTC),
            )
        )
        if score.alert is not None:
            self.audit.append(
                audit_events.alert_raised(
                    patient=score.patient,
                    alert_id=score.alert.alert_id,
                    level=score.alert.band.value,
                    recipient=self.alert_recipient,
                    message_id=score.assessment_id,
                )
            )
