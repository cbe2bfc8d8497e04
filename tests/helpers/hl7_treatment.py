"""An HL7 v2 message's resources as the ICU endpoint receives them, without the runtime:
mapped to FHIR, subject rewritten to the pseudonym, stripped to the minimum necessary."""

from __future__ import annotations

from typing import Any

from clinflow.ehr.hl7.fhir_map import validate_and_map
from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
from clinflow.scoring.policy import cached_policy


def treatment_view(message: str, resource_type: str, patient: str) -> list[dict[str, Any]]:
    """The ``resource_type`` resources of ``message`` for the ICU endpoint, about ``patient``."""
    mapped = validate_and_map(message)
    resources = [
        {**r, "subject": {"reference": f"Patient/{patient}"}}
        for r in mapped.resources
        if r["resourceType"] == resource_type
    ]
    kept, _ = MinimumNecessaryStage(cached_policy().endpoint("icu")).strip_body(resources)
    assert isinstance(kept, list)
    return kept
