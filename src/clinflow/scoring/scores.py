"""What scoring returns: an ICU score (NEWS2, qSOFA, SOFA-style lab components and the lactate
flag, any alert) or a triage result, each with
its lineage, a deterministic RiskAssessment id, its FHIR R5 RiskAssessment and its JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clinflow.scoring.alerts import Alert
from clinflow.scoring.fhir_out import icu_risk_assessment, triage_risk_assessment
from clinflow.scoring.identifiers import risk_assessment_id
from clinflow.scoring.news2 import MOCK_LABEL, News2Result
from clinflow.scoring.qsofa import QsofaResult
from clinflow.scoring.sofa import LabScores
from clinflow.scoring.triage import TriageResult


def _assessment_head(
    assessment_id: str, patient: str, as_of: datetime, label: str
) -> dict[str, Any]:
    """The keys the JSON form of every scoring result starts with: which RiskAssessment,
    whose, as of when, and the mock-model label."""
    return {
        "assessment_id": assessment_id,
        "patient": patient,
        "as_of": as_of.isoformat(),
        "label": label,
    }


@dataclass(slots=True)
class IcuScore:
    """One ICU scoring result: NEWS2, qSOFA, lab components, any alert raised, its lineage."""

    patient: str
    news2: News2Result
    qsofa: QsofaResult
    labs: LabScores | None = None  # None or empty: no lab result in the window
    alert: Alert | None = None
    _assessment_id: str | None = field(default=None, repr=False)
    _resource: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def assessment_id(self) -> str:
        """Deterministic RiskAssessment id (computed on first use: the hot path rarely needs
        it)."""
        if self._assessment_id is None:
            lineage = self.news2.lineage
            if self.labs is not None and not self.labs.empty:  # a new lab, a new assessment
                lineage = (*lineage, *self.labs.lineage)
            self._assessment_id = risk_assessment_id(
                "news2", self.patient, lineage, self.news2.as_of
            )
        return self._assessment_id

    @property
    def lineage(self) -> tuple[str, ...]:
        labs = self.labs.lineage if self.labs is not None else ()
        return tuple(dict.fromkeys((*self.news2.lineage, *self.qsofa.lineage, *labs)))

    def risk_assessment(self) -> dict[str, Any]:
        """The FHIR R5 RiskAssessment (built on first use; the hot path may never need it)."""
        if self._resource is None:
            self._resource = icu_risk_assessment(
                self.assessment_id, self.patient, self.news2, self.qsofa, self.labs
            )
        return self._resource

    def to_json(self) -> dict[str, Any]:
        news2 = self.news2
        return {
            **_assessment_head(self.assessment_id, self.patient, news2.as_of, MOCK_LABEL),
            "news2": {
                "total": news2.total,
                "partial": news2.partial,
                "scale": news2.scale,
                "risk_band": news2.band.value,
                "single_parameter_three": news2.single_parameter_three,
                "trigger": news2.response.trigger,
                "monitoring": news2.response.monitoring,
                "clinical_response": news2.response.response,
                "parameters": [
                    {
                        "parameter": p.parameter.value,
                        "status": p.status.value,
                        "points": p.points,
                        "value": p.value,
                        "observed_at": p.observed_at.isoformat() if p.observed_at else None,
                        "age_seconds": p.age_seconds,
                        "source_id": p.source_id,
                    }
                    for p in news2.parameters
                ],
            },
            "qsofa": {
                "score": self.qsofa.score,
                "positive": self.qsofa.positive,
                "partial": self.qsofa.partial,
                "criteria": dict(self.qsofa.criteria),
            },
            "sofa_labs": self.labs.to_json() if self.labs is not None else None,
            "alert": self.alert.to_json() if self.alert else None,
            "lineage": list(self.lineage),
        }


@dataclass(frozen=True, slots=True)
class TriageScore:
    """One mock ESI triage result for a patient, with its lineage."""

    assessment_id: str
    patient: str
    as_of: datetime
    result: TriageResult
    lineage: tuple[str, ...]

    def risk_assessment(self) -> dict[str, Any]:
        return triage_risk_assessment(
            self.assessment_id, self.patient, self.result, self.as_of.isoformat(), self.lineage
        )

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            **_assessment_head(self.assessment_id, self.patient, self.as_of, r.label),
            "esi_level": r.level,
            "decision_point": r.decision_point,
            "reasons": list(r.reasons),
            "danger_zone": list(r.danger_zone),
            "age_group": r.age_group,
            "missing_vitals": list(r.missing_vitals),
            "lineage": list(self.lineage),
        }
