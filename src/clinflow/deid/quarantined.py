"""Which patient a quarantined raw input belongs to, so the quarantine can link it.

An input rejected before the patient was known (an unreadable file name, a Bundle whose type
is wrong, an input quarantined at ingest) is held under the project quarantine key; once its
payload can be attributed to one patient — DICOM by PatientID, FHIR by the Patient or the
subject it names — ``Quarantine.link_unknown`` re-seals it under that patient's data key, so
a revocation purges and shreds it (ADR 0085). The pseudonym is the same keyed one the
de-identifiers derive from the MRN.
"""

from __future__ import annotations

from clinflow.deid.dicom.batch import dicom_patient_pseudonym
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.quarantine import Resolver

DICOM_MAGIC_AT = 128


def patient_resolver(pseudonymizer: Pseudonymizer) -> Resolver:
    """(stage, payload) -> the patient's pseudonym, or None when no single patient is named."""
    from clinflow.deid.fhir.engine import FhirDeidentifier
    from clinflow.deid.fhir.io import FhirDeidRunner
    from clinflow.deid.fhir.policy import load_policy

    fhir: list[FhirDeidRunner] = []  # built on first FHIR payload (policy load), then shared

    def resolve(stage: str, payload: bytes) -> str | None:
        if stage == "deid-dicom" or payload[DICOM_MAGIC_AT : DICOM_MAGIC_AT + 4] == b"DICM":
            return dicom_patient_pseudonym(payload, pseudonymizer)
        if payload.lstrip()[:1] != b"{":
            return None
        if not fhir:
            fhir.append(FhirDeidRunner(FhirDeidentifier(load_policy(None), pseudonymizer)))
        return fhir[0].patient_of_payload(payload)

    return resolve
