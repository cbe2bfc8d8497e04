"""FHIR Consent (R5 and R4B) parsed into a small, immutable rule tree.

R5 puts the base ``decision`` (deny | permit) at the root; each ``provision`` is an exception
to the level above it, so effects alternate with depth (root decision, then the opposite, then
the decision again, ...). R4/R4B puts ``provision.type`` (deny | permit) on each level, the
root provision carrying the base rule. Both become the same ``Provision`` tree: a node with its
own criteria (purpose, class/code/resource type/DICOM modality, actors, actions, period) and
an explicit effect. See docs/adr/0040-consent-decision-semantics.md.

Only what a decision needs is kept; parse errors raise ``InputRejected`` naming the field,
never a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from clinflow.consent.policy import Effect
from clinflow.errors import InputRejected


class FhirVersion(StrEnum):
    R5 = "R5"
    R4B = "R4B"


ACTIVE_STATUSES = frozenset({"active"})
# R5 status codes: draft | active | inactive | not-done | entered-in-error | unknown;
# R4/R4B: draft | proposed | active | rejected | inactive | entered-in-error.
KNOWN_STATUSES = frozenset(
    {"draft", "proposed", "active", "rejected", "inactive", "not-done", "entered-in-error",
     "unknown"}
)

_FHIR_DATETIME = re.compile(
    r"^(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<time>\d{2}:\d{2}(:\d{2}(\.\d+)?)?)(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def parse_fhir_instant(text: str, *, upper: bool, location: str) -> datetime:
    """A FHIR date/dateTime as an aware datetime; partial dates widen to their whole span.

    ``upper`` gives the exclusive end of the span (``2024`` → 2025-01-01T00:00Z), used for
    ``Period.end``, which FHIR defines as inclusive of the whole stated precision.
    """
    match = _FHIR_DATETIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InputRejected("not a FHIR date or dateTime", location)
    year = int(match["year"])
    try:
        if match["month"] is None:
            start = datetime(year, 1, 1, tzinfo=UTC)
            return datetime(year + 1, 1, 1, tzinfo=UTC) if upper else start
        month = int(match["month"])
        if match["day"] is None:
            start = datetime(year, month, 1, tzinfo=UTC)
            if not upper:
                return start
            return datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
        day = int(match["day"])
        if match["time"] is None:
            start = datetime(year, month, day, tzinfo=UTC)
            return start + timedelta(days=1) if upper else start
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputRejected("date out of range", location) from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp + timedelta(microseconds=1) if upper else stamp


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time span ``[start, end)``; ``None`` means unbounded."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, when: datetime) -> bool:
        if self.start is not None and when < self.start:
            return False
        return not (self.end is not None and when >= self.end)

    def boundaries(self) -> Iterator[datetime]:
        if self.start is not None:
            yield self.start
        if self.end is not None:
            yield self.end


@dataclass(frozen=True, slots=True)
class Provision:
    """One rule: when every stated criterion matches, ``effect`` applies (children refine)."""

    effect: Effect
    path: str
    purposes: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    period: Window | None = None
    children: tuple[Provision, ...] = ()

    def walk(self) -> Iterator[Provision]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A parsed Consent: who it is about, whether it is in force, and its rule tree."""

    consent_id: str
    patient_ref: str  # the reference as written (Patient/<id>), resolved to a pseudonym later
    patient_identifier: str | None  # an MR identifier value if the reference carried one
    status: str
    fhir_version: FhirVersion
    root: Provision
    period: Window | None = None
    signed_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def boundaries(self) -> Iterator[datetime]:
        if self.period is not None:
            yield from self.period.boundaries()
        for node in self.root.walk():
            if node.period is not None:
                yield from node.period.boundaries()


# ---------------------------------------------------------------------------------- parsing


def _codes(value: Any) -> Iterator[str]:
    """Codes from a Coding, a CodeableConcept, or a list of either."""
    if isinstance(value, list):
        for item in value:
            yield from _codes(item)
    elif isinstance(value, Mapping):
        if isinstance(value.get("code"), str):
            yield value["code"]
        if "coding" in value:
            yield from _codes(value["coding"])
        if "concept" in value:  # R5 CodeableReference
            yield from _codes(value["concept"])


def _period(value: Any, location: str) -> Window | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InputRejected("expected a Period", location)
    start = value.get("start")
    end = value.get("end")
    return Window(
        start=parse_fhir_instant(start, upper=False, location=f"{location}.start")
        if start is not None
        else None,
        end=parse_fhir_instant(end, upper=True, location=f"{location}.end")
        if end is not None
        else None,
    )


