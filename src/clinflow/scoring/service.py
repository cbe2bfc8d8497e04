"""The scoring service: the in-process Python API that the HTTP app also calls (same code).

``ScoringService`` holds per-patient state (vital-sign windows, scores, alerts, triage results)
in memory, keyed by pseudonym, and implements ``clinflow.interfaces.RetractionTarget`` so
consent revocation can delete all of it. Every entry point enforces the endpoint's
minimum-necessary policy (``policies/endpoints.yaml``) before reading anything. Scores and
alerts are emitted to an injected ``AuditSink`` when one is given (``None`` in the hot-path
benchmark). Mock clinical models for simulation, labelled so in every output.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from clinflow.audit import events as audit_events
from clinflow.errors import InputRejected
from clinflow.interfaces import AuditSink, RetractionReport, RetractionRequest
from clinflow.patient_ids import PSEUDONYM_RE
from clinflow.scoring.alerts import Alert, AlertEngine, AlertPolicy
from clinflow.scoring.features import FeatureStore, PatientFeatures
from clinflow.scoring.fhir_io import (
    latest_by_parameter,
    observations_from_body,
    parse_observation,
)
from clinflow.scoring.fhir_out import icu_risk_assessment, triage_risk_assessment
from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
from clinflow.scoring.models import (
    build_bundle_model,
    build_observation_model,
    build_request_model,
    build_triage_fhir_model,
    fhir_body_type,
)
from clinflow.scoring.news2 import (
    DEFAULT_STALENESS,
    MOCK_LABEL,
    News2Result,
    Staleness,
    score_news2,
)
from clinflow.scoring.policy import EndpointsPolicy, cached_policy
from clinflow.scoring.qsofa import QsofaResult, score_qsofa
from clinflow.scoring.triage import ChiefComplaint, TriageInput, TriageResult, triage
from clinflow.scoring.vitals import Consciousness, Parameter, Reading

MAX_SCORES_PER_PATIENT = 1000

# Plain-JSON field name → parameter (temperature always °C in the plain variant).
_JSON_VITALS: dict[str, Parameter] = {
    "respiratory_rate": Parameter.RESPIRATORY_RATE,
    "spo2": Parameter.SPO2,
    "supplemental_oxygen": Parameter.SUPPLEMENTAL_OXYGEN,
    "systolic_bp": Parameter.SYSTOLIC_BP,
    "heart_rate": Parameter.HEART_RATE,
    "consciousness": Parameter.CONSCIOUSNESS,
    "gcs": Parameter.GCS,
    "temperature_c": Parameter.TEMPERATURE,
}


_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """Serialize a state-changing entry point (the HTTP app may call from a threadpool)."""

    @functools.wraps(method)
    def wrapper(self: ScoringService, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def check_patient(patient: str, location: str = "patient") -> str:
    if not isinstance(patient, str) or not PSEUDONYM_RE.match(patient):
        raise InputRejected("patient must be a pseudonym like PT-<hex>", location)
    return patient


def _assessment_id(kind: str, patient: str, lineage: Iterable[str], as_of: datetime) -> str:
    """Deterministic id: same inputs, same RiskAssessment id (replays are idempotent)."""
    digest = hashlib.sha256(
        "\x00".join((kind, patient, as_of.isoformat(), *sorted(lineage))).encode()
    ).hexdigest()
    return f"{kind}-{digest[:24]}"


@dataclass(slots=True)
class IcuScore:
    """One ICU scoring result: NEWS2, qSOFA, any alert raised, and its lineage."""

    patient: str
    news2: News2Result
    qsofa: QsofaResult
    alert: Alert | None = None
    _assessment_id: str | None = field(default=None, repr=False)
    _resource: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def assessment_id(self) -> str:
        """Deterministic RiskAssessment id (computed on first use: the hot path rarely needs
        it)."""
        if self._assessment_id is None:
            self._assessment_id = _assessment_id(
                "news2", self.patient, self.news2.lineage, self.news2.as_of
            )
        return self._assessment_id

    @property
    def lineage(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.news2.lineage, *self.qsofa.lineage)))

    def risk_assessment(self) -> dict[str, Any]:
        """The FHIR R5 RiskAssessment (built on first use; the hot path may never need it)."""
        if self._resource is None:
            self._resource = icu_risk_assessment(
                self.assessment_id, self.patient, self.news2, self.qsofa
            )
        return self._resource

    def to_json(self) -> dict[str, Any]:
        news2 = self.news2
        return {
            "assessment_id": self.assessment_id,
            "patient": self.patient,
            "as_of": news2.as_of.isoformat(),
            "label": MOCK_LABEL,
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
            "alert": self.alert.to_json() if self.alert else None,
            "lineage": list(self.lineage),
        }


@dataclass(frozen=True, slots=True)
class TriageScore:
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
            "assessment_id": self.assessment_id,
            "patient": self.patient,
            "as_of": self.as_of.isoformat(),
            "label": r.label,
            "esi_level": r.level,
            "decision_point": r.decision_point,
            "reasons": list(r.reasons),
            "danger_zone": list(r.danger_zone),
            "age_group": r.age_group,
            "missing_vitals": list(r.missing_vitals),
            "lineage": list(self.lineage),
        }


@dataclass(slots=True)
class _Held:
    """What the service keeps per patient: the latest full score, a compact history."""

    latest: IcuScore | None = None
    # (epoch seconds, NEWS2 total, lineage): tuples of atoms stay cheap for the GC.
    history: deque[tuple[float, int, tuple[str, ...]]] = field(
        default_factory=lambda: deque(maxlen=MAX_SCORES_PER_PATIENT)
    )
    triage: list[TriageScore] = field(default_factory=list)
    scale2: bool = False


class ScoringService:
    """ICU (NEWS2 + qSOFA + alerts) and triage scoring, in process. ``name`` for retraction."""

    name = "scoring"

    def __init__(
        self,
        policy: EndpointsPolicy | None = None,
        *,
        staleness: Staleness | None = None,
        alert_policy: AlertPolicy | None = None,
        audit: AuditSink | None = None,
        alert_recipient: str = "ward-team",
    ) -> None:
        self.policy = policy or cached_policy()
        icu, tri = self.policy.endpoint("icu"), self.policy.endpoint("triage")
        if staleness is None:  # explicit argument, else the policy file, else the default
            staleness = icu.staleness.to_staleness() if icu.staleness else DEFAULT_STALENESS
        if alert_policy is None and icu.alerting is not None:
            alert_policy = icu.alerting.to_policy()
        self.staleness = staleness
        self.audit = audit
        self.alert_recipient = alert_recipient
        self._lock = threading.RLock()
        self.features = FeatureStore()
        self.alerting = AlertEngine(alert_policy)
        self._held: dict[str, _Held] = {}
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

    # -- ICU -----------------------------------------------------------------------------------

    @_locked
    def ingest_observation(self, resource: Mapping[str, Any]) -> IcuScore | None:
        """Streaming hot path: one vital-sign Observation in, a fresh score out.

        Returns None for an already-seen (replayed) or unusable (entered-in-error) input.
        """
        self.icu_gate.enforce_resource(resource)
        subject = _subject_patient([resource])
        readings = parse_observation(resource, "Observation")
        fresh = [r for r in readings if self.features.add(subject, r)]
        if not fresh:
            return None
        return self._score(subject, max(r.time for r in fresh), None)

    @_locked
    def ingest_many(self, resources: Iterable[Mapping[str, Any]]) -> list[IcuScore]:
        """Micro-batched streaming: one score per (patient, charting time) instead of one per
        Observation. A patient's pending score is flushed as soon as a later reading for that
        patient arrives, so no score ever sees readings from its future."""
        pending: dict[str, datetime] = {}
        scores: list[IcuScore] = []
        gate, add = self.icu_gate, self.features.add
        for resource in resources:
            gate.enforce_resource(resource)
            subject = _subject_patient([resource])
            readings = parse_observation(resource, "Observation")
            if not readings:
                continue
            when = max(reading.time for reading in readings)
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
        return scores

    @_locked
    def score_icu_fhir(
        self,
        body: Any,
        *,
        spo2_scale2: bool | None = None,
        as_of: datetime | None = None,
    ) -> IcuScore:
        """Score a Bundle / array of one patient's vital-sign Observations (the patient is
        the pseudonym in their ``subject.reference``; all must agree)."""
        if isinstance(body, BaseModel):
            body = body.model_dump(exclude_none=True)
        elif isinstance(body, list) and body and isinstance(body[0], BaseModel):
            body = [item.model_dump(exclude_none=True) for item in body]
        self.icu_gate.enforce(body)
        located = observations_from_body(body)
        subject = _subject_patient([r for _, r in located])
        readings = [reading for where, res in located for reading in parse_observation(res, where)]
        if not readings:
            raise InputRejected("no usable vital-sign Observations", "body")
        for reading in readings:
            self.features.add(subject, reading)
        when = as_of or max(r.time for r in readings)
        return self._score(subject, when, spo2_scale2)

    @_locked
    def score_icu_json(self, request: BaseModel | Mapping[str, Any]) -> IcuScore:
        """Score flat plain-JSON vitals (fields limited by the policy)."""
        model = self._validate(self.IcuRequest, request)
        data = model.model_dump()
        patient = check_patient(data["patient"])
        when = data.get("observed_at") or datetime.now(UTC)
        source_id = _request_id("icu", data)
        for name, parameter in _JSON_VITALS.items():
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
            held = self._held[patient] = _Held()
        if scale2 is not None:
            held.scale2 = scale2
        latest = self.features.latest_view(patient)
        news2 = score_news2(latest, as_of, scale2=held.scale2, staleness=self.staleness)
        qsofa = score_qsofa(latest, as_of, staleness=self.staleness)
        score = IcuScore(patient, news2, qsofa)
        score.alert = self.alerting.evaluate(patient, news2, lambda: score.assessment_id)
        held.latest = score
        held.history.append((as_of.timestamp(), news2.total, news2.lineage))
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

    # -- triage --------------------------------------------------------------------------------

    @_locked
    def triage_json(self, request: BaseModel | Mapping[str, Any]) -> TriageScore:
        model = self._validate(self.TriageRequest, request)
        data = model.model_dump()
        vitals: dict[Parameter, float] = {
            p: float(data[n])
            for n, p in _JSON_VITALS.items()
            if p in (Parameter.HEART_RATE, Parameter.RESPIRATORY_RATE, Parameter.SPO2)
            and data.get(n) is not None
        }
        when = data.get("observed_at") or datetime.now(UTC)
        level = data.get("consciousness")
        return self._triage(data, vitals, Consciousness(level) if level else None, when, None)

    @_locked
    def triage_fhir(self, request: BaseModel | Mapping[str, Any]) -> TriageScore:
        model = self._validate(self.TriageFhirRequest, request)
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
            lineage = (_request_id("triage", data),)
        score = TriageScore(
            _assessment_id("esi", patient, lineage, when), patient, when, result, lineage
        )
        held = self._held.setdefault(patient, _Held())
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

    # -- queries, acknowledgement ------------------------------------------------------------

    @_locked
    def patient_features(self, patient: str, as_of: datetime | None = None) -> PatientFeatures:
        """Trend features as of ``as_of`` (default: the stream time, i.e. the patient's latest
        observation — replayed or simulated streams do not run on the wall clock)."""
        check_patient(patient)
        if as_of is None:
            as_of = self.features.last_time(patient) or datetime.now(UTC)
        return self.features.features(patient, as_of)

    def latest_score(self, patient: str) -> IcuScore | None:
        held = self._held.get(patient)
        return held.latest if held else None

    def score_history(self, patient: str) -> list[tuple[float, int, tuple[str, ...]]]:
        """(epoch seconds, NEWS2 total, lineage) of the patient's recent scores."""
        held = self._held.get(patient)
        return list(held.history) if held else []

    def alerts(self, patient: str | None = None) -> list[Alert]:
        return self.alerting.alerts(patient)

    @_locked
    def acknowledge(self, alert_id: str, by: str, at: datetime | None = None) -> Alert:
        return self.alerting.acknowledge(alert_id, by, at or datetime.now(UTC))

    def patients(self) -> list[str]:
        return sorted(set(self._held) | set(self.features.patients()))

    # -- retraction (clinflow.interfaces.RetractionTarget) ---------------------------------

    @_locked
    def retract(self, request: RetractionRequest) -> RetractionReport:
        """Delete everything held for the pseudonymous patient (or derived from given inputs)."""
        patient = check_patient(request.patient)
        purposes = {self.policy.endpoint("icu").purpose, self.policy.endpoint("triage").purpose}
        if request.purposes and not purposes & set(request.purposes):
            return RetractionReport(self.name, 0, 0, ("no data held for these purposes",))
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

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _validate(model: type[BaseModel], request: BaseModel | Mapping[str, Any]) -> BaseModel:
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


@lru_cache(maxsize=65_536)
def _patient_from_reference(reference: str) -> str:
    return check_patient(reference.rsplit("/", 1)[-1], "subject.reference")


def _subject_patient(resources: list[Mapping[str, Any]]) -> str:
    """The pseudonym in ``subject.reference`` (``Patient/PT-…``), the same for all resources."""
    found: set[str] = set()
    for resource in resources:
        subject = resource.get("subject")
        reference = subject.get("reference") if isinstance(subject, Mapping) else None
        if not isinstance(reference, str):
            raise InputRejected("Observation.subject.reference is required", "subject.reference")
        found.add(reference)
    if len(found) != 1:
        raise InputRejected("Observations must all be about one patient", "subject.reference")
    return _patient_from_reference(found.pop())


def _request_id(kind: str, data: Mapping[str, Any]) -> str:
    """Content-derived id of a plain-JSON request (its lineage when no Observation ids exist)."""
    canonical = repr(sorted((k, str(v)) for k, v in data.items())).encode()
    return f"{kind}-request-{hashlib.sha256(canonical).hexdigest()[:24]}"
