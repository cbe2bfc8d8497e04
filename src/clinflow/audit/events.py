"""Typed builders of FHIR R5 AuditEvent dicts, one per pipeline action.

Every builder takes the patient's PSEUDONYM (``PT-…`` from ``Pseudonymizer``), never a source
identifier, plus who acted (``agent``), the purpose of use (a v3 ActReason code), the entities
involved (message ids, consent ids, endpoints — pseudonymous) and the outcome. Free-text fields
(``reason``) must be PHI-free, like every clinflow error message.

Patterns follow IHE BALP where they fit: ``category`` carries the DICOM DCM event type
(110106 Export, 110107 Import, 110110 Patient Record, 110112 Query, 110113 Security Alert,
110100 Application Activity) and, for API calls, ``rest``; ``code`` carries the clinflow event
code (``EventCode``); ``authorization`` the purpose of use; the acting agent has
``requestor: true``; a disclosure's recipient is an agent of type IRCP.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

from clinflow.patient_ids import PSEUDONYM_RE

AuditEvent: TypeAlias = dict[str, Any]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/audit-event-outcome"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
CLINFLOW_CODES = "https://clinflow.example/fhir/CodeSystem/audit-event-code"
CLINFLOW_DETAIL = "https://clinflow.example/fhir/CodeSystem/audit-entity-detail"

KIND_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


class EventCode(StrEnum):
    """What happened (AuditEvent.code, clinflow code system)."""

    INGEST = "ingest"
    VALIDATION_FAILURE = "validation-failure"
    CONSENT_DECISION = "consent-decision"
    DEIDENTIFY = "deidentify"
    DISCLOSE = "disclose"
    SCORE = "score"
    ALERT = "alert"
    CONSENT_REVOKE = "consent-revoke"
    PURGE = "purge"
    KEY_DESTROY = "key-destroy"
    API_QUERY = "api-query"
    GENERATE = "generate"
    API_TOKEN = "api-token"
    PATIENT_MERGE = "patient-merge"


class Action(StrEnum):
    """AuditEvent.action (R5 audit-event-action)."""

    CREATE = "C"
    READ = "R"
    UPDATE = "U"
    DELETE = "D"
    EXECUTE = "E"


class Outcome(StrEnum):
    """AuditEvent.outcome.code (audit-event-outcome)."""

    SUCCESS = "0"
    MINOR_FAILURE = "4"
    SERIOUS_FAILURE = "8"
    MAJOR_FAILURE = "12"


OUTCOME_DISPLAY = {
    Outcome.SUCCESS: "Success",
    Outcome.MINOR_FAILURE: "Minor failure",
    Outcome.SERIOUS_FAILURE: "Serious failure",
    Outcome.MAJOR_FAILURE: "Major failure",
}

# v3 ActReason purposes of use clinflow knows (the consent purposes plus a few operational ones).
PURPOSES: dict[str, str] = {
    "TREAT": "treatment",
    "ETREAT": "emergency treatment",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
    "HRESCH": "healthcare research",
    "PUBHLTH": "public health",
    "BTG": "break the glass",
    "HTEST": "test health data",
    "HSYSADMIN": "health system administration",
    "HCOMPL": "health compliance",
    "HLEGAL": "legal",
    "PATRQT": "patient requested",
    "COC": "coordination of care",
}

CATEGORIES: dict[str, tuple[str, str, str]] = {
    "110100": (DCM, "110100", "Application Activity"),
    "110106": (DCM, "110106", "Export"),
    "110107": (DCM, "110107", "Import"),
    "110110": (DCM, "110110", "Patient Record"),
    "110112": (DCM, "110112", "Query"),
    "110113": (DCM, "110113", "Security Alert"),
    "rest": (AUDIT_EVENT_TYPE, "rest", "RESTful Operation"),
}

ENTITY_ROLES: dict[str, tuple[str, str]] = {
    "patient": ("1", "Patient"),
    "report": ("3", "Report"),
    "domain-resource": ("4", "Domain Resource"),
    "security-resource": ("13", "Security Resource"),
    "job": ("20", "Job"),
    "query": ("24", "Query"),
}


@dataclass(frozen=True, slots=True)
class EventKind:
    """What an event code fixes: its R5 action, its BALP categories and its source."""

    action: Action
    categories: tuple[str, ...]
    source: str


# One row per event code; a builder overrides a field only where the event itself varies it
# (a break-the-glass consent decision is also a Security Alert, a token is created or revoked).
EVENT_KINDS: dict[EventCode, EventKind] = {
    EventCode.INGEST: EventKind(Action.CREATE, ("110107",), "clinflow/ingest"),
    EventCode.VALIDATION_FAILURE: EventKind(Action.CREATE, ("110107",), "clinflow/validate"),
    EventCode.CONSENT_DECISION: EventKind(Action.EXECUTE, ("110110",), "clinflow/consent"),
    EventCode.DEIDENTIFY: EventKind(Action.EXECUTE, ("110110",), "clinflow/deid"),
    EventCode.DISCLOSE: EventKind(Action.READ, ("110106",), "clinflow/release"),
    EventCode.SCORE: EventKind(Action.CREATE, ("110100",), "clinflow/scoring"),
    EventCode.ALERT: EventKind(Action.CREATE, ("110100",), "clinflow/scoring"),
    EventCode.CONSENT_REVOKE: EventKind(Action.UPDATE, ("110110",), "clinflow/consent"),
    EventCode.PURGE: EventKind(Action.DELETE, ("110110",), "clinflow/revocation"),
    EventCode.KEY_DESTROY: EventKind(Action.DELETE, ("110113",), "clinflow/keys"),
    EventCode.API_QUERY: EventKind(Action.EXECUTE, ("rest", "110112"), "clinflow/api"),
    EventCode.API_TOKEN: EventKind(Action.CREATE, ("110113",), "clinflow/api"),
    EventCode.GENERATE: EventKind(Action.CREATE, ("110100",), "clinflow/generate"),
    EventCode.PATIENT_MERGE: EventKind(Action.UPDATE, ("110110",), "clinflow/ingest"),
}


@dataclass(frozen=True, slots=True)
class Agent:
    """Who took part: ``who`` is a service or user name (never a patient identifier)."""

    who: str
    requestor: bool = True
    type: str | None = None  # v3 ParticipationType code, e.g. IRCP for a recipient
    role: str | None = None  # e.g. auditor, privacy_officer, service

    def to_fhir(self) -> dict[str, Any]:
        agent: dict[str, Any] = {
            "who": {"identifier": {"system": "urn:clinflow:agent", "value": self.who}},
            "requestor": self.requestor,
        }
        if self.type:
            agent["type"] = {"coding": [{"system": PARTICIPATION, "code": self.type}]}
        if self.role:
            agent["role"] = [{"text": self.role}]
        return agent


@dataclass(frozen=True, slots=True)
class Entity:
    """A thing involved, by pseudonymous id: ``kind`` is its type (message, consent, policy…)."""

    kind: str
    id: str
    role: str = "domain-resource"
    detail: Mapping[str, str | int | bool] = field(default_factory=dict)
    query: str | None = None  # base64 of a query, for role "query"

    def to_fhir(self) -> dict[str, Any]:
        if not KIND_RE.match(self.kind):
            raise ValueError(f"entity kind {self.kind!r} must match {KIND_RE.pattern}")
        if self.role not in ENTITY_ROLES:
            raise ValueError(f"entity role must be one of {sorted(ENTITY_ROLES)}")
        code, display = ENTITY_ROLES[self.role]
        entity: dict[str, Any] = {
            "what": {"identifier": {"system": f"urn:clinflow:{self.kind}", "value": self.id}},
            "role": {"coding": [{"system": OBJECT_ROLE, "code": code, "display": display}]},
        }
        if self.query is not None:
            entity["query"] = self.query
        if self.detail:
            entity["detail"] = [_detail(name, value) for name, value in sorted(self.detail.items())]
        return entity


def _detail(name: str, value: str | int | bool) -> dict[str, Any]:
    item: dict[str, Any] = {"type": {"coding": [{"system": CLINFLOW_DETAIL, "code": name}]}}
    if isinstance(value, bool):
        item["valueBoolean"] = value
    elif isinstance(value, int):
        item["valueInteger"] = value
    else:
        item["valueString"] = str(value)
    return item


def format_instant(moment: datetime | None = None) -> str:
    """FHIR instant in UTC with milliseconds, fixed width so text order is time order."""
    moment = datetime.now(UTC) if moment is None else moment
    if moment.tzinfo is None:
        raise ValueError("recorded time must be timezone-aware")
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # ``YYYY-MM-DDTHH:MM:SS.mmm+00:00`` cut to ``...mmm`` + Z: in C, about a third of strftime's
    # cost, which was a quarter of building an event (ADR 0116)
    return moment.isoformat(timespec="milliseconds")[:23] + "Z"


def check_pseudonym(patient: str) -> str:
    """Refuse anything that does not look like a clinflow pseudonym (guards against raw ids)."""
    if not PSEUDONYM_RE.match(patient):
        raise ValueError("patient must be a pseudonym like PT-<hex>, not a source identifier")
    return patient


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"purpose of use must be a v3 ActReason code in {sorted(PURPOSES)}")
    return purpose


def build_event(
    code: EventCode | str,
    *,
    agents: Sequence[Agent | str],
    recipient: str | None = None,
    action: Action | str | None = None,
    categories: Sequence[str] | None = None,
    patient: str | None = None,
    purposes: Iterable[str] = (),
    entities: Sequence[Entity] = (),
    outcome: Outcome | str = Outcome.SUCCESS,
    outcome_detail: str | None = None,
    source: str | None = None,
    recorded: datetime | None = None,
    severity: str = "informational",
) -> AuditEvent:
    """Assemble one R5 AuditEvent; every builder below calls this.

    ``action``, ``categories`` and ``source`` default to the code's row in ``EVENT_KINDS``;
    an agent given by name is a requestor (``Agent(name)``), and ``recipient`` adds the
    endpoint or person data goes to (a non-requesting agent of type IRCP).
    """
    if type(code) is not EventCode:  # the enum call costs more than the rest of a field
        code = EventCode(code)
    kind = EVENT_KINDS[code]
    action = kind.action if action is None else Action(action)
    categories = kind.categories if categories is None else categories
    source = kind.source if source is None else source
    if type(outcome) is not Outcome:
        outcome = Outcome(outcome)
    if not agents:
        raise ValueError("an audit event needs at least one agent")
    category = []
    for key in categories:
        system, value, display = CATEGORIES[key]
        category.append({"coding": [{"system": system, "code": value, "display": display}]})
    event: AuditEvent = {
        "resourceType": "AuditEvent",
        "category": category,
        # str() of a StrEnum member is its plain value, in C (``.value`` runs Python code)
        "code": {"coding": [{"system": CLINFLOW_CODES, "code": str(code)}]},
        "action": str(action),
        "severity": severity,
        "recorded": format_instant(recorded),
        "outcome": {
            "code": {
                "system": OUTCOME_SYSTEM,
                "code": str(outcome),
                "display": OUTCOME_DISPLAY[outcome],
            }
        },
        "agent": [_agent(agent).to_fhir() for agent in agents],
        "source": {
            "observer": {"identifier": {"system": "urn:clinflow:source", "value": source}},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
    }
    if recipient is not None:
        event["agent"].append(_recipient(recipient).to_fhir())
    if outcome_detail:
        event["outcome"]["detail"] = [{"text": outcome_detail}]
    authorization = [
        {"coding": [{"system": ACT_REASON, "code": check_purpose(p)}]} for p in purposes
    ]
    if authorization:
        event["authorization"] = authorization
    if patient is not None:
        event["patient"] = {"reference": f"Patient/{check_pseudonym(patient)}"}
    if entities:
        event["entity"] = [entity.to_fhir() for entity in entities]
    return event


def _agent(agent: str | Agent) -> Agent:
    return agent if isinstance(agent, Agent) else Agent(agent)


def _recipient(recipient: str) -> Agent:
    """The endpoint or person data goes to: a non-requesting agent of type IRCP."""
    return Agent(recipient, requestor=False, type="IRCP")


def _purposes(purpose: str | None) -> tuple[str, ...]:
    return (purpose,) if purpose else ()


def _details(**values: str | int | bool | None) -> dict[str, str | int | bool]:
    """Entity detail from keyword values (``_`` for ``-``), leaving out those that are None."""
    return {name.replace("_", "-"): v for name, v in values.items() if v is not None}


# --- one builder per pipeline action -------------------------------------------------------


def ingest(
    *,
    patient: str,
    message_id: str,
    source_kind: str,
    agent: str | Agent = "clinflow-ingest",
    purpose: str | None = None,
    recorded: datetime | None = None,
    source_system: str | None = None,
) -> AuditEvent:
    """A message entered the pipeline (DCM 110107 Import); ``source_system`` names where it
    came from when the source knows (``fhir:<base URL>``, ``mllp:<port>``...), never PHI."""
    detail = _details(source_kind=source_kind, source_system=source_system or None)
    return build_event(
        EventCode.INGEST,
        agents=[agent],
        patient=patient,
        purposes=_purposes(purpose),
        entities=[Entity("message", message_id, detail=detail)],
        recorded=recorded,
    )


def validation_failure(
    *,
    message_id: str,
    stage: str,
    reason: str,
    patient: str | None = None,
    quarantine_id: str | int | None = None,
    agent: str | Agent = "clinflow-validate",
    recorded: datetime | None = None,
    source_kind: str | None = None,
) -> AuditEvent:
    """An input failed validation and went to quarantine; ``reason`` is PHI-free."""
    entities = [
        Entity("message", message_id, detail=_details(stage=stage, source_kind=source_kind or None))
    ]
    if quarantine_id is not None:
        entities.append(Entity("quarantine-item", str(quarantine_id), role="job"))
    return build_event(
        EventCode.VALIDATION_FAILURE,
        agents=[agent],
        patient=patient,
        entities=entities,
        outcome=Outcome.MINOR_FAILURE,
        outcome_detail=reason,
        source=f"clinflow/{stage}",
        recorded=recorded,
    )


def consent_decision(
    *,
    patient: str,
    decision: str,
    purpose: str,
    recipient: str,
    agent: str | Agent = "clinflow-consent",
    message_id: str | None = None,
    consent_id: str | None = None,
    break_the_glass: bool = False,
    reason: str | None = None,
    recorded: datetime | None = None,
) -> AuditEvent:
    """The consent gate permitted or denied a use; break-the-glass adds a Security Alert."""
    if decision not in ("permit", "deny"):
        raise ValueError("decision must be 'permit' or 'deny'")
    entities = []
    if message_id:
        entities.append(Entity("message", message_id))
    if consent_id:
        entities.append(Entity("consent", consent_id, role="security-resource"))
    purposes = [purpose, "BTG"] if break_the_glass and purpose != "BTG" else [purpose]
    return build_event(
        EventCode.CONSENT_DECISION,
        categories=["110110", "110113"] if break_the_glass else ["110110"],
        agents=[agent],
        recipient=recipient,
        patient=patient,
        purposes=purposes,
        entities=entities,
        outcome=Outcome.SUCCESS if decision == "permit" else Outcome.MINOR_FAILURE,
        outcome_detail=f"{decision}: {reason}" if reason else decision,
        recorded=recorded,
        severity="alert" if break_the_glass else "informational",
    )


def deidentification(
    *,
    patient: str | None,
    message_id: str,
    output_message_id: str,
    policy_hash: str,
    method: str,
    agent: str | Agent = "clinflow-deid",
    purpose: str | None = None,
    actions: Mapping[str, int] | None = None,
    outcome: Outcome | str = Outcome.SUCCESS,
    reason: str | None = None,
    recorded: datetime | None = None,
) -> AuditEvent:
    """A message was de-identified under a policy (hash) with a method (e.g. dicom-basic)."""
    counts: dict[str, str | int | bool] = {f"action-{k}": v for k, v in (actions or {}).items()}
    return build_event(
        EventCode.DEIDENTIFY,
        agents=[agent],
        patient=patient,
        purposes=_purposes(purpose),
        entities=[
            Entity("message", message_id),
            Entity("message", output_message_id, detail={"output": True, **counts}),
            Entity("policy", policy_hash, role="security-resource", detail={"method": method}),
        ],
        outcome=outcome,
        outcome_detail=reason,
        recorded=recorded,
    )


def disclosure(
    *,
    patient: str,
    recipient: str,
    purpose: str,
    message_ids: Sequence[str],
    agent: str | Agent = "clinflow-release",
    data_categories: Sequence[str] = (),
    outcome: Outcome | str = Outcome.SUCCESS,
    reason: str | None = None,
    recorded: datetime | None = None,
) -> AuditEvent:
    """Data about a patient was released to an endpoint or sink (DCM 110106 Export).

    These entries make a patient's accounting of disclosures (45 CFR 164.528).
    """
    detail = _details(data_categories=",".join(data_categories) or None)
    entities = [Entity("message", mid, detail=detail) for mid in message_ids]
    return build_event(
        EventCode.DISCLOSE,
        agents=[agent],
        recipient=recipient,
        patient=patient,
        purposes=[purpose],
        entities=entities,
        outcome=outcome,
        outcome_detail=reason,
        recorded=recorded,
    )


def score_produced(
    *,
    patient: str,
    score_name: str,
    value: str | int,
    message_id: str,
    agent: str | Agent = "clinflow-scoring",
    purpose: str = "TREAT",
    recorded: datetime | None = None,
) -> AuditEvent:
    """A (mock) clinical score was computed from a message."""
    return build_event(
        EventCode.SCORE,
        agents=[agent],
        patient=patient,
        purposes=[purpose],
        entities=[
            Entity("message", message_id),
            Entity("score", score_name, role="report", detail={"value": value}),
        ],
        recorded=recorded,
    )


def alert_raised(
    *,
    patient: str,
    alert_id: str,
    level: str,
    recipient: str,
    agent: str | Agent = "clinflow-scoring",
    purpose: str = "TREAT",
    message_id: str | None = None,
    recorded: datetime | None = None,
) -> AuditEvent:
    """A (mock) clinical alert was raised to a recipient."""
    entities = [Entity("alert", alert_id, role="report", detail={"level": level})]
    if message_id:
        entities.append(Entity("message", message_id))
    return build_event(
        EventCode.ALERT,
        agents=[agent],
        recipient=recipient,
        patient=patient,
        purposes=[purpose],
        entities=entities,
        recorded=recorded,
    )


def patient_merge(
    *,
    patient: str,
    merged: str,
    message_id: str,
    source_system: str | None = None,
    agent: str | Agent = "clinflow-ingest",
    recorded: datetime | None = None,
) -> AuditEvent:
    """The record of ``merged`` was merged into ``patient``, the surviving one (HL7 v2
    ADT^A40, FHIR ``Patient.link`` replaces): both are pseudonyms, never MRNs."""
    detail = _details(merged_patient=check_pseudonym(merged), source_system=source_system or None)
    return build_event(
        EventCode.PATIENT_MERGE,
        agents=[agent],
        patient=patient,
        entities=[
            Entity("message", message_id, detail=detail),
            Entity("patient", merged, role="patient"),
        ],
        recorded=recorded,
    )


def consent_revocation(
    *,
    patient: str,
    consent_id: str,
    purposes: Sequence[str] = (),
    agent: str | Agent = "clinflow-consent",
    recorded: datetime | None = None,
) -> AuditEvent:
    """A patient's consent was revoked (for ``purposes``; empty means every purpose)."""
    return build_event(
        EventCode.CONSENT_REVOKE,
        agents=[agent],
        patient=patient,
        purposes=purposes,
        entities=[Entity("consent", consent_id, role="security-resource")],
        recorded=recorded,
    )


