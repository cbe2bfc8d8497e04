"""The streaming pipeline's graph, built from one deployment's stores.

```
ingest ─► consent-events ─┬─► treatment-select ─► treatment-gate ─► minimum-necessary ─► icu-score ─► score-sink
                          └─► research-select ─► deid-dicom ─► deid-fhir ─► research-release
```

The hops are the capabilities' own stage classes (consent gate, minimum necessary, ICU
scoring, DICOM/FHIR de-identification, the guarded research sink); only the small
routing stages (select, release bookkeeping) live here. The same graph runs embedded
(``runtime.embedded``) and on Kafka (``runtime.kafka``).
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import orjson

from clinflow.audit import events as audit_events
from clinflow.consent.gate import AGREEMENT_ATTR, ConsentGate, GuardedSink
from clinflow.consent.stream import ConsentEventStage
from clinflow.envelope import Envelope, SourceKind
from clinflow.interfaces import AuditSink
from clinflow.runtime.graph import Graph, Hop, Stage
from clinflow.runtime.ingest import (
    LABORATORY,
    VITAL_SIGNS,
    IngestStage,
    PatientDirectory,
    bundle_resources,
    is_laboratory,
    is_vital_sign,
    route_key,
)
from clinflow.scoring.fhir_io import is_scored_medication, is_scored_observation

if TYPE_CHECKING:
    from clinflow.deid.fhir.io import FhirDeidRunner, Validation
    from clinflow.lineage import LineageIndex
    from clinflow.runtime.deployment import Deployment

TREAT = "TREAT"
RESEARCH = "HRESCH"
ICU_DESTINATION = "scoring-icu"
RESEARCH_DESTINATION = "research-store"
RESEARCH_LINGER_S = 0.01  # how long the research path waits to batch (embedded runtime)
AGENT = "clinflow-pipeline"


MEDICATION_ADMINISTRATION = "MedicationAdministration"  # ingest lists resource types as categories


class TreatmentSelect:
    """The vital-sign Observations of a FHIR envelope, headed for the ICU endpoint (TREAT).

    Treatment data is identified data for a covered purpose, but the endpoint only ever sees
    the pseudonym: the subject reference is rewritten here, and the minimum-necessary stage
    strips everything else the endpoint may not receive.
    """

    def process(self, envelope: Envelope) -> list[Envelope]:
        categories = envelope.attributes.get("category", "").split(",")
        if envelope.source is not SourceKind.FHIR or (
            VITAL_SIGNS not in categories
            and LABORATORY not in categories
            and MEDICATION_ADMINISTRATION not in categories
        ):
            return []
        document = orjson.loads(envelope.payload)
        vitals, labs, infusions = [], [], []
        for resource in bundle_resources(document):
            if is_vital_sign(resource):
                vitals.append(resource)
            elif is_laboratory(resource) and is_scored_observation(resource):
                labs.append(resource)  # the lab results ICU scoring reads (SOFA, lactate)
            elif is_scored_medication(resource):
                infusions.append(resource)  # vasoactive infusions (SOFA cardiovascular)
        if not vitals and not labs and not infusions:
            return []
        kinds = [
            k
            for k, found in (
                (VITAL_SIGNS, vitals),
                (LABORATORY, labs),
                (MEDICATION_ADMINISTRATION, infusions),
            )
            if found
        ]
        vitals += labs + infusions
        subject = {"reference": f"Patient/{envelope.patient}"}
        observations = [{**resource, "subject": subject} for resource in vitals]
        observations.sort(
            key=lambda r: str(r.get("effectiveDateTime") or r.get("occurenceDateTime") or "")
        )
        return [
            envelope.derive(
                orjson.dumps(observations),
                purpose=TREAT,
                attributes={"category": ",".join(kinds), "path": envelope.attributes["path"]},
            )
        ]


class ResearchSelect:
    """Every FHIR and DICOM input, headed for the research store (purpose HRESCH)."""

    def process(self, envelope: Envelope) -> list[Envelope]:
        if envelope.source not in (SourceKind.FHIR, SourceKind.DICOM):
            return []
        return [replace(envelope, purpose=RESEARCH)]


@dataclass
class ScoreSink:
    """Records each RiskAssessment the ICU endpoint produced in the lineage index (one
    transaction per batch: ``flush`` runs before the batch is committed and handed on)."""

    lineage: LineageIndex
    scores: int = 0
    alerts: int = 0
    pending: list[Envelope] = field(default_factory=list)

    def process(self, envelope: Envelope) -> list[Envelope]:
        self.pending.append(envelope)
        self.scores += 1
        self.alerts += "alert_id" in envelope.attributes
        return [envelope]

    def flush(self) -> None:
        if self.pending:
            self.lineage.record_releases(self.pending, ICU_DESTINATION)
            self.pending = []


@dataclass
class ResearchRelease:
    """Through the research gate (re-checked under the patient's lock) into the store; each
    release is a disclosure AuditEvent (45 CFR 164.528 accounting).

    Releases are batched: ``process`` checks the envelope can be decided (a bad one is
    rejected on its own) and keeps it; ``flush`` (end of the runtime's batch, before the
    batch's AuditEvents are committed) releases them per patient through the guarded sink,
    one store transaction per batch, and returns what was written."""

    sink: GuardedSink
    audit: AuditSink
    released: dict[str, int] = field(default_factory=dict)  # source kind -> count
    pending: list[Envelope] = field(default_factory=list)

    def process(self, envelope: Envelope) -> list[Envelope]:
        self.sink.gate.query_for(envelope)  # raises InputRejected for this envelope alone
        self.pending.append(envelope)
        return []

    def flush(self) -> list[Envelope]:
        pending, self.pending = self.pending, []
        written = self.sink.release(pending)
        for item in written:
            kind = item.source.value
            self.released[kind] = self.released.get(kind, 0) + 1
            self.audit.append(
                audit_events.disclosure(
                    patient=item.patient,
                    recipient=RESEARCH_DESTINATION,
                    purpose=RESEARCH,
                    message_ids=[item.message_id],
                    agent=AGENT,
                    data_categories=[item.attributes.get("category", kind).split(",")[0]],
                    reason=_release_basis(item),
                )
            )
        return written


def _release_basis(envelope: Envelope) -> str | None:
    """The disclosure's basis: the data use agreement the research gate found (ADR 0094)."""
    agreement = envelope.attributes.get(AGREEMENT_ATTR)
    return f"consent and data use agreement {agreement}" if agreement else None


@dataclass
class Counted:
    """A stage wrapped to count what it emits per source kind (for the run report)."""

    inner: Stage
    emitted: dict[str, int] = field(default_factory=dict)

    def process(self, envelope: Envelope) -> list[Envelope]:
        outputs = self.inner.process(envelope)
        for output in outputs:
            kind = output.source.value
            self.emitted[kind] = self.emitted.get(kind, 0) + 1
        return outputs


@dataclass
class PipelineStages:
    """The stage objects of one graph, kept so reports can read their counters."""

    ingest: IngestStage
    consent: ConsentEventStage
    treatment_gate: ConsentGate
    research_gate: ConsentGate
    score_sink: ScoreSink
    release: ResearchRelease
    deid_dicom: Counted
    fhir_runner: FhirDeidRunner
    graph: Graph


def build_pipeline(
    deployment: Deployment,
    audit: AuditSink,
    *,
    validation: Validation = "input",
    deid_workers: int = 0,
) -> PipelineStages:
    """The streaming graph over ``deployment``'s stores; every stage audits to ``audit``
    (the runtime's buffered sink, committed once per batch). ``validation``: how the FHIR
    de-identification stage validates inputs (``input``: fhir.resources models; ``shallow``:
    type, id and element names only). ``deid_workers`` > 0: the embedded runtime runs FHIR
    de-identification in that many worker processes (ADR 0110); 0 keeps it in-process."""
    from clinflow.consent.retention import research_release_agreements
    from clinflow.deid.dicom.batch import DicomDeidStage
    from clinflow.deid.dicom.engine import DicomDeidentifier
    from clinflow.deid.dicom.profile import compile_policy
    from clinflow.deid.fhir.engine import build_fhir_deidentifier
    from clinflow.deid.fhir.io import FhirDeidRunner
    from clinflow.deid.fhir.stage import FhirDeidStage
    from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
    from clinflow.scoring.stage import IcuScoringStage

    registry = deployment.consent.registry
    scoring = deployment.scoring()
    scoring.audit = audit
    directory = PatientDirectory(deployment.data_dir.ledger_db, deployment.pseudonymizer)
    ingest = IngestStage(
        deployment.pseudonymizer,
        audit,
        directory,
        deployment.lineage.merges,
        on_merge=deployment.consent.revocations.extend_to_merged,
    )
    consent = ConsentEventStage(deployment.consent.revocations)
    treatment_gate = ConsentGate(registry, audit, destination=ICU_DESTINATION)
    # consent AND a data use agreement in force (ADR 0094)
    research_gate = ConsentGate(
        registry,
        audit,
        destination=RESEARCH_DESTINATION,
        agreements=research_release_agreements(deployment.data_dir),
    )
    dicom_engine = DicomDeidentifier(compile_policy(None, None), deployment.pseudonymizer)
    fhir_engine = build_fhir_deidentifier(deployment.pseudonymizer, deployment.datakeys)
    fhir_runner = FhirDeidRunner(fhir_engine, deployment.quarantine, audit, validation)
    score_sink = ScoreSink(deployment.lineage)
    release = ResearchRelease(GuardedSink(research_gate, deployment.research.write_many), audit)
    deid_dicom = Counted(DicomDeidStage(dicom_engine, deployment.quarantine, audit))
    deid_fhir = FhirDeidStage(fhir_runner, directory.patient_key)
    if deid_workers > 0:
        from clinflow.runtime.offload import DeidWorkers

        deid_fhir.offload = DeidWorkers(deid_workers, deployment.data_dir.root, validation)
    else:  # the first note's lazy loads (~0.5 s) paused the loop: the p99 of a short run
        deid_fhir.warm_up()
    hops = [
        Hop("ingest", ingest, ("consent-events",), key=route_key),
        Hop("consent-events", consent, ("treatment-select", "research-select")),
        Hop("treatment-select", TreatmentSelect(), ("treatment-gate",)),
        Hop("treatment-gate", treatment_gate, ("minimum-necessary",)),
        Hop(
            "minimum-necessary",
            MinimumNecessaryStage(scoring.policy.endpoint("icu"), audit),
            ("icu-score",),
        ),
        Hop("icu-score", IcuScoringStage(scoring), ("score-sink",)),
        Hop("score-sink", score_sink),
        # the research path is not the scoring path: it batches up to RESEARCH_LINGER_S of
        # input, so de-identification (in workers: fewer round trips), release and lineage
        # take one transaction and one audit commit for many messages instead of a few
        Hop("research-select", ResearchSelect(), ("deid-dicom",), linger_s=RESEARCH_LINGER_S),
        Hop("deid-dicom", deid_dicom, ("deid-fhir",)),
        Hop("deid-fhir", deid_fhir, ("research-release",)),
        Hop("research-release", release),
    ]
    graph = Graph.of(hops, entry="ingest")
    graph.closers.append(directory.close)
    if deid_fhir.offload is not None:
        graph.closers.append(deid_fhir.offload.close)
    return PipelineStages(
        ingest,
        consent,
        treatment_gate,
        research_gate,
        score_sink,
        release,
        deid_dicom,
        fhir_runner,
        graph,
    )
