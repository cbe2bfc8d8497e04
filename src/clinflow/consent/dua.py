"""Data use agreements (``policies/dua/<id>.yaml``) and the rule a research release obeys.

A data use agreement (DUA) names a recipient, the purposes of use it covers (v3 ActReason
codes, as consents use them), the data classes it covers (``vitals``, ``notes``,
``imaging`` narrowed to some modalities, ...), the de-identification level the data must
meet at least (``limited_data_set`` < ``safe_harbor``), its period (dates, end inclusive, UTC)
and whether the recipient may hold re-identification keys.

``AgreementSet.decide(purpose, classes, when, held=...)`` answers: which agreement in force at
``when`` covers this purpose and at least one of these data classes, for data de-identified to
level ``held``? The first such agreement by id permits; none means deny, with a reason naming
what was missing (docs/adr/0094-data-use-agreements.md). It is pure: no clock, no I/O.

Agreements load through the project's policy loader (one error format, ``file:line: -:
field: message``): the shipped ones from the policy set's ``dua/`` folder, a deployment's own
from ``<data-dir>/dua/``; an id must be unique and equal its file's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import Field

from clinflow.audit.events import PURPOSES
from clinflow.config import DataDir, policies_dir
from clinflow.policy_loader import PolicyModel, Shape, read_document

DUA_FOLDER = "dua"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SHAPE = Shape(kind="data use agreement")

# Data classes a DUA can name; FHIR resource types and DICOM files map onto them.
DATA_CLASSES: dict[str, str] = {
    "demographics": "Patient",
    "encounters": "Encounter",
    "conditions": "Condition",
    "medications": "MedicationRequest, MedicationStatement, MedicationAdministration",
    "vitals": "Observation (vital-signs category)",
    "labs": "Observation (other), DiagnosticReport",
    "notes": "DocumentReference (clinical notes)",
    "imaging": "DICOM instances, ImagingStudy",
    "procedures": "Procedure",
    "immunizations": "Immunization",
    "allergies": "AllergyIntolerance",
    "claims": "Claim, ExplanationOfBenefit, Coverage",
    "consents": "Consent",
    "other": "any other resource type",
}
RESOURCE_CLASSES: dict[str, str] = {
    "Patient": "demographics",
    "Encounter": "encounters",
    "Condition": "conditions",
    "MedicationRequest": "medications",
    "MedicationStatement": "medications",
    "MedicationAdministration": "medications",
    "DiagnosticReport": "labs",
    "DocumentReference": "notes",
    "ImagingStudy": "imaging",
    "Procedure": "procedures",
    "Immunization": "immunizations",
    "AllergyIntolerance": "allergies",
    "Claim": "claims",
    "ExplanationOfBenefit": "claims",
    "Coverage": "claims",
    "Consent": "consents",
}
# DICOM PS3.3 C.7.3.1.1.1 defined terms for Modality (0008,0060) that clinflow sees.
MODALITIES = frozenset("CR CT DX ECG ES IO MG MR NM OP OT PT PX RF RG SC SM US XA XC".split())
IMAGING = "imaging"
VITAL_SIGNS = "vital-signs"


class DeidLevel(StrEnum):
    """De-identification levels, weakest first (45 CFR 164.514(e) limited data set, then
    164.514(b)(2) Safe Harbor): data at a level satisfies a requirement of that level or below."""

    LIMITED_DATA_SET = "limited_data_set"
    SAFE_HARBOR = "safe_harbor"

    @property
    def strength(self) -> int:
        return list(DeidLevel).index(self)

    def satisfies(self, required: DeidLevel) -> bool:
        return self.strength >= required.strength


class Period(PolicyModel):
    start: date
    end: date  # inclusive

    def contains(self, when: datetime) -> bool:
        day = when.astimezone(UTC).date()
        return self.start <= day <= self.end


class DataUseAgreement(PolicyModel):
    """One agreement, as written in ``policies/dua/<id>.yaml``."""

    id: str
    version: int = Field(default=1, ge=1)
    title: str = ""
    recipient: str = Field(min_length=1)
    purposes: tuple[str, ...] = Field(min_length=1)
    data_classes: tuple[str, ...] = Field(min_length=1)
    modalities: tuple[str, ...] = ()  # imaging narrowed to these; empty: every modality
    deidentification: DeidLevel
    period: Period
    reidentification_keys: bool = False

    def in_force(self, when: datetime) -> bool:
        return self.period.contains(when)

    def covers_class(self, data_class: str) -> bool:
        """``vitals``, ``imaging`` (modality unknown) or ``imaging:CT``."""
        base, _, modality = data_class.partition(":")
        if base not in self.data_classes:
            return False
        if base != IMAGING or not self.modalities:
            return True
        return modality in self.modalities


@dataclass(frozen=True, slots=True)
class AgreementDecision:
    permitted: bool
    code: str  # permitted, no-agreement, class-not-covered, dua-expired, dua-not-yet, deid-level
    reason: str
    agreement_id: str | None = None
    covered: frozenset[str] = frozenset()  # the classes of the query the agreement covers


def _classes_text(classes: Iterable[str]) -> str:
    return ", ".join(sorted(classes)) or "no data class"


@dataclass(frozen=True, slots=True)
class AgreementSet:
    """The agreements of a deployment, by id."""

    agreements: tuple[DataUseAgreement, ...]

    def get(self, agreement_id: str) -> DataUseAgreement | None:
        return next((a for a in self.agreements if a.id == agreement_id), None)

    def ids(self) -> list[str]:
        return sorted(a.id for a in self.agreements)

    def decide(
        self,
        purpose: str,
        classes: Iterable[str],
        when: datetime,
        *,
        held: DeidLevel,
        only: Sequence[str] | None = None,
    ) -> AgreementDecision:
        """The first agreement (by id, or in ``only``'s order) permitting the release."""
        wanted = frozenset(classes)
        pool = (
            [a for a in (self.get(i) for i in only) if a is not None]
            if only is not None
            else sorted(self.agreements, key=lambda a: a.id)
        )
        code, reason = "no-agreement", f"no data use agreement covers {purpose}"
        for agreement in pool:
            if purpose not in agreement.purposes:
                continue
            covered = frozenset(c for c in wanted if agreement.covers_class(c))
            if not covered:
                if code == "no-agreement":
                    code = "class-not-covered"
                    reason = f"no data use agreement covers {purpose} of {_classes_text(wanted)}"
                continue
            if not agreement.in_force(when):
                code, reason = _out_of_force(agreement, when)
                continue
            if not held.satisfies(agreement.deidentification):
                code = "deid-level"
                reason = (
                    f"DUA {agreement.id} requires {agreement.deidentification.value},"
                    f" data is {held.value}"
                )
                continue
            return AgreementDecision(
                True, "permitted", f"DUA {agreement.id} permits {purpose}", agreement.id, covered
            )
        return AgreementDecision(False, code, reason)


def _out_of_force(agreement: DataUseAgreement, when: datetime) -> tuple[str, str]:
    day = when.astimezone(UTC).date()
    if day > agreement.period.end:
        return "dua-expired", f"DUA {agreement.id} expired {agreement.period.end.isoformat()}"
    return "dua-not-yet", f"DUA {agreement.id} not in force before {agreement.period.start}"


# ------------------------------------------------------------------------- data classes


def resource_class(resource: dict[str, object]) -> str:
    """The data class of one FHIR resource."""
    kind = str(resource.get("resourceType", ""))
    if kind == "Observation":
        return "vitals" if VITAL_SIGNS in str(resource.get("category", "")) else "labs"
    return RESOURCE_CLASSES.get(kind, "other")


def imaging_class(modality: str | None) -> str:
    return f"{IMAGING}:{modality}" if modality else IMAGING


def classes_of_categories(categories: Iterable[str]) -> frozenset[str]:
    """Data classes of a released envelope from its consent categories (source kind,
    resource types, ``vital-signs``, DICOM modality)."""
    found = set(categories)
    if "dicom" in found:
        modalities = sorted(found & MODALITIES)
        return frozenset(imaging_class(m) for m in modalities) or frozenset({IMAGING})
    classes: set[str] = set()
    for item in found:
        if item == "Observation":
            classes.add("vitals" if VITAL_SIGNS in found else "labs")
        elif item in RESOURCE_CLASSES:
            classes.add(RESOURCE_CLASSES[item])
        elif item[:1].isupper():
            classes.add("other")
    return frozenset(classes)


# ------------------------------------------------------------------------- loading


def agreement_dirs(data_dir: DataDir | None = None) -> list[Path]:
    """Where agreements are read: the policy set's ``dua/``, then ``<data-dir>/dua/``."""
    dirs = [policies_dir() / DUA_FOLDER]
    if data_dir is not None:
        dirs.append(data_dir.root / DUA_FOLDER)
    return dirs


def load_agreement(path: Path) -> DataUseAgreement:
    """Read and validate one agreement; a bad file raises ``PolicyError`` naming the field."""
    document = read_document(path, SHAPE)
    agreement = document.validate(DataUseAgreement)
    if not ID_RE.match(agreement.id):
        raise document.error(("id",), "must be lower-case letters, digits and '-'")
    if agreement.id != path.stem:
        raise document.error(("id",), f"must equal the file name ({path.stem!r})")
    for index, purpose in enumerate(agreement.purposes):
        if purpose not in PURPOSES:
            raise document.error(("purposes", index), f"unknown purpose of use {purpose!r}")
    for index, data_class in enumerate(agreement.data_classes):
        if data_class not in DATA_CLASSES:
            known = ", ".join(DATA_CLASSES)
            raise document.error(
                ("data_classes", index), f"unknown data class {data_class!r} (known: {known})"
            )
    for index, modality in enumerate(agreement.modalities):
        if modality not in MODALITIES:
            raise document.error(("modalities", index), f"unknown DICOM modality {modality!r}")
    if agreement.modalities and IMAGING not in agreement.data_classes:
        raise document.error(("modalities",), "modalities given but imaging is not a data class")
    if agreement.period.end < agreement.period.start:
        raise document.error(("period", "end"), "period ends before it starts")
    return agreement


def load_agreements(dirs: Iterable[Path]) -> AgreementSet:
    """Every ``*.yaml`` agreement in ``dirs`` (missing folders are skipped)."""
    found: dict[str, Path] = {}
    agreements: list[DataUseAgreement] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            agreement = load_agreement(path)
            if agreement.id in found:
                document = read_document(path, SHAPE)
                other = found[agreement.id]
                raise document.error(("id",), f"duplicate agreement id (also in {other})")
            found[agreement.id] = path
            agreements.append(agreement)
    return AgreementSet(tuple(agreements))


def load_deployment_agreements(data_dir: DataDir | None = None) -> AgreementSet:
    return load_agreements(agreement_dirs(data_dir))


@dataclass(frozen=True, slots=True)
class ReleaseAgreements:
    """The DUA half of a research release decision: a gate asks ``decide`` for each envelope.

    ``held`` is the de-identification level of what the guarded store holds (its declaration
    in ``policies/retention.yaml``)."""

    agreements: AgreementSet
    held: DeidLevel

    def decide(self, purpose: str, categories: Iterable[str], when: datetime) -> AgreementDecision:
        return self.agreements.decide(
            purpose, classes_of_categories(categories), when, held=self.held
        )
