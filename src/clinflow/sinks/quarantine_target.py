"""Quarantine as a retraction target: dead letters held for a patient are purged on revocation.

Quarantined inputs are raw (pre-de-identification) and not released for any purpose, so they
are purged only when a revocation covers every purpose the policy lets a patient withdraw
(``RetractionRequest.purposes`` empty); a research-only withdrawal leaves them for treatment
replay. See docs/adr/0042-retraction-targets.md.
"""

from __future__ import annotations

from clinflow.interfaces import RetractionReport, RetractionRequest
from clinflow.quarantine import Quarantine


class QuarantineRetraction:
    """``RetractionTarget`` adapter over ``clinflow.quarantine.Quarantine``."""

    name = "quarantine"

    def __init__(self, quarantine: Quarantine) -> None:
        self.quarantine = quarantine

    def retract(self, request: RetractionRequest) -> RetractionReport:
        if request.purposes:
            return RetractionReport(
                self.name, 0, details=("kept: quarantine holds no purpose-released data",)
            )
        deleted = self.quarantine.purge_patient(request.patient)
        return RetractionReport(self.name, deleted)
