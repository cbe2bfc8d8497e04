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
parent's decision; at the resource root that is ``unknown`` (redact). Errors name the file,
the rule (id or position) and the field.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clinflow.config import policies_dir
from clinflow.deid.fhir.methods import METHODS, Method
from clinflow.deid.fhir.resource_types import is_data_type
from clinflow.errors import PolicyError

_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_]*|\*)"
PATH_RE = re.compile(rf"^(?:[A-Z][A-Za-z0-9]*|\*)(?:\.{_SEGMENT})+$")
TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")

POLICY_DIR = policies_dir() / "fhir"
DEFAULT_POLICY = "safe-harbor"


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
    digest: str  # SHA-256 of the policy file bytes, recorded in the audit log
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


def compile_rule(spec: RuleSpec, position: int, where: str) -> Rule:
    name = _rule_name(spec, position)
    method_cls = METHODS.get(spec.method)
    if method_cls is None:
        raise PolicyError(
            f"{where}: rule {name}: field method: unknown method {spec.method!r}"
            f" (known: {', '.join(sorted(METHODS))})"
        )
    try:
        method = method_cls(spec.params)
    except ValueError as exc:
        raise PolicyError(f"{where}: rule {name}: field params: {exc}") from exc
    if spec.resource != "*" and not TYPE_RE.match(spec.resource):
        raise PolicyError(f"{where}: rule {name}: field resource: malformed resource type")
    if spec.path is not None:
        if not PATH_RE.match(spec.path):
            raise PolicyError(f"{where}: rule {name}: field path: malformed path {spec.path!r}")
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
            raise PolicyError(f"{where}: rule {name}: field type: malformed type {spec.type!r}")
        return Rule(
            position, name, "type", spec.type, spec.resource, method, spec.params, generic=True
        )
    assert spec.fhirpath is not None
    try:
        fn = compile_fhirpath(spec.fhirpath)
    except ValueError as exc:
        raise PolicyError(f"{where}: rule {name}: field fhirpath: {exc}") from exc
    root = spec.fhirpath.split(".", 1)[0]
    resource = root if TYPE_RE.match(root) and root[0].isupper() else spec.resource
    return Rule(
        position, name, "fhirpath", spec.fhirpath, resource, method, spec.params, fhirpath_fn=fn
    )


def parse_policy(text: str | bytes, where: str = "<policy>") -> Policy:
    """Validate and compile a policy document; ``where`` names it in errors."""
    raw_bytes = text.encode() if isinstance(text, str) else text
    try:
        document = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{where}: not valid YAML ({type(exc).__name__})") from exc
    if not isinstance(document, dict):
        raise PolicyError(f"{where}: expected a mapping with name and rules")
    raw_rules = document.get("rules")
    if isinstance(raw_rules, list):
        # Validate rule by rule so the error names the rule, not just a list index.
        for position, raw in enumerate(raw_rules):
            try:
                RuleSpec.model_validate(raw)
            except ValidationError as exc:
                rule_id = raw.get("id") if isinstance(raw, dict) else None
                name = rule_id or f"#{position + 1}"
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"]) or "rule"
                raise PolicyError(f"{where}: rule {name}: field {field}: {first['msg']}") from exc
    try:
        spec = PolicySpec.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"{where}: field {field}: {first['msg']}") from exc
    rules = tuple(compile_rule(rule, i, where) for i, rule in enumerate(spec.rules))
    return Policy(spec.name, spec.unknown, rules, hashlib.sha256(raw_bytes).hexdigest(), where)


def load_policy(path_or_name: str | Path | None = None) -> Policy:
    """Load a policy file, or a named policy from ``policies/fhir/`` (default safe-harbor)."""
    if path_or_name is None:
        path_or_name = DEFAULT_POLICY
    path = Path(path_or_name)
    if not path.exists() and not path.suffix:
        path = POLICY_DIR / f"{path_or_name}.yaml"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy ({exc.strerror})") from exc
    return parse_policy(data, str(path))
