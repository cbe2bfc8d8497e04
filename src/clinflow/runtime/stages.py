"""Building the existing stage objects for one embedded run (engines, gates, scoring).

Only construction lives here — the stages themselves are the de-identification, consent and
scoring packages' own classes, used unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clinflow.consent.gate import ConsentGate, GuardedSink
from clinflow.consent.service import ConsentService
from clinflow.deid.dicom.batch import DicomDeidStage
from clinflow.deid.fhir.io import FhirDeidRunner
from clinflow.interfaces import AuditSink

TREAT = "TREAT"
RESEARCH = "HRESCH"
ICU_DESTINATION = "scoring-icu"
RESEARCH_DESTINATION = "research-store"


def fhir_runner(service: ConsentService, audit: AuditSink) -> FhirDeidRunner:
    """The FHIR de-identifier as ``clinflow deid fhir`` builds it (safe-harbor, text policy)."""
    from clinflow.deid.fhir.engine import build_fhir_deidentifier

    engine = build_fhir_deidentifier(service.pseudonymizer, service.datakeys)
    return FhirDeidRunner(engine, service.quarantine, audit, "input")


def dicom_stage(service: ConsentService, audit: AuditSink) -> DicomDeidStage:
    """The DICOM de-identification stage with the default site policy (PS3.15 Annex E)."""
    from clinflow.deid.dicom.engine import DicomDeidentifier
    from clinflow.deid.dicom.profile import compile_policy

    engine = DicomDeidentifier(compile_policy(None, None), service.pseudonymizer)
    return DicomDeidStage(engine, service.quarantine, audit)


@dataclass
class Gates:
    """One consent gate per (purpose, destination) the demo releases to."""

    treatment: ConsentGate
    research: ConsentGate
    research_sink: GuardedSink

    @classmethod
    def build(cls, service: ConsentService, audit: AuditSink) -> Gates:
        treatment = ConsentGate(service.registry, audit, destination=ICU_DESTINATION)
        research = ConsentGate(service.registry, audit, destination=RESEARCH_DESTINATION)
        return cls(treatment, research, GuardedSink(research, service.research.write))


def staging_path(run_root: Path) -> Path:
    """Scratch folder for de-identified FHIR files before release (removed after release)."""
    return run_root / "staging"