def purge(
    *,
    patient: str,
    target: str,
    records_deleted: int,
    receipt_id: str | None = None,
    reason: str = "consent-revoked",
    agent: str | Agent = "clinflow-revocation",
    outcome: Outcome | str = Outcome.SUCCESS,
    recorded: datetime | None = None,
) -> AuditEvent:
    """Records of a patient were deleted or retracted from ``target`` (store or endpoint)."""
    entities = [Entity("store", target, detail={"records-deleted": records_deleted})]
    if receipt_id:
        entities.append(Entity("receipt", receipt_id, role="report"))
    return build_event(
        EventCode.PURGE,
        agents=[agent],
        patient=patient,
        entities=entities,
        outcome=outcome,
        outcome_detail=reason,
        recorded=recorded,
    )


def key_destruction(
    *,
    patient: str,
    key_id: str,
    agent: str | Agent = "clinflow-keys",
    reason: str = "consent-revoked",
    recorded: datetime | None = None,
) -> AuditEvent:
    """A patient's data key was destroyed (crypto-shredding); ``key_id`` is not key material."""
    return build_event(
        EventCode.KEY_DESTROY,
        agents=[agent],
        patient=patient,
        entities=[Entity("key", key_id, role="security-resource")],
        outcome_detail=reason,
        recorded=recorded,
    )


