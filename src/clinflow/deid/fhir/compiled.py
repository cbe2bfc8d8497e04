"""The compiled walk: the engine's decisions per (element path, inherited method, parent
selected) worked out once, so an element costs one dict lookup (ADR 0118).

The generic walk (``FhirDeidentifier._walk``) builds each child's path string, looks its plan
up and checks static, generic and FHIRPath rules for every element it meets. Those checks
depend only on the path, the method the parent hands down and whether the parent was
selected, never on the value, except where a FHIRPath rule could select the element (its
results are per resource) or the key is special (``resourceType`` at the root, a contained
resource's ``id``, ``contained``, a Bundle entry's ``resource``). A ``Node`` holds, per key
of a dict at one such (path, method, selected), a ``Step``: the rule to count, the method
for primitives, the node to walk a dict with. Keys that need the value or the resource go
to the generic code (``FhirDeidentifier._walk_key``), so output, rule counts, removals and
rejections are the generic walk's by construction (tests/deid_fhir/test_engine_fast_path.py
checks them on generated cohorts and mutated resources).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

from clinflow.deid.fhir.methods import REDACT, Method

if TYPE_CHECKING:
    from clinflow.deid.fhir.engine import FhirDeidentifier, WalkState

# The date safety net: a string a kept element inherits that looks like a date is shifted.
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?$")

ELEMENT = 0  # decided by static rules: ``Step`` says how
SKIP = 1  # resourceType at a resource's root
PRIMITIVE_EXTENSION = 2  # ``_name``: kept only where the primitive is kept
GENERIC = 3  # needs the value or the resource: the generic walk decides
ROOT_ID = 4  # a resource's id: a token in a contained resource, else as ELEMENT


class Step:
    """How one key of a node is decided."""

    __slots__ = ("kind", "path", "name", "method", "keeps", "date_net", "redacts_dict", "child")

    def __init__(self, kind: int, path: str = "") -> None:
        self.kind = kind
        self.path = path  # the child's element path (methods read it from the context)
        self.name: str | None = None  # the rule counted per item, if any
        self.method: Method | None = None  # what a primitive item gets
        self.keeps = False
        self.date_net = False  # kept by inheritance: a date-looking string is shifted
        self.redacts_dict = False  # a rule redacts it: a dict item goes, counted once
        self.child: Node | None = None  # the node a dict item is walked with


class Node:
    """A dict at one element path, with the method its parent hands down."""

    __slots__ = ("path", "inherited", "selected", "root", "steps", "memo")

    def __init__(self, path: str, inherited: Method, selected: bool, root: bool) -> None:
        self.path = path
        self.inherited = inherited
        self.selected = selected
        self.root = root  # a resource's own dict (its resourceType and id are special)
        self.steps: dict[str, Step] = {}
        self.memo = not root  # try remembering its walks until one needs the context


class CompiledWalk:
    """Nodes of one engine (its policy and plans), built as the walk meets them."""

    LIMIT = 100_000  # nodes (then built again: bounded memory on hostile inputs)
    MEMO_LIMIT = 16_384  # remembered walks

    def __init__(self, engine: FhirDeidentifier) -> None:
        self.engine = engine
        self._nodes: dict[tuple[str, int, bool, bool], Node] = {}
        # (node, the dict's JSON) -> (kept whole, else removed whole; rule counts; removals)
        # of a walk that only kept or removed (no method, no context)
        self._memo: dict[tuple[Node, bytes], tuple[bool, tuple[tuple[str, int], ...], int]] = {}

    def node(self, path: str, inherited: Method, selected: bool, root: bool) -> Node:
        key = (path, id(inherited), selected, root)
        node = self._nodes.get(key)
        if node is None:
            if len(self._nodes) >= self.LIMIT:
                self._nodes.clear()
            node = self._nodes[key] = Node(path, inherited, selected, root)
        return node

    def _step(self, node: Node, key: str, resource_type: str) -> Step:
        """Work out ``key`` of ``node`` as ``FhirDeidentifier._walk_key`` and ``_element``
        decide it, for any value."""
        engine = self.engine
        path = node.path
        extension = key.startswith("_")
        if node.root and key == "resourceType":
            step = Step(SKIP)
        elif key == "contained" or (key == "resource" and path == "Bundle.entry"):
            step = Step(GENERIC)
        else:
            child_path = f"{path}.{key[1:] if extension else key}"
            plan = engine._plan(resource_type, child_path)
            if plan.dynamic:
                step = Step(GENERIC)
            elif extension:
                step = Step(PRIMITIVE_EXTENSION, child_path)
                method = node.inherited
                if plan.static is not None:  # the generic rules count here too (_decide)
                    step.name = plan.static.name
                    method = plan.static.method
                step.keeps = method.keeps
            else:
                step = Step(ROOT_ID if node.root and key == "id" else ELEMENT, child_path)
                rule = plan.static
                if rule is not None and rule.generic and not node.selected:
                    rule = None
                method = node.inherited if rule is None else rule.method
                step.name = None if rule is None else rule.name
                step.method = method
                step.keeps = method.keeps
                step.date_net = method.keeps and rule is None
                step.redacts_dict = rule is not None and method.redacts
                unknown = engine._unknown
                step.child = self.node(
                    child_path,
                    unknown if method.children_selected else method,
                    rule is not None or (node.selected and method is not unknown),
                    False,
                )
        node.steps[key] = step
        return step

    def walk(self, node: Node, value: dict[str, Any], state: WalkState) -> Any:
        """``FhirDeidentifier._walk`` of ``value`` at ``node``: the same output and report."""
        out: dict[str, Any] = {}
        steps = node.steps
        report = state.report
        applied = report.rules_applied
        for key, item in value.items():
            step = steps.get(key)
            if step is None:
                step = self._step(node, key, state.ctx.resource_type)
            kind = step.kind
            if kind == ROOT_ID:
                if state.contained:
                    out[key] = self.engine.pseudonymizer.token("contained", str(item), 12)
                    continue
                kind = ELEMENT
            if kind == ELEMENT:
                if isinstance(item, list):
                    kept = []
                    for each in item:
                        result = self._element(step, each, state, applied)
                        if result is not REDACT:
                            kept.append(result)
                    if kept:
                        out[key] = kept
                    else:
                        report.removed += 1
                else:
                    result = self._element(step, item, state, applied)
                    if result is not REDACT:
                        out[key] = result
            elif kind == PRIMITIVE_EXTENSION:
                name = step.name
                if name is not None:
                    applied[name] = applied.get(name, 0) + 1
                if step.keeps and isinstance(item, dict | list):
                    out[key] = item
                else:
                    report.removed += 1
            elif kind == GENERIC:
                state.impure += 1
                self.engine._walk_key(
                    out, key, item, node.path, node.inherited, node.selected, state
                )
        return out if out else REDACT

    def _element(
        self, step: Step, value: Any, state: WalkState, applied: dict[str, int]
    ) -> Any:
        name = step.name
        if isinstance(value, dict):
            if name is not None:
                applied[name] = applied.get(name, 0) + 1
                if step.redacts_dict:
                    state.report.removed += 1
                    return REDACT
            assert step.child is not None
            if step.child.memo:
                return self._remembered(step.child, value, state)
            return self.walk(step.child, value, state)
        if name is not None:
            applied[name] = applied.get(name, 0) + 1
        method = step.method
        if step.keeps:
            if step.date_net and isinstance(value, str) and FULL_DATE.match(value):
                method = self.engine._date_shift
            else:
                return value
        assert method is not None
        if not method.redacts:
            state.impure += 1  # hashes, shifts, cleans...: the output depends on the context
        ctx = state.ctx
        ctx.path = step.path
        result = method.operate(value, ctx)
        if result is REDACT:
            state.report.removed += 1
        return result

    def _remembered(self, node: Node, value: dict[str, Any], state: WalkState) -> Any:
        """``walk(node, value)``, from memory when a walk of the same JSON at the same node
        only kept and removed, and kept all of it or nothing: vital signs repeat their code,
        category and quantity. Engine inputs are parsed JSON; a null in the JSON (also what
        NaN and infinities dump to) or a value orjson refuses is walked every time."""
        try:
            dumped = orjson.dumps(value)
        except TypeError:  # not JSON (a caller's own dict): walked, never remembered
            return self.walk(node, value, state)
        if b"null" in dumped:
            return self.walk(node, value, state)
        key = (node, dumped)
        known = self._memo.get(key)
        report = state.report
        applied = report.rules_applied
        if known is not None:
            kept, counts, removed = known
            for name, count in counts:
                applied[name] = applied.get(name, 0) + count
            report.removed += removed
            return value if kept else REDACT
        impure, removed_before = state.impure, report.removed
        report.rules_applied = {}
        try:
            result = self.walk(node, value, state)
        finally:
            counted, report.rules_applied = report.rules_applied, applied
            for name, count in counted.items():
                applied[name] = applied.get(name, 0) + count
        if state.impure != impure:
            node.memo = False  # this node's walks need the context: stop trying
            return result
        # Only kept or removed: equal to the input means nothing was removed.
        if result is REDACT or result == value:
            if len(self._memo) >= self.MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = (
                result is not REDACT, tuple(counted.items()), report.removed - removed_before
            )
        return result
