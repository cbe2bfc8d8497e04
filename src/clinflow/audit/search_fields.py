"""The searchable fields of an AuditEvent, as stored in the side index.

``index_fields`` reads patient, requesting agent, action, event code, purpose of use, outcome,
recorded time and entity kinds; ``search_row`` gives them as the side-index row. A fast path
does direct lookups for the shape the builders in ``clinflow.audit.events`` produce; anything
else goes through a tolerant reader, and both give the same answer (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class IndexFields:
    """The side-table columns a search can use, read from one AuditEvent."""

    patient: str | None
    agent: str | None
    action: str | None
    code: str | None
    purpose: str | None
    outcome: str | None
    recorded: str | None
    entity_types: tuple[str, ...]


def _first_code(concept: Any) -> str | None:
    if isinstance(concept, Mapping):
        codings = concept.get("coding")
        if isinstance(codings, list) and codings and isinstance(codings[0], Mapping):
            code = codings[0].get("code")
            return code if isinstance(code, str) else None
    return None


Row = tuple[str | None, ...]
"""A side-index row: ``INDEX_COLUMNS`` (patient, agent, action, code, purpose, outcome,
recorded, entity_types as ``,kind1,kind2,`` or empty)."""


def index_row(fields: IndexFields) -> Row:
    """The side-index columns for one entry's fields (same order as ``INDEX_COLUMNS``)."""
    kinds = "," + ",".join(fields.entity_types) + "," if fields.entity_types else ""
    return (
        fields.patient,
        fields.agent,
        fields.action,
        fields.code,
        fields.purpose,
        fields.outcome,
        fields.recorded,
        kinds,
    )


def _fast_row(event: Mapping[str, Any]) -> Row:
    """Direct lookups for the builders' shape, straight to the row; raises on anything
    unexpected.

    Runs once per append in the caller's thread, so it avoids helper calls and intermediate
    records: every value is read, then all are type-checked in one place.
    """
    ref = event.get("patient")
    patient = None if ref is None else ref["reference"]
    agents = event["agent"]
    chosen = agents[0]
    for candidate in agents:
        if candidate.get("requestor"):
            chosen = candidate
            break
    agent = chosen["who"]["identifier"]["value"]
    auth = event.get("authorization")
    purpose = auth[0]["coding"][0]["code"] if auth else None
    action = event["action"]
    code = event["code"]["coding"][0]["code"]
    outcome = event["outcome"]["code"]["code"]
    recorded = event["recorded"]
    for value in (patient, agent, purpose, action, code, outcome, recorded):
        if value is not None and type(value) is not str:
            raise TypeError("not a string")
    kinds = ""
    for entity in event.get("entity", ()):
        system = entity["what"]["identifier"]["system"]
        if type(system) is not str:
            raise TypeError("entity system")
        if system.startswith("urn:clinflow:"):
            kind = system[13:]
            if "," in kind:  # the column separator: the tolerant reader keeps such kinds whole
                raise TypeError("entity kind with a comma")
            if not kinds:
                kinds = f",{kind},"
            elif f",{kind}," not in kinds:
                kinds += f"{kind},"
    patient = patient if patient is None else patient.removeprefix("Patient/")
    return (patient, agent, action, code, purpose, outcome, recorded, kinds)


def search_row(event: Mapping[str, Any]) -> Row:
    """The side-index row of an event (``index_row(index_fields(event))``, without the
    intermediate record on the builders' shape)."""
    try:
        return _fast_row(event)
    except (KeyError, TypeError, IndexError, AttributeError):
        return index_row(_tolerant_index_fields(event))


def index_fields(event: Mapping[str, Any]) -> IndexFields:
    """Extract searchable fields; tolerant of events not made by these builders."""
    try:
        row = _fast_row(event)
    except (KeyError, TypeError, IndexError, AttributeError):
        return _tolerant_index_fields(event)
    patient, agent, action, code, purpose, outcome, recorded, kinds = row
    entity_types = tuple(kinds[1:-1].split(",")) if kinds else ()
    return IndexFields(patient, agent, action, code, purpose, outcome, recorded, entity_types)


def _tolerant_index_fields(event: Mapping[str, Any]) -> IndexFields:
    patient = None
    ref = event.get("patient")
    if isinstance(ref, Mapping) and isinstance(ref.get("reference"), str):
        patient = ref["reference"].removeprefix("Patient/")
    agent = None
    agents = event.get("agent")
    if isinstance(agents, list):
        chosen = next(
            (a for a in agents if isinstance(a, Mapping) and a.get("requestor")),
            agents[0] if agents else None,
        )
        if isinstance(chosen, Mapping):
            who = chosen.get("who")
            if isinstance(who, Mapping):
                ident = who.get("identifier")
                if isinstance(ident, Mapping) and isinstance(ident.get("value"), str):
                    agent = ident["value"]
                elif isinstance(who.get("reference"), str):
                    agent = who["reference"]
    purpose = None
    auth = event.get("authorization")
    if isinstance(auth, list) and auth:
        purpose = _first_code(auth[0])
    outcome = None
    out = event.get("outcome")
    if isinstance(out, Mapping) and isinstance(out.get("code"), Mapping):
        code_value = out["code"].get("code")
        outcome = code_value if isinstance(code_value, str) else None
    kinds: list[str] = []
    entities = event.get("entity")
    if isinstance(entities, list):
        for entity in entities:
            what = entity.get("what") if isinstance(entity, Mapping) else None
            ident = what.get("identifier") if isinstance(what, Mapping) else None
            system = ident.get("system") if isinstance(ident, Mapping) else None
            if isinstance(system, str) and system.startswith("urn:clinflow:"):
                kind = system.removeprefix("urn:clinflow:")
                if kind not in kinds:
                    kinds.append(kind)
    action = event.get("action")
    recorded = event.get("recorded")
    return IndexFields(
        patient=patient,
        agent=agent,
        action=action if isinstance(action, str) else None,
        code=_first_code(event.get("code")),
        purpose=purpose,
        outcome=outcome,
        recorded=recorded if isinstance(recorded, str) else None,
        entity_types=tuple(kinds),
    )
