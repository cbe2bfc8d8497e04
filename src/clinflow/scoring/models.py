"""Request models built from ``policies/endpoints.yaml`` (minimum necessary).

``FIELD_CATALOG`` says what each *allowed-able* field is (type, bounds, meaning); the policy
says which of them an endpoint may receive. Each request model has exactly the policy's fields
and ``extra="forbid"``, so a request carrying race, ethnicity or any unlisted field fails
validation (HTTP 422 naming the field). The FHIR variants get an Observation model whose
elements are the policy's ``observation_elements`` (also ``extra="forbid"``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    create_model,
)

from clinflow.audit.events import PSEUDONYM_RE
from clinflow.scoring.policy import EndpointPolicy
from clinflow.scoring.triage import ChiefComplaint
from clinflow.scoring.vitals import Consciousness

PSEUDONYM_PATTERN = PSEUDONYM_RE.pattern  # clinflow pseudonyms (PT-<hex>)

# name -> (annotation, Field(...)). Only names in here may appear in the policy.
FIELD_CATALOG: dict[str, tuple[Any, Any]] = {
    "patient": (
        str,
        Field(pattern=PSEUDONYM_PATTERN, description="Patient pseudonym (never a source id)."),
    ),
    "observed_at": (
        AwareDatetime | None,
        Field(default=None, description="When the vitals were taken (default: now)."),
    ),
    "respiratory_rate": (float | None, Field(default=None, ge=0, le=120, description="/min")),
    "spo2": (float | None, Field(default=None, ge=0, le=100, description="SpO2 %")),
    "spo2_scale2": (
        bool,
        Field(default=False, description="Use NEWS2 SpO2 scale 2 (hypercapnic, target 88-92%)."),
    ),
    "supplemental_oxygen": (
        bool | None,
        Field(default=None, description="On supplemental oxygen (True) or air (False)."),
    ),
    "systolic_bp": (float | None, Field(default=None, ge=0, le=400, description="mmHg")),
    "heart_rate": (float | None, Field(default=None, ge=0, le=400, description="/min")),
    "consciousness": (
        Consciousness | None,
        Field(default=None, description="ACVPU: A, C (new confusion), V, P or U."),
    ),
    "gcs": (int | None, Field(default=None, ge=3, le=15, description="Glasgow Coma Scale total")),
    "temperature_c": (float | None, Field(default=None, ge=15, le=46, description="°C")),
    "age_years": (
        float,
        Field(ge=0, le=90, description="Age in years (fractions for infants; 90 means 90+)."),
    ),
    "chief_complaint": (ChiefComplaint, Field(description="Chief-complaint category.")),
    "expected_resources": (
        int,
        Field(ge=0, le=20, description="Expected number of different ED resources (ESI)."),
    ),
    "pain_score": (int | None, Field(default=None, ge=0, le=10, description="0-10")),
    "requires_immediate_intervention": (
        bool,
        Field(default=False, description="ESI decision point A: immediate life-saving need."),
    ),
    "high_risk_situation": (
        bool,
        Field(default=False, description="ESI decision point B: high-risk situation."),
    ),
}

_FORBID = ConfigDict(extra="forbid", frozen=True)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def build_request_model(endpoint: EndpointPolicy, suffix: str = "Request") -> type[BaseModel]:
    """Plain-JSON request model with exactly the endpoint's fields, others forbidden."""
    fields: dict[str, Any] = {name: FIELD_CATALOG[name] for name in endpoint.fields}
    model: type[BaseModel] = create_model(
        f"{_camel(endpoint.name)}{suffix}",
        __config__=_FORBID,
        __doc__=f"{endpoint.description} Fields limited by policies/endpoints.yaml.",
        **fields,
    )
    return model


def build_observation_model(endpoint: EndpointPolicy) -> type[BaseModel]:
    """FHIR Observation with only the policy's elements (values checked by fhir_io)."""
    assert endpoint.fhir is not None
    fields: dict[str, Any] = {}
    for element in endpoint.fhir.observation_elements:
        if element == "resourceType":
            fields[element] = (Literal["Observation"], ...)
        else:
            fields[element] = (Any, None)
    model: type[BaseModel] = create_model(
        f"{_camel(endpoint.name)}Observation",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Vital-sign Observation (FHIR vital-signs profile); other elements forbidden.",
        **fields,
    )
    return model


def build_bundle_model(endpoint: EndpointPolicy, observation: type[BaseModel]) -> type[BaseModel]:
    """FHIR Bundle whose entries hold only allowed Observations."""
    entry_fields: dict[str, Any] = {
        "fullUrl": (str | None, None),
        "resource": (observation, ...),
        "request": (Any, None),
    }
    entry: type[BaseModel] = create_model(
        f"{_camel(endpoint.name)}BundleEntry", __config__=ConfigDict(extra="forbid"), **entry_fields
    )
    bundle_fields: dict[str, Any] = {
        "resourceType": (Literal["Bundle"], ...),
        "id": (str | None, None),
        "meta": (Any, None),
        "type": (str | None, None),
        "timestamp": (str | None, None),
        "entry": (list[entry], Field(default_factory=list)),  # type: ignore[valid-type]
    }
    model: type[BaseModel] = create_model(
        f"{_camel(endpoint.name)}Bundle",
        __config__=ConfigDict(extra="forbid"),
        __doc__="A Bundle (collection) of one patient's vital-sign Observations.",
        **bundle_fields,
    )
    return model


def build_triage_fhir_model(
    endpoint: EndpointPolicy, observation: type[BaseModel], bundle: type[BaseModel]
) -> type[BaseModel]:
    """Triage over FHIR: the non-vital fields plus ``observations`` (Bundle or array)."""
    vitals = {
        "respiratory_rate",
        "spo2",
        "heart_rate",
        "systolic_bp",
        "consciousness",
        "temperature_c",
        "observed_at",
    }
    fields: dict[str, Any] = {
        name: FIELD_CATALOG[name] for name in endpoint.fields if name not in vitals
    }
    fields["observations"] = (
        fhir_body_type(bundle, observation),
        Field(description="A Bundle or JSON array of the patient's vital-sign Observations."),
    )
    model: type[BaseModel] = create_model(
        f"{_camel(endpoint.name)}FhirRequest",
        __config__=_FORBID,
        **fields,
    )
    return model


def _body_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, BaseModel):
        return "bundle" if "entry" in type(value).model_fields else "array"
    return "bundle"


def fhir_body_type(bundle: type[BaseModel], observation: type[BaseModel]) -> Any:
    """``Bundle | list[Observation]`` discriminated by shape, so errors name one path."""
    return Annotated[
        Annotated[bundle, Tag("bundle")] | Annotated[list[observation], Tag("array")],  # type: ignore[valid-type]
        Discriminator(_body_kind),
    ]


class AcknowledgeRequest(BaseModel):
    model_config = _FORBID

    acknowledged_by: str = Field(
        pattern=r"^[A-Za-z0-9._@-]{1,64}$", description="Clinician role or user id (no names)."
    )
    at: AwareDatetime | None = None


class RetractionBody(BaseModel):
    model_config = _FORBID

    purposes: list[str] = Field(default_factory=list)
    message_ids: list[str] = Field(default_factory=list)
    reason: str = Field(default="consent-revoked", max_length=64)
