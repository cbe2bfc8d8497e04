"""Stores clinflow controls downstream of the gate, and the registry of retraction targets."""

from clinflow.sinks.quarantine_target import QuarantineRetraction
from clinflow.sinks.registry import RetractionRegistry
from clinflow.sinks.research import ResearchRecord, ResearchStore

__all__ = ["QuarantineRetraction", "ResearchRecord", "ResearchStore", "RetractionRegistry"]
