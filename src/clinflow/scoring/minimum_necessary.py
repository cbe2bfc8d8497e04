"""The pipeline's minimum-necessary stage: send an endpoint only the fields it may receive.

Runs after de-identification and before a scoring endpoint (DESIGN.md data flow). For a plain
JSON record it keeps exactly the endpoint's ``fields`` from ``policies/endpoints.yaml``; for
FHIR it keeps only Observations with an allowed code, only the allowed elements of each, drops
every ``extension`` (US Core race/ethnicity travel as extensions) and reduces ``subject`` to
its reference. What was removed is recorded by *name* in the envelope attributes and the audit
trail — never the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from clinflow.audit import events as audit_events
from clinflow.envelope import Envelope
from clinflow.errors import InputRejected
from clinflow.interfaces import AuditSink
from clinflow.scoring.fhir_io import medication_codings, observations_from_body
from clinflow.scoring.policy import EndpointPolicy

_EXTENSIONS = frozenset({"extension", "modifierExtension"})
BUNDLE_ELEMENTS = frozenset({"resourceType", "id", "meta", "type", "timestamp", "entry"})
ENTRY_ELEMENTS = frozenset({"fullUrl", "resource", "request"})


def _may_hold_extensions(payload: bytes) -> bool:
    """False only when JSON text ``payload`` cannot hold an ``extension`` or
    ``modifierExtension`` key: neither name's end is in it, and no ``\\u`` escape (which could
    spell a key in other characters) is. Most vital-sign messages carry none, and a byte
    search is ~100x cheaper than walking every element."""
    return b'xtension"' in payload or b"\\u" in payload


def _has_extension(value: Any) -> bool:
    """Whether ``value`` holds an ``extension``/``modifierExtension`` at any depth (the
    common case is none: then nothing is copied and no path string is built)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if key in _EXTENSIONS:
                return True
            item_kind = type(item)
            if (item_kind is dict or item_kind is list) and _has_extension(item):
                return True
        return False
    if kind is list:
        for item in value:
            item_kind = type(item)
            if (item_kind is dict or item_kind is list) and _has_extension(item):
                return True
    return False


