"""Pipeline stage for the embedded/distributed runtimes: vital signs and lab results in,
RiskAssessments out.

``IcuScoringStage.process(envelope) -> list[Envelope]`` feeds the envelope's Observations
(one resource, a Bundle or an array — already through de-identification and the
minimum-necessary stage) to an in-process ``ScoringService`` — the same code as the HTTP
endpoints — and emits one envelope per score holding the FHIR RiskAssessment. Each output is
``envelope.derive(...)``: its lineage ends with the input message id, and the RiskAssessment's
``basis`` lists the Observation ids, so revocation can find and retract it. Attributes name
the NEWS2 total and band, and when lab results are held the SOFA-style lab subtotal and
whether lactate is elevated.
"""

from __future__ import annotations

import orjson

from clinflow.envelope import Envelope
from clinflow.errors import InputRejected
from clinflow.scoring.fhir_io import observations_from_body
from clinflow.scoring.identifiers import subject_patient
from clinflow.scoring.service import ScoringService


class IcuScoringStage:
    """``process(envelope) -> list[Envelope]`` over a shared ``ScoringService``."""

    def __init__(self, service: ScoringService) -> None:
        self.service = service
        self.name = "scoring:icu"

    def flush(self) -> None:
        """End of a batch: the batch's inputs into the scoring store, one transaction."""
        self.service.save_remembered()

    def process(self, envelope: Envelope) -> list[Envelope]:
        where = f"{self.name}:{envelope.message_id}"
        try:
            body = orjson.loads(envelope.payload)
        except orjson.JSONDecodeError as exc:
            raise InputRejected("payload is not JSON", where) from exc
        resources = [resource for _, resource in observations_from_body(body, where)]
        if not resources:
            return []
        if subject_patient(resources) != envelope.patient:
            raise InputRejected("Observation subject is not the envelope's patient", where)
        outputs = []
        for score in self.service.ingest_many(resources, defer_store=True):
            attributes = {
                **envelope.attributes,
                "score": "news2",
                "news2_total": str(score.news2.total),
                "risk_band": score.news2.band.value,
                "partial": "true" if score.news2.partial else "false",
            }
            labs = score.labs
            if labs is not None and not labs.empty:
                attributes["sofa_labs"] = str(labs.subtotal)
                if labs.lactate_elevated is not None:
                    attributes["lactate_elevated"] = "true" if labs.lactate_elevated else "false"
                if labs.cardiovascular.points is not None:
                    attributes["sofa_cardiovascular"] = str(labs.cardiovascular.points)
            if score.alert is not None:
                attributes["alert_id"] = score.alert.alert_id
            payload = orjson.dumps(score.risk_assessment())
            outputs.append(envelope.derive(payload, attributes=attributes))
        return outputs
