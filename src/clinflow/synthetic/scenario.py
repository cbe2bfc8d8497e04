"""Scenario files: the cohort mix a ``clinflow generate`` run produces, as validated YAML.

A scenario lives in ``synthetic/*.yaml`` (shipped in the package as ``clinflow/scenarios``).
Unknown keys are refused (``extra="forbid"``) and every error is a ``PolicyError`` reading
``file:line: -: field: message`` (:mod:`clinflow.policy_loader`), so a typo never silently falls
back to a default.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from clinflow.policy_loader import PolicyModel, Shape, parse_document, read_document

Purpose = Literal["TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH", "HTEST"]
Modality = Literal["CT", "MR", "CR", "DX", "US", "SC", "OT"]


def _default_permits() -> dict[Purpose, float]:
    return {"TREAT": 1.0, "HRESCH": 0.7, "HOPERAT": 0.9, "PUBHLTH": 0.8}


def _default_modalities() -> dict[Modality, float]:
    return {"CT": 0.3, "MR": 0.2, "CR": 0.2, "US": 0.15, "DX": 0.1, "SC": 0.05}


class EncounterMix(PolicyModel):
    """Relative weights of the index encounter's setting."""

    ed: float = Field(default=0.5, ge=0)
    icu: float = Field(default=0.5, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> EncounterMix:
        if self.ed + self.icu <= 0:
            raise ValueError("at least one of ed/icu must have a positive weight")
        return self


class ConsentSettings(PolicyModel):
    """Per purpose of use: the probability a patient's consent for it is a permit."""

    permit_probability: dict[Purpose, float] = Field(default_factory=_default_permits)
    revocation_fraction: float = Field(default=0.1, ge=0, le=1)  # of research permits
    revocation_purpose: Purpose = "HRESCH"
    revocation_after_hours: float = Field(default=12.0, ge=0)  # after the scenario start

    @field_validator("permit_probability")
    @classmethod
    def _probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        for purpose, probability in value.items():
            if not 0 <= probability <= 1:
                raise ValueError(f"probability for {purpose} must be between 0 and 1")
        return value


class Scenario(PolicyModel):
    """Everything that shapes a synthetic cohort except its size and seed (both overridable)."""

    name: str = "default"
    description: str = ""
    patients: int = Field(default=20, ge=1, le=1_000_000)
    start: datetime = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    vitals_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    vitals_interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    deterioration_fraction: float = Field(default=0.15, ge=0, le=1)
    deterioration_patterns: tuple[Literal["sepsis", "respiratory_failure"], ...] = (
        "sepsis",
        "respiratory_failure",
    )
    elderly_fraction: float = Field(default=0.08, ge=0, le=1)  # ages over 89
    encounter_mix: EncounterMix = EncounterMix()
    notes_per_patient: int = Field(default=2, ge=0, le=20)
    imaging_fraction: float = Field(default=0.2, ge=0, le=1)
    modality_mix: dict[Modality, float] = Field(default_factory=_default_modalities)
    burned_in_fraction: float = Field(default=0.1, ge=0, le=1)
    consent: ConsentSettings = ConsentSettings()
    fhir_version: Literal["R4B", "R5"] = "R5"
    # Lab results (lactate, creatinine, platelets, bilirubin, leukocytes) every this many
    # hours of the stay, worsening with a deterioration; 0: none (ADR 0111).
    labs_interval_hours: float = Field(default=0.0, ge=0, le=24 * 7)
    # Septic patients get a norepinephrine infusion whose pump records the rate every this
    # many minutes (MedicationAdministration; SOFA cardiovascular); 0: none (ADR 0111).
    vasopressor_record_minutes: float = Field(default=0.0, ge=0, le=24 * 60)
    # Share of patients registered a second time (a duplicate record with its own MRN, sent
    # as a Patient / ADT^A28) and merged into their own record later (Patient.link replaces /
    # ADT^A40). Stream only, like consent withdrawals: the record files hold one Patient.
    duplicate_registration_fraction: float = Field(default=0.0, ge=0, le=1)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start must carry a timezone, e.g. 2026-01-05T08:00:00Z")
        return value.astimezone(UTC)

    @field_validator("modality_mix")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(weight < 0 for weight in value.values()):
            raise ValueError("needs at least one modality and non-negative weights")
        if sum(value.values()) <= 0:
            raise ValueError("weights must not all be zero")
        return value

    @property
    def vitals_points(self) -> int:
        return int(self.vitals_hours * 60 // self.vitals_interval_minutes)


SHAPE = Shape(kind="scenario")


def parse_scenario(text: str | bytes, source: str) -> Scenario:
    """Validate scenario YAML text; errors name ``source``, the line and the field."""
    return parse_document(text, source, SHAPE).validate(Scenario)


def load_scenario(path: Path | None) -> Scenario:
    """Read and validate a scenario YAML file; ``None`` gives the built-in default."""
    if path is None:
        return Scenario()
    return read_document(path, SHAPE).validate(Scenario)