def _drop_extensions(value: Any, path: str, removed: list[str]) -> Any:
    """``value`` without any ``extension``/``modifierExtension`` at any depth."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if key in _EXTENSIONS:
                removed.append(f"{path}.{key}")
                continue
            item_kind = type(item)
            out[key] = (
                _drop_extensions(item, f"{path}.{key}", removed)
                if item_kind is dict or item_kind is list
                else item
            )
        return out
    if kind is list:
        return [_drop_extensions(item, path, removed) for item in value]
    return value


class MinimumNecessaryStage:
    """``process(envelope) -> list[Envelope]``: strip what the endpoint may not receive."""

    def __init__(self, endpoint: EndpointPolicy, audit: AuditSink | None = None) -> None:
        self.endpoint = endpoint
        self.name = f"minimum-necessary:{endpoint.name}"
        self._fields = frozenset(endpoint.fields)
        fhir = endpoint.fhir
        self._elements = frozenset(fhir.observation_elements) if fhir else frozenset()
        self._codes = fhir.code_pairs() if fhir else frozenset()
        self._types = frozenset(fhir.resource_types) if fhir else frozenset()
        # MedicationAdministration: its own element list, allowed by its medication code
        # (an element may be written ``dosage.rateQuantity``: only that part of ``dosage``)
        medication_elements = fhir.medication_administration_elements if fhir else ()
        self._medication_elements = frozenset(e.split(".", 1)[0] for e in medication_elements)
        self._medication_parts: dict[str, frozenset[str]] = {}
        for element in medication_elements:
            if "." in element:
                top, part = element.split(".", 1)
                self._medication_parts[top] = self._medication_parts.get(top, frozenset()) | {
                    part
                }
        self._medication_codes = fhir.medication_code_pairs() if fhir else frozenset()
        self.audit = audit

    # -- plain records -----------------------------------------------------------------------

    def strip_record(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Keep only the endpoint's fields; return the kept record and removed field names."""
        kept = {k: v for k, v in record.items() if k in self._fields}
        removed = sorted(k for k in record if k not in self._fields)
        return kept, removed

    # -- FHIR --------------------------------------------------------------------------------

    def _elements_of(self, resource: Mapping[str, Any]) -> frozenset[str]:
        if resource.get("resourceType") == "MedicationAdministration":
            return self._medication_elements
        return self._elements

    def _parts_of(self, resource: Mapping[str, Any], key: str) -> frozenset[str] | None:
        """The parts of element ``key`` allowed (None: the whole element)."""
        if resource.get("resourceType") == "MedicationAdministration":
            return self._medication_parts.get(key)
        return None

    def _allowed_code(self, resource: Mapping[str, Any]) -> bool:
        if resource.get("resourceType") == "MedicationAdministration":
            codes = self._medication_codes
            return any(pair in codes for pair in medication_codings(resource))
        code = resource.get("code")
        codings = code.get("coding", ()) if isinstance(code, dict) else ()
        return any(
            isinstance(c, dict) and (str(c.get("system")), str(c.get("code"))) in self._codes
            for c in codings
        )

    def strip_resource(
        self, resource: Mapping[str, Any], where: str = "resource", *, extensions: bool = True
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """An allowed Observation reduced to allowed elements, or None if not allowed at all.
        ``extensions=False``: the caller knows no element holds one (``_may_hold_extensions``
        of the JSON it was parsed from), so none is looked for."""
        kind = str(resource.get("resourceType", ""))
        if kind not in self._types or not self._allowed_code(resource):
            return None, [f"{where} ({kind or 'unknown'})"]
        removed: list[str] = []
        kept: dict[str, Any] = {}
        elements = self._elements_of(resource)
        # the parts allowed per element: only MedicationAdministration narrows any
        all_parts = self._medication_parts if kind == "MedicationAdministration" else {}
        for key, value in resource.items():
            if key not in elements:
                removed.append(f"{where}.{key}")
                continue
            if key == "subject" and isinstance(value, dict):
                extra = [k for k in value if k != "reference"]
                removed += [f"{where}.subject.{k}" for k in extra]
                value = {"reference": value["reference"]} if "reference" in value else {}
            parts = all_parts.get(key)
            if parts is not None and isinstance(value, dict):
                removed += [f"{where}.{key}.{k}" for k in value if k not in parts]
                value = {k: v for k, v in value.items() if k in parts}
            if extensions and _has_extension(value):
                kept[key] = _drop_extensions(value, f"{where}.{key}", removed)
            else:
                kept[key] = value  # nothing to drop: the parsed value itself, not a copy
        return kept, removed

    def strip_body(self, body: Any, *, extensions: bool = True) -> tuple[Any, list[str]]:
        """Strip a Bundle, an array of resources, a single resource or a plain record
        (``extensions``: as ``strip_resource``)."""
        if isinstance(body, list):
            kept_list, removed = [], []
            for index, item in enumerate(body):
                kept, gone = self.strip_resource(item, f"[{index}]", extensions=extensions)
                removed += gone
                if kept is not None:
                    kept_list.append(kept)
            return kept_list, removed
        if not isinstance(body, dict):
            raise InputRejected("payload is not a JSON object or array", self.name)
        kind = body.get("resourceType")
        if kind == "Bundle":
            entries, removed = [], []
            for index, entry in enumerate(body.get("entry") or ()):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict):
                    removed.append(f"entry[{index}]")
                    continue
                kept, gone = self.strip_resource(
                    resource, f"entry[{index}].resource", extensions=extensions
                )
                removed += gone
                if kept is not None:
                    entries.append({"resource": kept})
            return {"resourceType": "Bundle", "type": "collection", "entry": entries}, removed
        if kind is not None:
            kept_resource, removed = self.strip_resource(body, extensions=extensions)
            return kept_resource, removed
        return self.strip_record(body)

    def enforce_resource(self, resource: Mapping[str, Any], where: str = "Observation") -> None:
        """``enforce`` for one resource (the streaming hot path)."""
        if resource.get("resourceType") not in self._types:
            raise InputRejected("resource type not permitted", f"{where}.resourceType")
        elements = self._elements_of(resource)
        for key in resource:
            if key not in elements:
                raise InputRejected("element not permitted for this endpoint", f"{where}.{key}")
            parts = self._parts_of(resource, key) if self._medication_parts else None
            value = resource[key]
            if parts is not None and isinstance(value, dict):
                for part in value:
                    if part not in parts:
                        raise InputRejected(
                            "element not permitted for this endpoint", f"{where}.{key}.{part}"
                        )
        if not self._allowed_code(resource):
            if resource.get("resourceType") == "MedicationAdministration":
                raise InputRejected("medication not permitted", f"{where}.medication")
            raise InputRejected("Observation code not permitted", f"{where}.code")

    def enforce(self, body: Any) -> None:
        """Refuse (``InputRejected`` naming the location) anything the endpoint may not receive.

        The endpoint side of the same policy: where ``strip_body`` removes, this refuses.
        """
        if isinstance(body, dict) and body.get("resourceType") is None:
            for key in body:
                if key not in self._fields:
                    raise InputRejected("field not permitted for this endpoint", key)
            return
        if isinstance(body, dict) and body.get("resourceType") == "Bundle":
            for key in body:
                if key not in BUNDLE_ELEMENTS:
                    raise InputRejected("Bundle element not permitted", f"body.{key}")
            for index, entry in enumerate(body.get("entry") or ()):
                for key in entry if isinstance(entry, dict) else ():
                    if key not in ENTRY_ELEMENTS:
                        raise InputRejected(
                            "Bundle entry element not permitted", f"body.entry[{index}].{key}"
                        )
        for where, resource in observations_from_body(body):
            if not isinstance(resource, dict):
                raise InputRejected("not a FHIR resource", where)
            self.enforce_resource(resource, where)

    def process(self, envelope: Envelope) -> list[Envelope]:
        try:
            body = orjson.loads(envelope.payload)
        except orjson.JSONDecodeError as exc:
            raise InputRejected(
                "payload is not JSON", f"{self.name}:{envelope.message_id}"
            ) from exc
        kept, removed = self.strip_body(body, extensions=_may_hold_extensions(envelope.payload))
        if kept is None or kept == [] or (isinstance(kept, dict) and kept.get("entry") == []):
            return []
        if self.audit is not None:
            self.audit.append(_stripped_event(self.endpoint, envelope, removed))
        attributes = {
            **envelope.attributes,
            "endpoint": self.endpoint.name,
            "minimum_necessary_removed": ",".join(removed),
        }
        return [envelope.derive(orjson.dumps(kept), attributes=attributes)]


def _stripped_event(
    endpoint: EndpointPolicy, envelope: Envelope, removed: list[str]
) -> dict[str, Any]:
    """Release-to-endpoint AuditEvent naming (never showing) what was withheld."""
    return audit_events.disclosure(
        patient=envelope.patient,
        recipient=f"scoring-{endpoint.name}",
        purpose=envelope.purpose or endpoint.purpose,
        message_ids=[envelope.message_id],
        agent="clinflow-minimum-necessary",
        data_categories=list(endpoint.fields),
        reason=("withheld: " + ",".join(removed))[:500] if removed else None,
    )
