"""One loader for every policy and scenario file: read, parse keeping line numbers, resolve
``extends``, validate with pydantic, and fail with one error format.

    document = read_document(path, SHAPE)     # or parse_document(text, source, SHAPE)
    policy = document.validate(PolicyModel)    # pydantic; models use extra="forbid"
    raise document.error(("rules", 3, "path"), "malformed path")   # checks after pydantic

Every failure is a :class:`~clinflow.errors.PolicyError` reading ``file:line: rule: field:
message``, e.g. ``policies/fhir/site.yaml:14: patient-zip: method: unknown method 'zip'``.
The line is where the offending key or list item starts (for inherited content: in the parent
file); the rule is the id of the rule the problem is in and the field the path inside it, each
``-`` where none applies. A :class:`Shape` says which top-level keys hold rules: lists of
mappings with an id field (``rules`` by ``id``, ``rows`` by ``tag``; an item without one is
``#N``, 1-based) or mappings whose keys are the ids (``endpoints``, ``purposes``).

``extends`` (where the shape allows it) names a parent: a path relative to the file, or a bare
name looked up as ``NAME.yaml`` beside the file, then in the shape's ``search_dirs``. The child
is merged onto the parent key by key:

- a rule list merges by id: a child rule with an id the parent has replaces that rule in place;
  one with a new id (or none) is appended, or inserted where it says with ``after: ID`` or
  ``before: ID`` (which also moves an inherited rule of the same id there);
- a rule mapping merges by key: the child's entries replace or add to the parent's;
- every other key (scalar settings, plain lists, nested mappings) replaces the parent's whole.

A missing parent or a cycle is an error at the ``extends`` line. ``raw`` holds the chain's
bytes, root first, joined by NUL, so a policy hash covers every file it was built from.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from clinflow.errors import PolicyError

__all__ = [
    "PolicyDocument",
    "PolicyModel",
    "Shape",
    "format_field",
    "parse_document",
    "read_document",
]


class PolicyModel(BaseModel):
    """Base of the policy and scenario models: a key the model does not declare is an error
    (a misspelt rule must not be ignored), and a loaded policy cannot be changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ModelT = TypeVar("ModelT", bound=BaseModel)
Loc = Sequence[Any]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_EXTENDS = "extends"
_POSITION_KEYS = ("after", "before")


@dataclass(frozen=True, slots=True)
class Shape:
    """Which top-level keys of a document hold rules, and whether ``extends`` is allowed."""

    rule_lists: Mapping[str, str] = field(default_factory=dict)  # key -> the items' id field
    rule_maps: frozenset[str] = frozenset()  # keys whose mapping keys are rule ids
    extends: bool = False
    search_dirs: tuple[Path, ...] = ()  # where ``extends: NAME`` is looked for after ./
    kind: str = "policy"  # in messages: "cannot read policy file"


@dataclass(frozen=True, slots=True)
class _Node:
    """Where one value sits (file, 1-based line) and where its children sit."""

    file: str
    line: int
    children: dict[Any, _Node]


def format_field(loc: Loc) -> str:
    """``("fields", 3)`` -> ``fields[3]``; ``("alerting", "min_band")`` -> ``alerting.min_band``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "-"


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A parsed policy (``extends`` merged) that still knows the file and line of every value."""

    source: str  # the file as the caller named it
    data: dict[Any, Any]
    raw: bytes  # the extends chain's bytes, root first, NUL-joined
    files: tuple[str, ...]  # the extends chain, root first
    shape: Shape
    tree: _Node

    def locate(self, loc: Loc) -> tuple[str, int]:
        """File and line of the deepest value of ``loc`` present in the document."""
        node, _ = self._deepest(loc)
        return node.file, node.line

    def error(self, loc: Loc, message: str) -> PolicyError:
        """A ``PolicyError`` at ``loc`` (a path of keys and list indexes from the top)."""
        node, _ = self._deepest(loc)
        rule, inner = self._rule_of(loc)
        return PolicyError(node.file, node.line, rule, format_field(inner), message)

    def validate(self, model: type[ModelT], context: Any = None) -> ModelT:
        """``model.model_validate(data)``; the first pydantic error becomes a ``PolicyError``."""
        try:
            return model.model_validate(self.data, context=context)
        except ValidationError as exc:
            raise self._from_pydantic(exc) from exc

    def _deepest(self, loc: Loc) -> tuple[_Node, int]:
        node, depth = self.tree, 0
        for part in loc:
            child = node.children.get(part) if isinstance(part, Hashable) else None
            if child is None:
                break
            node, depth = child, depth + 1
        return node, depth

    def _rule_of(self, loc: Loc) -> tuple[str, Loc]:
        """The id of the rule ``loc`` falls in (``-`` if none) and the path inside it."""
        if len(loc) < 2 or not isinstance(loc[0], str):
            return "-", loc
        key, item = loc[0], loc[1]
        if key in self.shape.rule_maps:
            return str(item), loc[2:]
        if key in self.shape.rule_lists and isinstance(item, int):
            items = self.data.get(key)
            entry = items[item] if isinstance(items, list) and 0 <= item < len(items) else None
            rule_id = entry.get(self.shape.rule_lists[key]) if isinstance(entry, dict) else None
            if isinstance(rule_id, str | int | float) and str(rule_id):
                return str(rule_id), loc[2:]
            return f"#{item + 1}", loc[2:]
        return "-", loc

    def _from_pydantic(self, exc: ValidationError) -> PolicyError:
        first = exc.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        node, depth = self._deepest(loc)
        # Keep the part of pydantic's path that is in the file (it may add "[key]" or union
        # members); a missing field is named though it is absent.
        where = loc[:depth]
        if first["type"] == "missing" and depth < len(loc):
            where = (*where, loc[-1])
        message = "unknown field" if first["type"] == "extra_forbidden" else str(first["msg"])
        if exc.error_count() > 1:
            message += f" (and {exc.error_count() - 1} more)"
        rule, inner = self._rule_of(where)
        return PolicyError(node.file, node.line, rule, format_field(inner), message)