def _actors(value: Any, location: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise InputRejected("expected a list", location)
    refs: set[str] = set()
    for index, actor in enumerate(value):
        reference = actor.get("reference") if isinstance(actor, Mapping) else None
        if not isinstance(reference, Mapping):
            raise InputRejected("actor without reference", f"{location}[{index}]")
        if isinstance(reference.get("reference"), str):
            refs.add(reference["reference"])
        identifier = reference.get("identifier")
        if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
            refs.add(identifier["value"])
    return frozenset(refs)


def _provision(raw: Any, *, effect: Effect, path: str, version: FhirVersion) -> Provision:
    if not isinstance(raw, Mapping):
        raise InputRejected("expected a provision object", path)
    if version is FhirVersion.R4B:
        declared = raw.get("type")
        if declared is not None:
            try:
                effect = Effect(declared)
            except ValueError as exc:
                raise InputRejected("type must be deny or permit", f"{path}.type") from exc
    classes = (
        set(_codes(raw.get("class")))
        | set(_codes(raw.get("code")))
        | set(_codes(raw.get("resourceType")))
        | set(_codes(raw.get("documentType")))
    )
    children_raw = raw.get("provision", [])
    if not isinstance(children_raw, list):
        raise InputRejected("expected a list", f"{path}.provision")
    children = []
    for index, child in enumerate(children_raw):
        # R5: a nested provision is an exception to its parent, so its effect flips.
        child_effect = effect if version is FhirVersion.R4B else _flip(effect)
        children.append(
            _provision(
                child, effect=child_effect, path=f"{path}.provision[{index}]", version=version
            )
        )
    return Provision(
        effect=effect,
        path=path,
        purposes=frozenset(_codes(raw.get("purpose"))),
        classes=frozenset(classes),
        actors=_actors(raw.get("actor"), f"{path}.actor"),
        actions=frozenset(_codes(raw.get("action"))),
        period=_period(raw.get("period"), f"{path}.period"),
        children=tuple(children),
    )


def _flip(effect: Effect) -> Effect:
    return Effect.DENY if effect is Effect.PERMIT else Effect.PERMIT


def detect_version(resource: Mapping[str, Any]) -> FhirVersion:
    """R5 has ``decision``/``subject``; R4/R4B has ``patient`` and ``provision.type``."""
    if "decision" in resource or "subject" in resource:
        return FhirVersion.R5
    if "patient" in resource or "scope" in resource or "policyRule" in resource:
        return FhirVersion.R4B
    provision = resource.get("provision")
    if isinstance(provision, Mapping) and "type" in provision:
        return FhirVersion.R4B
    return FhirVersion.R5


def parse_consent(resource: Mapping[str, Any], *, source: str = "Consent") -> ConsentRecord:
    """Parse one Consent resource (R5 or R4B, detected from its shape)."""
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "Consent":
        raise InputRejected("not a Consent resource", f"{source}.resourceType")
    consent_id = resource.get("id")
    if not isinstance(consent_id, str) or not consent_id:
        raise InputRejected("Consent without id", f"{source}.id")
    where = f"{source}/{consent_id}"
    status = resource.get("status")
    if status not in KNOWN_STATUSES:
        raise InputRejected("missing or unknown status", f"{where}.status")
    version = detect_version(resource)
    subject_field = "subject" if version is FhirVersion.R5 else "patient"
    subject = resource.get(subject_field)
    if not isinstance(subject, Mapping):
        raise InputRejected("Consent without patient", f"{where}.{subject_field}")
    reference = subject.get("reference")
    patient_ref = reference if isinstance(reference, str) else ""
    identifier = subject.get("identifier")
    patient_identifier = (
        identifier["value"]
        if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str)
        else None
    )
    if not patient_ref and patient_identifier is None:
        raise InputRejected("patient reference has neither reference nor identifier",
                            f"{where}.{subject_field}")

    if version is FhirVersion.R5:
        decision = resource.get("decision", "permit")
        try:
            base = Effect(decision)
        except ValueError as exc:
            raise InputRejected("decision must be deny or permit", f"{where}.decision") from exc
        provisions = resource.get("provision", [])
        if isinstance(provisions, Mapping):  # tolerate a single object
            provisions = [provisions]
        if not isinstance(provisions, list):
            raise InputRejected("expected a list", f"{where}.provision")
        root = _provision(
            {"provision": provisions}, effect=base, path="decision", version=version
        )
        period = _period(resource.get("period"), f"{where}.period")
        signed = resource.get("date")
    else:
        raw_root = resource.get("provision")
        if raw_root is None:
            raise InputRejected("R4 Consent without provision", f"{where}.provision")
        if not isinstance(raw_root, Mapping):
            raise InputRejected("expected a provision object", f"{where}.provision")
        if raw_root.get("type") is not None:
            try:
                base = Effect(raw_root["type"])
            except ValueError as exc:
                raise InputRejected(
                    "type must be deny or permit", f"{where}.provision.type"
                ) from exc
            root = _provision(raw_root, effect=base, path="provision", version=version)
        else:
            # R4 leaves the root rule untyped: the base is the policyRule (OPTIN: implied
            # consent, permit; OPTOUT: deny) and the root provision is an exception to it.
            rule = set(_codes(resource.get("policyRule")))
            if rule & {"OPTIN", "OPTINR"}:
                base = Effect.PERMIT
            elif rule & {"OPTOUT", "OPTOUTE"}:
                base = Effect.DENY
            else:
                raise InputRejected(
                    "untyped root provision needs policyRule OPTIN or OPTOUT",
                    f"{where}.policyRule",
                )
            exception = _provision(
                raw_root, effect=_flip(base), path="provision", version=version
            )
            root = Provision(effect=base, path="policyRule", children=(exception,))
        period = None  # R4B keeps the period on provision.period (part of the root node)
        signed = resource.get("dateTime")
    signed_at = (
        parse_fhir_instant(signed, upper=False, location=f"{where}.date")
        if isinstance(signed, str)
        else None
    )
    return ConsentRecord(
        consent_id=consent_id,
        patient_ref=patient_ref,
        patient_identifier=patient_identifier,
        status=status,
        fhir_version=version,
        root=root,
        period=period,
        signed_at=signed_at,
        raw=dict(resource),
    )
