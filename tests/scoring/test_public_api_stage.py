"""The package's public API and the pipeline stage (envelopes in, RiskAssessments out)."""

from __future__ import annotations

import types
from datetime import UTC, datetime

import orjson
import pytest
from fhir.resources.riskassessment import RiskAssessment

import clinflow.scoring as scoring
from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import InputRejected
from clinflow.interfaces import RetractionRequest
from helpers.vitals import PATIENT, bundle, later, vital_set


def test_public_api_is_exactly_all() -> None:
    eager = {
        name
        for name, value in vars(scoring).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in {"annotations", "TYPE_CHECKING", "Any"}
    }
    assert eager <= set(scoring.__all__)
    assert len(set(scoring.__all__)) == len(scoring.__all__)
    for name in scoring.__all__:  # lazy names resolve too
        assert getattr(scoring, name) is not None
    with pytest.raises(AttributeError):
        scoring.NotAThing  # noqa: B018


def envelope(body: object, message_id: str = "msg-1", patient: str = PATIENT) -> Envelope:
    return Envelope(
        message_id=message_id,
        source=SourceKind.FHIR,
        patient=patient,
        payload=orjson.dumps(body),
        event_time=datetime(2026, 1, 5, 8, tzinfo=UTC),
        lineage=("ingest-0",),
    )


def test_stage_emits_risk_assessments_with_lineage() -> None:
    service = scoring.ScoringService()
    stage = scoring.IcuScoringStage(service)
    stream = [*vital_set("a", when=later(0)), *vital_set("b", rr=26, spo2=90, when=later(15))]
    outputs = stage.process(envelope(bundle(stream)))
    assert [o.attributes["news2_total"] for o in outputs] == ["0", "6"]
    for output in outputs:
        assert output.lineage == ("ingest-0", "msg-1")
        resource = orjson.loads(output.payload)
        RiskAssessment.model_validate(resource)
        assert output.patient == PATIENT
    last = orjson.loads(outputs[-1].payload)
    assert "Observation/b-rr" in {b["reference"] for b in last["basis"]}
    assert outputs[-1].attributes["alert_id"].startswith("alert-")
    report = service.retract(RetractionRequest(patient=PATIENT))
    assert report.derived_deleted == 3  # two scores and the alert


def test_stage_refuses_other_patients_data() -> None:
    stage = scoring.IcuScoringStage(scoring.ScoringService())
    with pytest.raises(InputRejected):
        stage.process(envelope(vital_set(), patient="PT-fedcba9876543210"))
    with pytest.raises(InputRejected):
        stage.process(Envelope("m", SourceKind.FHIR, PATIENT, b"{", datetime.now(UTC)))