# --- reading and parsing -------------------------------------------------------------------


def read_document(path: str | os.PathLike[str], shape: Shape | None = None) -> PolicyDocument:
    """Read, parse and (if it ``extends`` another) merge a policy file."""
    shape = shape or Shape()
    source = str(path)
    return _resolve(_read(Path(path), source, shape), source, Path(path).parent, shape, ())


def parse_document(
    text: str | bytes, source: str, shape: Shape | None = None, base_dir: Path | None = None
) -> PolicyDocument:
    """Parse policy text; ``source`` names it in errors, ``extends`` resolves from ``base_dir``
    (default: the folder of ``source``)."""
    shape = shape or Shape()
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return _resolve(raw, source, base_dir or Path(source).parent, shape, ())


def _read(path: Path, source: str, shape: Shape) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PolicyError(source, 0, "-", "-", f"cannot read {shape.kind} file ({reason})") from exc


def _resolve(
    raw: bytes, source: str, base_dir: Path, shape: Shape, chain: tuple[str, ...]
) -> PolicyDocument:
    document = _parse(raw, source, shape)
    if not shape.extends or _EXTENDS not in document.data:
        return document
    reference = document.data[_EXTENDS]
    if not isinstance(reference, str) or not reference.strip():
        raise document.error((_EXTENDS,), "must name a parent policy")
    parent_path = _find_parent(reference.strip(), base_dir, shape.search_dirs)
    if parent_path is None:
        raise document.error((_EXTENDS,), f"unknown parent policy {reference!r}")
    here = (*chain, str(Path(source).resolve()))
    if str(parent_path.resolve()) in here:
        names = " -> ".join(Path(name).name for name in (*here, str(parent_path)))
        raise document.error((_EXTENDS,), f"forms a cycle: {names}")
    parent_source = str(parent_path)
    parent_raw = _read(parent_path, parent_source, shape)
    parent = _resolve(parent_raw, parent_source, parent_path.parent, shape, here)
    return _merge(parent, document)


def _find_parent(reference: str, base_dir: Path, search_dirs: Sequence[Path]) -> Path | None:
    name = Path(reference).expanduser()
    if not name.suffix:
        name = name.with_name(name.name + ".yaml")
    if name.is_absolute():
        return name if name.is_file() else None
    for folder in (base_dir, *search_dirs):
        if (folder / name).is_file():
            return folder / name
    return None


def _parse(raw: bytes, source: str, shape: Shape) -> PolicyDocument:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError(source, line, "-", "-", "not valid YAML (not UTF-8 text)") from exc
    builder = _Builder(source)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            data, tree = {}, _Node(source, 1, {})
        else:
            data, tree = builder.build(loader, root, root.start_mark.line + 1, ())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        last_line = max(1, len(text.splitlines()))  # an error at the end names the last line
        line = min(mark.line + 1, last_line) if mark is not None else 1
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise PolicyError(source, line, "-", "-", f"not valid YAML ({problem})") from exc
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(source, tree.line, "-", "-", "expected a mapping at the top level")
    document = PolicyDocument(source, data, raw, (source,), shape, tree)
    for loc, message in (*builder.problems, *_duplicate_ids(document)):
        raise document.error(loc, message)
    return document


def _duplicate_ids(document: PolicyDocument) -> list[tuple[Loc, str]]:
    """Rule ids must be unique within a file (``extends`` merges by them)."""
    problems: list[tuple[Loc, str]] = []
    for key, id_field in document.shape.rule_lists.items():
        items = document.data.get(key)
        seen: dict[Any, int] = {}
        for index, item in enumerate(items if isinstance(items, list) else ()):
            rule_id = item.get(id_field) if isinstance(item, dict) else None
            if not isinstance(rule_id, Hashable) or rule_id is None:
                continue
            if rule_id in seen:
                _, line = document.locate((key, seen[rule_id]))
                problems.append(((key, index, id_field), f"duplicate id (first at line {line})"))
            seen.setdefault(rule_id, index)
    return problems


