"""``policies/endpoints.yaml``: each scoring endpoint's minimum-necessary field list.

Validated on load: the YAML's shape (pydantic, ``extra="forbid"``), every field name known to
the field catalog, no endpoint listing a prohibited attribute (race, ethnicity, ...), codes
written ``system|code``. Errors are ``PolicyError`` naming the file, the rule and the field.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clinflow.config import policies_dir
from clinflow.errors import PolicyError
from clinflow.scoring.alerts import AlertPolicy
from clinflow.scoring.fields import FIELD_CATALOG
from clinflow.scoring.news2 import RiskBand, Staleness
from clinflow.scoring.vitals import Parameter

POLICY_DIR_ENV = "CLINFLOW_POLICY_DIR"
POLICY_FILE = "endpoints.yaml"


class FhirPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resource_types: tuple[str, ...] = ("Observation",)
    observation_elements: tuple[str, ...]
    codes: tuple[str, ...]

    def code_pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset((c.split("|", 1)[0], c.split("|", 1)[1]) for c in self.codes)


class StalenessSettings(BaseModel):
    """How old a reading may be and still be scored (minutes); per-parameter overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_max_age_minutes: float = Field(default=240, gt=0)
    per_parameter_minutes: dict[Parameter, float] = Field(default_factory=dict)

    def to_staleness(self) -> Staleness:
        return Staleness(
            default_max_age_s=self.default_max_age_minutes * 60,
            per_parameter={p: m * 60 for p, m in self.per_parameter_minutes.items()},
        )


class AlertingSettings(BaseModel):
    """Alert escalation settings (see clinflow.scoring.alerts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class EndpointPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    description: str
    purpose: str
    fields: tuple[str, ...] = Field(min_length=1)
    fhir: FhirPolicy | None = None
    staleness: StalenessSettings | None = None
    alerting: AlertingSettings | None = None


class EndpointsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    prohibited: tuple[str, ...]
    endpoints: dict[str, EndpointPolicy]
    source: str = ""
    sha256: str = ""

    def endpoint(self, name: str) -> EndpointPolicy:
        try:
            return self.endpoints[name]
        except KeyError as exc:
            raise PolicyError(f"{self.source}: endpoints.{name}: no such endpoint") from exc


def default_policy_path() -> Path:
    """``$CLINFLOW_POLICY_DIR/endpoints.yaml``, else the repository's ``policies/``."""
    env = os.environ.get(POLICY_DIR_ENV)
    if env:
        return Path(env) / POLICY_FILE
    return policies_dir() / POLICY_FILE


def _loc(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_policy(raw: Any, source: str, known_fields: Iterable[str]) -> EndpointsPolicy:
    """Validate a loaded YAML document; ``PolicyError`` names the file, rule and field."""
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: top level must be a mapping")
    try:
        policy = EndpointsPolicy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicyError(f"{source}: {_loc(first['loc'])}: {first['msg']}") from exc
    known = set(known_fields)
    prohibited = set(policy.prohibited)
    endpoints = {}
    for name, endpoint in policy.endpoints.items():
        seen: set[str] = set()
        for index, field_name in enumerate(endpoint.fields):
            where = f"{source}: endpoints.{name}.fields[{index}]"
            if field_name in prohibited:
                raise PolicyError(f"{where}: '{field_name}' is prohibited for every endpoint")
            if field_name not in known:
                raise PolicyError(f"{where}: unknown field '{field_name}'")
            if field_name in seen:
                raise PolicyError(f"{where}: duplicate field '{field_name}'")
            seen.add(field_name)
        if endpoint.fhir is not None:
            for index, code in enumerate(endpoint.fhir.codes):
                system, _, value = code.partition("|")
                if not system or not value:
                    raise PolicyError(
                        f"{source}: endpoints.{name}.fhir.codes[{index}]: expected system|code"
                    )
            for index, element in enumerate(endpoint.fhir.observation_elements):
                if element.lower() in prohibited or "extension" in element.lower():
                    raise PolicyError(
                        f"{source}: endpoints.{name}.fhir.observation_elements[{index}]: "
                        f"'{element}' may carry prohibited attributes"
                    )
        endpoints[name] = endpoint.model_copy(update={"name": name})
    return policy.model_copy(update={"endpoints": endpoints, "source": source})


def load_policy(path: str | os.PathLike[str] | None = None) -> EndpointsPolicy:
    """Load and validate the endpoints policy (file errors become ``PolicyError``)."""
    policy_path = Path(path) if path is not None else default_policy_path()
    try:
        data = policy_path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{policy_path}: cannot read policy ({exc.strerror})") from exc
    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{policy_path}: not valid YAML") from exc
    policy = parse_policy(raw, str(policy_path), FIELD_CATALOG)
    return policy.model_copy(update={"sha256": hashlib.sha256(data).hexdigest()})


@lru_cache(maxsize=4)
def cached_policy(path: str | None = None) -> EndpointsPolicy:
    return load_policy(path)
