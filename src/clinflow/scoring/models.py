"""Request models built from ``policies/endpoints.yaml`` (minimum necessary).

``FIELD_CATALOG`` (``clinflow.scoring.fields``) says what each *allowed-able* field is (type,
bounds, meaning); the policy says which of them an endpoint may receive. Each request model has
exactly the policy's fields and ``extra="forbid"``, so a request carrying race, ethnicity or any
unlisted field fails validation (HTTP 422 naming the field). The FHIR variants get an
Observation model whose elements are the policy's ``observation_elements`` (also
``extra="forbid"``).
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

from clinflow.scoring.fields import FIELD_CATALOG
from clinflow.scoring.policy import EndpointPolicy

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