class _Builder:
    """Turns a composed YAML node into plain data plus a tree of (file, line) per value."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[tuple[Loc, str]] = []
        self._active: set[int] = set()  # nodes being built: a recursive alias would loop

    def build(self, loader: Any, node: yaml.Node, line: int, loc: tuple[Any, ...]) -> Any:
        if id(node) in self._active:
            raise PolicyError(self.source, line, "-", format_field(loc), "recursive YAML alias")
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
                return self._mapping(loader, node, line, loc)
            if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
                values, children = [], {}
                for index, item in enumerate(node.value):
                    value, child = self.build(loader, item, item.start_mark.line + 1, (*loc, index))
                    values.append(value)
                    children[index] = child
                return values, _Node(self.source, line, children)
            try:
                value = loader.construct_object(node, deep=True)
            except (ValueError, OverflowError) as exc:
                # a scalar YAML cannot build: an impossible timestamp (2024-13-45), ...
                reason = f"not a valid {node.tag.rsplit(':', 1)[-1]} ({type(exc).__name__})"
                raise PolicyError(self.source, line, "-", format_field(loc), reason) from exc
            return value, _Node(self.source, line, {})
        finally:
            self._active.discard(id(node))

    def _mapping(
        self, loader: Any, node: yaml.MappingNode, line: int, loc: tuple[Any, ...]
    ) -> tuple[dict[Any, Any], _Node]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = loader.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, Hashable):
                raise PolicyError(self.source, key_line, "-", format_field(loc), "unhashable key")
            if key in first_line:
                message = f"duplicate key (first at line {first_line[key]})"
                self.problems.append(((*loc, key), message))
            first_line.setdefault(key, key_line)
        loader.flatten_mapping(node)  # ``<<`` merge keys: merged pairs first, own pairs win
        values: dict[Any, Any] = {}
        children: dict[Any, _Node] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + 1
            values[key], children[key] = self.build(loader, value_node, key_line, (*loc, key))
        return values, _Node(self.source, line, children)


# --- extends -------------------------------------------------------------------------------


def _merge(parent: PolicyDocument, child: PolicyDocument) -> PolicyDocument:
    """The child merged onto the parent (see the module docstring for the rules)."""
    shape = child.shape
    data = dict(parent.data)
    children = dict(parent.tree.children)
    for key, value in child.data.items():
        if key == _EXTENDS:
            continue
        node = child.tree.children[key]
        inherited = data.get(key)
        if key in shape.rule_lists and isinstance(value, list) and isinstance(inherited, list):
            data[key], children[key] = _merge_rules(parent, child, key)
        elif key in shape.rule_maps and isinstance(value, dict) and isinstance(inherited, dict):
            data[key] = {**inherited, **value}
            merged_children = {**children[key].children, **node.children}
            children[key] = _Node(node.file, node.line, merged_children)
        else:
            data[key], children[key] = value, node
    tree = _Node(child.tree.file, child.tree.line, children)
    return PolicyDocument(
        child.source,
        data,
        parent.raw + b"\x00" + child.raw,
        (*parent.files, *child.files),
        shape,
        tree,
    )


def _merge_rules(
    parent: PolicyDocument, child: PolicyDocument, key: str
) -> tuple[list[Any], _Node]:
    id_field = child.shape.rule_lists[key]
    parent_node, child_node = parent.tree.children[key], child.tree.children[key]
    merged = [(item, parent_node.children[i]) for i, item in enumerate(parent.data[key])]

    def index_of(rule_id: Any) -> int | None:
        for index, (item, _) in enumerate(merged):
            if isinstance(item, dict) and rule_id is not None and item.get(id_field) == rule_id:
                return index
        return None

    for position, item in enumerate(child.data[key]):
        node = child_node.children[position]
        if not isinstance(item, dict):
            merged.append((item, node))
            continue
        placement = [name for name in _POSITION_KEYS if name in item]
        if len(placement) > 1:
            raise child.error((key, position, "before"), "give either after or before, not both")
        rule = {k: v for k, v in item.items() if k not in _POSITION_KEYS}
        rule_node = _Node(
            node.file, node.line, {k: v for k, v in node.children.items() if k not in placement}
        )
        existing = index_of(rule.get(id_field))
        if not placement:
            if existing is None:
                merged.append((rule, rule_node))
            else:
                merged[existing] = (rule, rule_node)
            continue
        if existing is not None:
            del merged[existing]
        anchor = index_of(item[placement[0]])
        if anchor is None:
            raise child.error(
                (key, position, placement[0]), f"no rule with id {item[placement[0]]!r}"
            )
        merged.insert(anchor + (1 if placement[0] == "after" else 0), (rule, rule_node))
    values = [item for item, _ in merged]
    nodes = {index: node for index, (_, node) in enumerate(merged)}
    return values, _Node(child_node.file, child_node.line, nodes)
