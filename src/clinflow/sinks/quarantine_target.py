"""Quarantine as a retraction target: dead letters held for a patient are purged on revocation.

Quarantined inputs are raw (pre-de-identification) and not released for any purpose, so they
are purged only when a revocation covers every purpose the policy lets a patient withdraw
(``RetractionRequest.purposes`` empty); a research-only withdrawal leaves them for treatment
replay. See docs/adr/0042-retraction-targets.md. Items held without a patient are first
linked where their payload now names one (``resolve``); the revocation then destroys the
patient's quarantine data key (docs/adr/0085-quarantine-sealed-at-rest.md).
"""

from __future__ import annotations

from clinflow.interfaces import RetractionReport, RetractionRequest
from clinflow.quarantine import Quarantine, Resolver


class QuarantineRetraction:
    """``RetractionTarget`` adapter over ``clinflow.quarantine.Quarantine``."""

    name = "quarantine"

    def __init__(self, quarantine: Quarantine, resolve: Resolver | None = None) -> None:
        self.quarantine = quarantine
        self.resolve = resolve

    def retract(self, request: RetractionRequest) -> RetractionReport:
        if request.purposes:
            return RetractionReport(
                self.name, 0, details=("kept: quarantine holds no purpose-released data",)
            )
        linked = self.quarantine.link_unknown(self.resolve) if self.resolve else 0
        deleted = self.quarantine.purge_patient(request.patient)
        details = (f"linked {linked} item(s) held without a patient first",) if linked else ()
        return RetractionReport(self.name, deleted, details=details)
