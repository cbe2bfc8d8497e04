"""Mock ER triage and ICU deterioration scoring (simulation only, not clinical tools).

Pure scoring (no web stack) is imported eagerly; the service, HTTP app and pipeline stages
load on first use so ``clinflow --help`` stays fast::

    from clinflow.scoring import ScoringService, create_app
    service = ScoringService()                   # in-process API (same code as HTTP)
    score = service.score_icu_fhir(bundle)       # NEWS2 + qSOFA + alerting
    score.risk_assessment()                      # FHIR R5 RiskAssessment with lineage
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clinflow.scoring.alerts import Alert, AlertEngine, AlertMetrics, AlertPolicy, alert_metrics
from clinflow.scoring.features import FeatureStore, PatientFeatures
from clinflow.scoring.news2 import (
    MOCK_LABEL,
    News2Result,
    ParameterScore,
    RiskBand,
    Staleness,
    score_news2,
)
from clinflow.scoring.qsofa import QsofaResult, score_qsofa
from clinflow.scoring.triage import (
    TRIAGE_MOCK_LABEL,
    ChiefComplaint,
    TriageInput,
    TriageResult,
    triage,
)
from clinflow.scoring.vitals import Consciousness, Parameter, Reading

if TYPE_CHECKING:
    from clinflow.scoring.app import create_app
    from clinflow.scoring.client import HttpClient, InProcessClient, ScoringClient
    from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
    from clinflow.scoring.policy import EndpointsPolicy, load_policy
    from clinflow.scoring.scores import IcuScore, TriageScore
    from clinflow.scoring.service import ScoringService
    from clinflow.scoring.stage import IcuScoringStage

_LAZY = {
    "create_app": "clinflow.scoring.app",
    "HttpClient": "clinflow.scoring.client",
    "InProcessClient": "clinflow.scoring.client",
    "ScoringClient": "clinflow.scoring.client",
    "MinimumNecessaryStage": "clinflow.scoring.minimum_necessary",
    "EndpointsPolicy": "clinflow.scoring.policy",
    "load_policy": "clinflow.scoring.policy",
    "IcuScore": "clinflow.scoring.scores",
    "ScoringService": "clinflow.scoring.service",
    "TriageScore": "clinflow.scoring.scores",
    "IcuScoringStage": "clinflow.scoring.stage",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clinflow.scoring' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "MOCK_LABEL",
    "TRIAGE_MOCK_LABEL",
    "Alert",
    "AlertEngine",
    "AlertMetrics",
    "AlertPolicy",
    "ChiefComplaint",
    "Consciousness",
    "EndpointsPolicy",
    "FeatureStore",
    "HttpClient",
    "IcuScore",
    "IcuScoringStage",
    "InProcessClient",
    "MinimumNecessaryStage",
    "News2Result",
    "Parameter",
    "ParameterScore",
    "PatientFeatures",
    "QsofaResult",
    "Reading",
    "RiskBand",
    "ScoringClient",
    "ScoringService",
    "Staleness",
    "TriageInput",
    "TriageResult",
    "TriageScore",
    "alert_metrics",
    "create_app",
    "load_policy",
    "score_news2",
    "score_qsofa",
    "triage",
]
