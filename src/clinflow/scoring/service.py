"""The scoring service: the in-process Python API that the HTTP app also calls (same code).

``ScoringService`` holds per-patient state (vital-sign windows, scores, alerts, triage results)
in memory, keyed by pseudonym, and implements ``clinflow.interfaces.RetractionTarget`` so
consent revocation can delete all of it. Every entry point enforces the endpoint's
minimum-necessary policy (``policies/endpoints.yaml``) before reading anything. Scores and
alerts are emitted to an injected ``AuditSink`` when one is given (``None`` in the hot-path
benchmark). Mock clinical models for simulation, labelled so in every output.

One module per concept, combined here: what the service holds and the queries over it
(``scoring.state``), ICU scoring (``scoring.icu``), triage (``scoring.triage_service``) and
retraction (``scoring.retraction``); results are ``scoring.scores``.
"""

from __future__ import annotations

from clinflow.scoring.icu import IcuScoring
from clinflow.scoring.retraction import ScoringRetraction
from clinflow.scoring.scores import IcuScore, TriageScore
from clinflow.scoring.triage_service import TriageScoring

__all__ = ["IcuScore", "ScoringService", "TriageScore"]


class ScoringService(IcuScoring, TriageScoring, ScoringRetraction):
    """ICU (NEWS2 + qSOFA + alerts) and triage scoring, in process. ``name`` for retraction."""
