"""``policies/endpoints.yaml``: each scoring endpoint's minimum-necessary field list.

Validated on load: the YAML's shape (pydantic, ``extra="forbid"``), every field name known to
the field catalog, no endpoint listing a prohibited attribute (race, ethnicity, ...), codes
written ``system|code``. Errors are ``PolicyError`` as ``file:line: endpoint: field: message``
(:mod:`clinflow.policy_loader`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from clinflow.config import policies_dir
from clinflow.errors import PolicyError
from clinflow.policy_loader import PolicyDocument, PolicyModel, Shape, read_document
from clinflow.scoring.alerts import AlertPolicy
from clinflow.scoring.fields import FIELD_CATALOG
from clinflow.scoring.news2 import RiskBand, Staleness
from clinflow.scoring.vitals import Parameter

POLICY_FILE = "endpoints.yaml"
SHAPE = Shape(rule_maps=frozenset({"endpoints"}))


class FhirPolicy(PolicyModel):
    resource_types: tuple[str, ...] = ("Observation",)
    observation_elements: tuple[str, ...]
    codes: tuple[str, ...]
    # MedicationAdministration (vasoactive infusions): its elements and medication codes
    medication_administration_elements: tuple[str, ...] = ()
    medication_codes: tuple[str, ...] = ()

    def code_pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset((c.split("|", 1)[0], c.split("|", 1)[1]) for c in self.codes)

    def medication_code_pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(
            (c.split("|", 1)[0], c.split("|", 1)[1]) for c in self.medication_codes
        )

    def elements_for(self, resource_type: str) -> tuple[str, ...]:
        if resource_type == "MedicationAdministration":
            return self.medication_administration_elements
        return self.observation_elements


class StalenessSettings(PolicyModel):
    """How old a reading may be and still be scored (minutes); per-parameter overrides."""

    default_max_age_minutes: float = Field(default=240, gt=0)
    per_parameter_minutes: dict[Parameter, float] = Field(default_factory=dict)

    def to_staleness(self) -> Staleness:
        return Staleness(
            default_max_age_s=self.default_max_age_minutes * 60,
            per_parameter={p: m * 60 for p, m in self.per_parameter_minutes.items()},
        )


class AlertingSettings(PolicyModel):
    """Alert escalation settings (see clinflow.scoring.alerts)."""

    min_band: RiskBand = RiskBand.MEDIUM
    rearm_at_or_below: int = Field(default=3, ge=0, le=20)
    suppression_window_minutes: float = Field(default=60, ge=0)
    renotify_unacknowledged_minutes: float | None = Field(default=None, gt=0)

    def to_policy(self) -> AlertPolicy:
        renotify = self.renotify_unacknowledged_minutes
        return AlertPolicy(
            min_band=self.min_band,
            rearm_at_or_below=self.rearm_at_or_below,
            suppression_window_s=self.suppression_window_minutes * 60,
            renotify_unacknowledged_s=renotify * 60 if renotify is not None else None,
        )


class EndpointPolicy(PolicyModel):
    name: str = ""
    description: str
    purpose: str
    fields: tuple[str, ...] = Field(min_length=1)
    fhir: FhirPolicy | None = None
    staleness: StalenessSettings | None = None
    alerting: AlertingSettings | None = None


class EndpointsPolicy(PolicyModel):
    version: int
    prohibited: tuple[str, ...]
    endpoints: dict[str, EndpointPolicy]
    source: str = ""
    sha256: str = ""

    def held_purposes(self) -> frozenset[str]:
        """Purposes of use the scoring endpoints hold data for (a revocation of other
        purposes leaves their data alone)."""
        return frozenset(endpoint.purpose for endpoint in self.endpoints.values())

    def endpoint(self, name: str) -> EndpointPolicy:
        try:
            return self.endpoints[name]
        except KeyError as exc:
            raise PolicyError(self.source, 0, name, "-", "no such endpoint") from exc


def default_policy_path() -> Path:
    """``endpoints.yaml`` in the policy set (``$CLINFLOW_POLICIES_DIR`` or the shipped one)."""
    return policies_dir() / POLICY_FILE


def parse_policy(document: PolicyDocument, known_fields: Iterable[str]) -> EndpointsPolicy:
    """Validate a parsed document; ``PolicyError`` names the file, line, endpoint and field."""
    policy = document.validate(EndpointsPolicy)
    known = set(known_fields)
    prohibited = set(policy.prohibited)
    endpoints = {}
    for name, endpoint in policy.endpoints.items():
        seen: set[str] = set()
        for index, field_name in enumerate(endpoint.fields):
            where = ("endpoints", name, "fields", index)
            if field_name in prohibited:
                raise document.error(where, f"'{field_name}' is prohibited for every endpoint")
            if field_name not in known:
                raise document.error(where, f"unknown field '{field_name}'")
            if field_name in seen:
                raise document.error(where, f"duplicate field '{field_name}'")
            seen.add(field_name)
        if endpoint.fhir is not None:
            fhir = endpoint.fhir
            for key, codes in (("codes", fhir.codes), ("medication_codes", fhir.medication_codes)):
                for index, code in enumerate(codes):
                    system, _, value = code.partition("|")
                    if not system or not value:
                        raise document.error(
                            ("endpoints", name, "fhir", key, index), "expected system|code"
                        )
            for key, elements in (
                ("observation_elements", fhir.observation_elements),
                ("medication_administration_elements", fhir.medication_administration_elements),
            ):
                for index, element in enumerate(elements):
                    if element.lower() in prohibited or "extension" in element.lower():
                        raise document.error(
                            ("endpoints", name, "fhir", key, index),
                            f"'{element}' may carry prohibited attributes",
                        )
        endpoints[name] = endpoint.model_copy(update={"name": name})
    return policy.model_copy(update={"endpoints": endpoints, "source": document.source})


def load_policy(path: str | os.PathLike[str] | None = None) -> EndpointsPolicy:
    """Load and validate the endpoints policy (file errors become ``PolicyError``)."""
    document = read_document(path if path is not None else default_policy_path(), SHAPE)
    policy = parse_policy(document, FIELD_CATALOG)
    return policy.model_copy(update={"sha256": hashlib.sha256(document.raw).hexdigest()})


@lru_cache(maxsize=4)
def cached_policy(path: str | None = None) -> EndpointsPolicy:
    return load_policy(path)
