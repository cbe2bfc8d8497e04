"""What a scoring service holds, and the read side over it.

``ScoringState`` is built from the endpoints policy: the minimum-necessary gates, the request
models, the feature windows, the alert engine and, per patient, the latest score with a
compact history and the triage results. The ICU, triage and retraction entry points
(``clinflow.scoring.icu``, ``triage_service``, ``retraction``) extend it; ``ScoringService``
combines them. State-changing entry points are serialized with ``locked``.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from clinflow.errors import InputRejected
from clinflow.interfaces import AuditSink
from clinflow.scoring.alerts import Alert, AlertEngine, AlertPolicy
from clinflow.scoring.features import FeatureStore, PatientFeatures
from clinflow.scoring.identifiers import check_patient
from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
from clinflow.scoring.models import (
    build_bundle_model,
    build_observation_model,
    build_request_model,
    build_triage_fhir_model,
    fhir_body_type,
)
from clinflow.scoring.news2 import DEFAULT_STALENESS, Staleness
from clinflow.scoring.policy import EndpointsPolicy, cached_policy
from clinflow.scoring.scores import IcuScore, TriageScore
from clinflow.scoring.sofa import LabScores, score_labs
from clinflow.scoring.store import SCORING_SINKS, ScoringStore

MAX_SCORES_PER_PATIENT = 1000
# Scores held per patient in memory: those within this much clinical time of the patient's
# newest score (the span of the feature windows, 24 h), and at most MAX_SCORES_PER_PATIENT.
# Alerting keeps its own per-patient state and trends read the feature windows, so nothing
# else reads older entries; older scores are re-derived from the Observations in scoring.db
# (``restore``). Kept the whole run, the history grew with the stream (ADR 0103).
HISTORY_WINDOW_S = 86400.0

_F = TypeVar("_F", bound=Callable[..., Any])


def locked(method: _F) -> _F:
    """Serialize a state-changing entry point (the HTTP app may call from a threadpool)."""

    @functools.wraps(method)
    def wrapper(self: ScoringState, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def validate_request(model: type[BaseModel], request: BaseModel | Mapping[str, Any]) -> BaseModel:
    """``request`` as ``model`` (re-validated if another model); errors name the field."""
    if isinstance(request, model):
        return request
    if isinstance(request, BaseModel):
        request = request.model_dump(exclude_none=True)
    try:
        return model.model_validate(request)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InputRejected(first["msg"], where) from exc


@dataclass(slots=True)
class PatientScores:
    """What the service keeps per patient: the latest full score, a compact history."""

    latest: IcuScore | None = None
    # (epoch seconds, NEWS2 total, lineage): tuples of atoms stay cheap for the GC.
    history: deque[tuple[float, int, tuple[str, ...]]] = field(
        default_factory=lambda: deque(maxlen=MAX_SCORES_PER_PATIENT)
    )
    triage: list[TriageScore] = field(default_factory=list)
    scale2: bool = False
    newest: float = float("-inf")  # epoch seconds of the newest score (the history's clock)

    def record(self, when: float, total: int, lineage: tuple[str, ...]) -> None:
        """Add a score to the history; drop those older than ``HISTORY_WINDOW_S`` before the
        newest (a late score older than that is not kept)."""
        if when > self.newest:
            self.newest = when
        horizon = self.newest - HISTORY_WINDOW_S
        if when < horizon:
            return
        history = self.history
        history.append((when, total, lineage))
        while history[0][0] < horizon:
            history.popleft()


class ScoringState:
    """Policy, gates, request models and per-patient state; queries and acknowledgement."""

    name = "scoring"  # its name as a retraction target
    covers = SCORING_SINKS  # the lineage sinks whose records it holds

    def __init__(
        self,
        policy: EndpointsPolicy | None = None,
        *,
        staleness: Staleness | None = None,
        alert_policy: AlertPolicy | None = None,
        audit: AuditSink | None = None,
        alert_recipient: str = "ward-team",
        store: ScoringStore | None = None,
    ) -> None:
        self.policy = policy or cached_policy()
        icu, tri = self.policy.endpoint("icu"), self.policy.endpoint("triage")
        if staleness is None:  # explicit argument, else the policy file, else the default
            staleness = icu.staleness.to_staleness() if icu.staleness else DEFAULT_STALENESS
        if alert_policy is None and icu.alerting is not None:
            alert_policy = icu.alerting.to_policy()
        self.staleness = staleness
        self.audit = audit
        self.store = store  # persisted inputs (restore after restart); None = memory only
        # A pipeline stage defers the store's writes to the end of its batch (one transaction
        # per batch, ``save_remembered``); the HTTP endpoints write before they answer.
        self._unsaved: list[tuple[str, dict[str, Any]]] = []
        self.alert_recipient = alert_recipient
        self._lock = threading.RLock()
        self.features = FeatureStore()
        self.alerting = AlertEngine(alert_policy)
        self._held: dict[str, PatientScores] = {}
        self.icu_gate = MinimumNecessaryStage(icu)
        self.triage_gate = MinimumNecessaryStage(tri)
        self.IcuRequest = build_request_model(icu)
        self.TriageRequest = build_request_model(tri)
        self.IcuObservation = build_observation_model(icu)
        self.IcuBundle = build_bundle_model(icu, self.IcuObservation)
        self.IcuBody = fhir_body_type(self.IcuBundle, self.IcuObservation)
        self.TriageObservation = build_observation_model(tri)
        self.TriageBundle = build_bundle_model(tri, self.TriageObservation)
        self.TriageFhirRequest = build_triage_fhir_model(
            tri, self.TriageObservation, self.TriageBundle
        )

    @locked
    def save_remembered(self) -> int:
        """Write the inputs remembered since the last call (deferred mode) in one transaction;
        runs before the batch's AuditEvents are committed. Returns how many were new."""
        rows, self._unsaved = self._unsaved, []
        if self.store is None or not rows:
            return 0
        return self.store.append(rows)

    @locked
    def patient_features(self, patient: str, as_of: datetime | None = None) -> PatientFeatures:
        """Trend features as of ``as_of`` (default: the stream time, i.e. the patient's latest
        observation — replayed or simulated streams do not run on the wall clock)."""
        check_patient(patient)
        if as_of is None:
            as_of = self.features.last_time(patient) or datetime.now(UTC)
        return self.features.features(patient, as_of)

    @locked
    def lab_scores(self, patient: str, as_of: datetime | None = None) -> LabScores:
        """SOFA-style lab components and lab flags as of ``as_of`` (default: stream time)."""
        check_patient(patient)
        if as_of is None:
            as_of = self.features.last_time(patient) or datetime.now(UTC)
        return score_labs(self.features, patient, as_of)

    def latest_score(self, patient: str) -> IcuScore | None:
        held = self._held.get(patient)
        return held.latest if held else None

    def score_history(self, patient: str) -> list[tuple[float, int, tuple[str, ...]]]:
        """(epoch seconds, NEWS2 total, lineage) of the patient's recent scores: the last
        ``HISTORY_WINDOW_S`` of clinical time, at most ``MAX_SCORES_PER_PATIENT``."""
        held = self._held.get(patient)
        return list(held.history) if held else []

    def alerts(self, patient: str | None = None) -> list[Alert]:
        return self.alerting.alerts(patient)

    @locked
    def acknowledge(self, alert_id: str, by: str, at: datetime | None = None) -> Alert:
        return self.alerting.acknowledge(alert_id, by, at or datetime.now(UTC))

    def holds(self, patient: str) -> bool:
        """Whether anything is held for ``patient`` (readings, scores or triage results)."""
        return patient in self._held or self.features.holds(patient)

    def patients(self) -> list[str]:
        return sorted(set(self._held) | set(self.features.patients()))
