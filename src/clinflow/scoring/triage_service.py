"""Triage entry points: a plain-JSON or FHIR (Observations + complaint) request in, a mock
ESI-style level out, kept per patient and audited when a sink is given."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from clinflow.audit import events as audit_events
from clinflow.scoring.fhir_io import latest_by_parameter, observations_from_body, parse_observation
from clinflow.scoring.fields import JSON_VITALS
from clinflow.scoring.identifiers import check_patient, request_id, risk_assessment_id
from clinflow.scoring.scores import TriageScore
from clinflow.scoring.state import PatientScores, ScoringState, locked, validate_request
from clinflow.scoring.triage import ChiefComplaint, TriageInput, triage
from clinflow.scoring.vitals import Consciousness, Parameter


class TriageScoring(ScoringState):
    """Mock ESI triage from the request's complaint, resources and vitals."""

    @locked
    def triage_json(self, request: BaseModel | Mapping[str, Any]) -> TriageScore:
        model = validate_request(self.TriageRequest, request)
        data = model.model_dump()
        vitals: dict[Parameter, float] = {
            p: float(data[n])
            for n, p in JSON_VITALS.items()
            if p in (Parameter.HEART_RATE, Parameter.RESPIRATORY_RATE, Parameter.SPO2)
            and data.get(n) is not None
        }
        when = data.get("observed_at") or datetime.now(UTC)
        level = data.get("consciousness")
        return self._triage(data, vitals, Consciousness(level) if level else None, when, None)

    @locked
    def triage_fhir(self, request: BaseModel | Mapping[str, Any]) -> TriageScore:
        model = validate_request(self.TriageFhirRequest, request)
        data = model.model_dump(exclude_none=True)
        body = data.pop("observations")
        self.triage_gate.enforce(body)
        located = observations_from_body(body)
        readings = [reading for where, res in located for reading in parse_observation(res, where)]
        latest = latest_by_parameter(readings)
        vitals: dict[Parameter, float] = {
            p: float(r.value)
            for p, r in latest.items()
            if p in (Parameter.HEART_RATE, Parameter.RESPIRATORY_RATE, Parameter.SPO2)
        }
        acvpu = latest.get(Parameter.CONSCIOUSNESS)
        level = acvpu.value if acvpu and isinstance(acvpu.value, Consciousness) else None
        when = max((r.time for r in readings), default=datetime.now(UTC))
        lineage = tuple(dict.fromkeys(r.source_id for r in latest.values()))
        return self._triage(data, vitals, level, when, lineage)

    def _triage(
        self,
        data: Mapping[str, Any],
        vitals: Mapping[Parameter, float],
        consciousness: Consciousness | None,
        when: datetime,
        lineage: tuple[str, ...] | None,
    ) -> TriageScore:
        patient = check_patient(data["patient"])
        case = TriageInput(
            age_years=float(data["age_years"]),
            chief_complaint=ChiefComplaint(data["chief_complaint"]),
            expected_resources=int(data["expected_resources"]),
            vitals=vitals,
            consciousness=consciousness,
            pain_score=data.get("pain_score"),
            requires_immediate_intervention=bool(data.get("requires_immediate_intervention")),
            high_risk_situation=bool(data.get("high_risk_situation")),
        )
        result = triage(case)
        if lineage is None:
            lineage = (request_id("triage", data),)
        score = TriageScore(
            risk_assessment_id("esi", patient, lineage, when), patient, when, result, lineage
        )
        held = self._held.setdefault(patient, PatientScores())
        held.triage.append(score)
        if self.audit is not None:
            self.audit.append(
                audit_events.score_produced(
                    patient=patient,
                    score_name="esi-mock",
                    value=result.level,
                    message_id=score.assessment_id,
                )
            )
        return score
