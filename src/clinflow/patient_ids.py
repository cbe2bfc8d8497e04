"""One rule for a FHIR Patient's medical record number (the patient key of every stage).

The MRN is the value of the first ``Patient.identifier`` whose ``type.coding`` has code
``MR`` (HL7 v2 table 0203, what US Core and most EHR exports use) or ``MRN`` (a local code
some vendors send in its place). Ingest, consent loading and FHIR de-identification all
key a patient by it, so they must agree on it; malformed entries are skipped, not fatal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MRN_TYPE_CODES = frozenset({"MR", "MRN"})
# Where a FHIR resource names the patient it belongs to (Observation.subject, Consent.patient,
# Coverage.beneficiary): the streaming runtime's ingest and FHIR de-identification read these.
PATIENT_REFERENCE_FIELDS = ("subject", "patient", "beneficiary")


def patient_mrn(patient: Mapping[str, Any]) -> str | None:
    """The patient's MRN, or None when no identifier carries an MR/MRN type code."""
    identifiers = patient.get("identifier")
    if not isinstance(identifiers, list):
        return None
    for identifier in identifiers:
        if not isinstance(identifier, dict):
            continue
        id_type = identifier.get("type")
        codings = id_type.get("coding") if isinstance(id_type, dict) else None
        if not isinstance(codings, list):
            continue
        for coding in codings:
            code = coding.get("code") if isinstance(coding, dict) else None
            if isinstance(code, str) and code in MRN_TYPE_CODES:
                value = identifier.get("value")
                if isinstance(value, str) and value:
                    return value
    return None


# A patient pseudonym (``Pseudonymizer.patient_pseudonym``): "PT-" + a keyed hex token. Every
# place that accepts a patient from outside (CLI, audit-query API, consent API, scoring
# endpoints, audit entries) checks it against this one pattern, so an MRN or a name can
# never be taken for a pseudonym.
PSEUDONYM_PREFIX = "PT-"
PSEUDONYM_PATTERN = r"^PT-[0-9a-f]{8,64}$"
PSEUDONYM_RE = re.compile(PSEUDONYM_PATTERN)