def api_query(
    *,
    agent: str,
    role: str,
    method: str,
    path: str,
    query: str = "",
    status_code: int = 200,
    patient: str | None = None,
    result_count: int | None = None,
    recorded: datetime | None = None,
    client: str | None = None,
    count: int | None = None,
    source: str = "clinflow/api",
) -> AuditEvent:
    """A call to a clinflow HTTP API (BALP RESTful query: category rest + DCM 110112).

    ``count``: how many refused calls of one client this event stands for (refusals of
    unauthenticated callers are coalesced per client and window, ADR 0081); ``client``: the
    caller's network address.
    """
    import base64

    detail = _details(
        method=method,
        status=status_code,
        results=result_count,
        client=None if client is None else client[:100],
        count=count,
    )
    outcome = (
        Outcome.SUCCESS
        if status_code < 400
        else Outcome.MINOR_FAILURE
        if status_code < 500
        else Outcome.SERIOUS_FAILURE
    )
    return build_event(
        EventCode.API_QUERY,
        agents=[Agent(agent, role=role)],
        patient=patient,
        purposes=["HCOMPL"],
        entities=[
            Entity(
                "query",
                path,
                role="query",
                detail=detail,
                query=base64.b64encode(query.encode()).decode() if query else None,
            )
        ],
        outcome=outcome,
        source=source,
        recorded=recorded,
    )


def api_token_change(
    *,
    agent: str,
    token_id: str,
    token_role: str,
    scope: str | None,
    action: Action | str,
    recorded: datetime | None = None,
) -> AuditEvent:
    """An API bearer token was created (action C) or revoked (D): the id, never the token."""
    detail = _details(role=token_role, scope=check_pseudonym(scope) if scope else None)
    return build_event(
        EventCode.API_TOKEN,
        action=action,
        agents=[Agent(agent)],
        purposes=["HSYSADMIN"],
        entities=[Entity("api-token", token_id, role="security-resource", detail=detail)],
        recorded=recorded,
    )


def data_generation(
    *,
    patients: int,
    seed: int,
    output: str,
    scenario: str | None = None,
    agent: str | Agent = "clinflow-generate",
    recorded: datetime | None = None,
) -> AuditEvent:
    """A synthetic cohort was generated (no patient: the event covers the whole dataset)."""
    detail = _details(patients=patients, seed=seed, scenario=scenario or None)
    return build_event(
        EventCode.GENERATE,
        agents=[agent],
        purposes=["HTEST"],
        entities=[Entity("dataset", output, role="job", detail=detail)],
        recorded=recorded,
    )
