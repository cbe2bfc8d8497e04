"""FHIR de-identification policy: ordered rules (selector + method), validated on load.

A policy is YAML (``policies/fhir/*.yaml``)::

    name: safe-harbor
    unknown: redact            # allow-list: elements no rule selects are removed
    rules:
      - id: patient-birthdate
        path: Patient.birthDate          # or: type: HumanName | fhirpath: "..."
        method: generalize
        params: {to: year, age_cap: 89}

Selectors (exactly one per rule):
- ``path``: ``ResourceType.element.child`` (``*`` for any resource type or any one element);
  matched against the element path without indexes, e.g. ``Observation.code.coding.system``.
- ``type``: a FHIR data type (``HumanName``, ``Address``, ``date``, ``dateTime``, ...), resolved
  from the fhir.resources model of the element; optional ``resource`` narrows the resource type.
- ``fhirpath``: a FHIRPath expression (fhirpathpy, compiled once and cached) whose results
  select elements by value; used for conditional choices such as extensions by URL.

The first rule that selects an element decides it. An element no rule selects inherits its
parent's decision; at the resource root that is ``unknown`` (redact).

``extends: safe-harbor`` starts from another policy (beside this file, else in
``policies/fhir/``): a rule whose id the parent has replaces that rule in place, a new rule is
appended or placed with ``after: ID`` / ``before: ID``, and ``name``, ``description`` and
``unknown`` override (:mod:`clinflow.policy_loader`). Errors read ``file:line: rule: field:
message``, the rule named by its id or ``#N`` (its position).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clinflow.config import policies_dir
from clinflow.deid.fhir.methods import METHODS, Method
from clinflow.deid.fhir.resource_types import is_data_type
from clinflow.errors import PolicyError
from clinflow.policy_loader import PolicyDocument, Shape, parse_document, read_document

_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_]*|\*)"
PATH_RE = re.compile(rf"^(?:[A-Z][A-Za-z0-9]*|\*)(?:\.{_SEGMENT})+$")
TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")

POLICY_DIR = policies_dir() / "fhir"
DEFAULT_POLICY = "safe-harbor"
SHAPE = Shape(rule_lists={"rules": "id"}, extends=True, search_dirs=(POLICY_DIR,))


class RuleSpec(BaseModel):
    """One rule as written in YAML (checked with ``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = None
    path: str | None = None
    type: str | None = None
    fhirpath: str | None = None
    resource: str = "*"
    method: str
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""

    @model_validator(mode="after")
    def _one_selector(self) -> RuleSpec:
        given = [name for name in ("path", "type", "fhirpath") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("needs exactly one selector of path, type, fhirpath")
        return self


class PolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    unknown: Literal["redact", "keep"] = "redact"
    rules: list[RuleSpec]


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule: selector plus a validated method instance."""

    index: int
    name: str
    kind: Literal["path", "type", "fhirpath"]
    selector: str
    resource: str
    method: Method
    params: dict[str, Any]
    path_re: re.Pattern[str] | None = None
    generic: bool = False  # by data type: applies only inside elements already selected
    fhirpath_fn: Callable[..., list[Any]] | None = None

    def applies_to_resource(self, resource_type: str) -> bool:
        return self.resource in ("*", resource_type)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    unknown: str
    rules: tuple[Rule, ...]
    digest: str  # SHA-256 of the policy files' bytes (extends chain), recorded in the audit log
    source: str


def _balanced(expression: str) -> bool:
    """Brackets and quotes balance (fhirpathpy's parser recovers from errors silently)."""
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    quote: str | None = None
    for char in expression:
        if quote:
            if char == quote:
                quote = None
        elif char in "'`\"":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in closing:
            if not stack or stack.pop() != closing[char]:
                return False
    return not stack and quote is None


@lru_cache(maxsize=256)
def compile_fhirpath(expression: str) -> Callable[..., list[Any]]:
    """Compile a FHIRPath expression once (fhirpathpy); raises ValueError when malformed."""
    import fhirpathpy

    if not expression.strip() or not _balanced(expression):
        raise ValueError("malformed FHIRPath: unbalanced brackets or quotes")
    try:
        compiled: Callable[..., list[Any]] = fhirpathpy.compile(expression, None)
        compiled({"resourceType": expression.split(".", 1)[0]}, None)  # bad functions fail here
    except Exception as exc:  # fhirpathpy raises its parser's own exception types
        raise ValueError(f"malformed FHIRPath: {type(exc).__name__}") from exc
    return compiled


def _path_regex(path: str) -> re.Pattern[str]:
    parts = []
    for part in path.split("."):
        parts.append(r"[^.]+" if part == "*" else re.escape(part))
    return re.compile("^" + r"\.".join(parts) + "$")


def _rule_name(spec: RuleSpec, position: int) -> str:
    return spec.id or f"#{position + 1}"


def compile_rule(spec: RuleSpec, position: int, document: PolicyDocument) -> Rule:
    """Compile rule ``position`` of ``document``; errors point at the rule's field."""
    name = _rule_name(spec, position)

    def error(field: str, message: str) -> PolicyError:
        return document.error(("rules", position, field), message)

    method_cls = METHODS.get(spec.method)
    if method_cls is None:
        raise error(
            "method",
            f"unknown method {spec.method!r} (known: {', '.join(sorted(METHODS))})",
        )
    try:
        method = method_cls(spec.params)
    except ValueError as exc:
        raise error("params", str(exc)) from exc
    if spec.resource != "*" and not TYPE_RE.match(spec.resource):
        raise error("resource", "malformed resource type")
    if spec.path is not None:
        if not PATH_RE.match(spec.path):
            raise error("path", f"malformed path {spec.path!r}")
        root = spec.path.split(".", 1)[0]
        # A path rooted at a data type (Reference.display) applies in every resource type.
        resource = spec.resource if root == "*" or is_data_type(root) else root
        return Rule(
            position,
            name,
            "path",
            spec.path,
            resource,
            method,
            spec.params,
            path_re=_path_regex(spec.path),
            generic=root != "*" and is_data_type(root),
        )
    if spec.type is not None:
        if not TYPE_RE.match(spec.type):
            raise error("type", f"malformed type {spec.type!r}")
        return Rule(
            position, name, "type", spec.type, spec.resource, method, spec.params, generic=True
        )
    assert spec.fhirpath is not None
    try:
        fn = compile_fhirpath(spec.fhirpath)
    except ValueError as exc:
        raise error("fhirpath", str(exc)) from exc
    root = spec.fhirpath.split(".", 1)[0]
    resource = root if TYPE_RE.match(root) and root[0].isupper() else spec.resource
    return Rule(
        position, name, "fhirpath", spec.fhirpath, resource, method, spec.params, fhirpath_fn=fn
    )


def compile_document(document: PolicyDocument) -> Policy:
    """Validate and compile a parsed policy (``extends`` already merged)."""
    spec = document.validate(PolicySpec)
    rules = tuple(compile_rule(rule, i, document) for i, rule in enumerate(spec.rules))
    digest = hashlib.sha256(document.raw).hexdigest()
    return Policy(spec.name, spec.unknown, rules, digest, document.source)


def parse_policy(text: str | bytes, where: str = "<policy>") -> Policy:
    """Validate and compile a policy document; ``where`` names it in errors."""
    return compile_document(parse_document(text, where, SHAPE))


def load_policy(path_or_name: str | Path | None = None) -> Policy:
    """Load a policy file, or a named policy from ``policies/fhir/`` (default safe-harbor)."""
    if path_or_name is None:
        path_or_name = DEFAULT_POLICY
    path = Path(path_or_name)
    if not path.exists() and not path.suffix:
        path = POLICY_DIR / f"{path_or_name}.yaml"
    return compile_document(read_document(path, SHAPE))
