"""Every input accounted for, from the audit log alone: ingested = released + denied +
quarantined, per source kind, on the research path.

The audit trail joins on message ids: an input's ingest entry (its kind), its
de-identification entry (input id → output id), then exactly one of a disclosure of the
output (released), a consent-gate deny of the output (denied), or a validation failure of
the input or the output (quarantined). An input rejected at ingest has only its validation
failure, which names its kind. Anything else is listed as unaccounted: a silent drop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from clinflow.jsonable import fields_json

RESEARCH_KINDS = ("dicom", "fhir")
RESEARCH_PURPOSE = "HRESCH"


@dataclass
class KindAccount:
    ingested: int = 0
    released: int = 0
    denied: int = 0
    quarantined: int = 0
    unaccounted: list[str] = field(default_factory=list)  # message ids

    @property
    def balanced(self) -> bool:
        return self.ingested == self.released + self.denied + self.quarantined

    def to_json(self) -> dict[str, Any]:
        return fields_json(self, unaccounted=self.unaccounted[:20], balanced=self.balanced)


def _code(event: dict[str, Any]) -> str:
    return str(event["code"]["coding"][0]["code"])


def _messages(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(message id, details) of the event's message entities, in order."""
    found = []
    for entity in event.get("entity") or ():
        identifier = entity.get("what", {}).get("identifier", {})
        if identifier.get("system") != "urn:clinflow:message":
            continue
        details = {
            d["type"]["coding"][0]["code"]: next(
                (v for k, v in d.items() if k.startswith("value")), None
            )
            for d in entity.get("detail") or ()
        }
        found.append((str(identifier["value"]), details))
    return found


def _purposes(event: dict[str, Any]) -> set[str]:
    return {c["code"] for p in event.get("authorization") or () for c in p.get("coding") or ()}


def account_research(entries: Iterable[bytes | dict[str, Any]]) -> dict[str, KindAccount]:
    """Per source kind on the research path, from the AuditEvents of a run."""
    kinds: dict[str, str] = {}  # ingested input id -> kind
    outputs: dict[str, str] = {}  # de-identified: input id -> output id
    failed: set[str] = set()
    failed_at_ingest: dict[str, str] = {}  # raw id -> kind
    denied: set[str] = set()
    disclosed: set[str] = set()
    for entry in entries:
        event = orjson.loads(entry) if isinstance(entry, bytes) else entry
        code = _code(event)
        messages = _messages(event)
        if code == "ingest" and messages:
            message_id, details = messages[0]
            kind = str(details.get("source-kind") or "")
            if kind in RESEARCH_KINDS:
                kinds[message_id] = kind
        elif code == "deidentify" and len(messages) >= 2:
            outputs[messages[0][0]] = messages[1][0]
        elif code == "validation-failure" and messages:
            message_id, details = messages[0]
            failed.add(message_id)
            if details.get("stage") == "ingest" and details.get("source-kind") in RESEARCH_KINDS:
                failed_at_ingest[message_id] = str(details["source-kind"])
        elif code == "consent-decision" and RESEARCH_PURPOSE in _purposes(event):
            if event.get("outcome", {}).get("code", {}).get("code") != "0" and messages:
                denied.add(messages[0][0])
        elif code == "disclose" and RESEARCH_PURPOSE in _purposes(event):
            disclosed.update(message_id for message_id, _ in messages)
    accounts = {kind: KindAccount() for kind in RESEARCH_KINDS}
    for kind in failed_at_ingest.values():
        accounts[kind].ingested += 1
        accounts[kind].quarantined += 1
    for message_id, kind in kinds.items():
        account = accounts[kind]
        account.ingested += 1
        output = outputs.get(message_id)
        if message_id in failed or (output is not None and output in failed):
            account.quarantined += 1
        elif output is not None and output in disclosed:
            account.released += 1
        elif output is not None and output in denied:
            account.denied += 1
        else:
            account.unaccounted.append(message_id)
    return accounts
