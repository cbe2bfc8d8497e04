"""IOD attribute types as data: load ``policies/dicom/iod-modules.yaml`` and check a dataset.

The table (PS3.3 module tables, written by hand with the sections cited) lists the Type 1, 2,
1C and 2C attributes of the IODs clinflow emits and of those its de-identifier needs. Two uses:

- :func:`check_dataset` is a pure-Python IOD check: Type 1 present with a value, Type 2
  present, a conditional attribute present when its condition holds and absent when it says
  "absent otherwise". It is a floor, not dciodvfy: it checks the listed attributes only (no
  value multiplicity, defined terms or Type 3 attributes), top level or one sequence down.
- :meth:`IodTable.levels` and :meth:`IodTable.dependents` feed the de-identification policy
  (ADR 0025): combined codes of Table E.1-1 resolve by the attribute's type in the file's IOD,
  and attributes whose condition is gone are removed after the profile's actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from clinflow.config import policies_dir
from clinflow.policy_loader import PolicyModel, Shape, read_document

IOD_TABLE = policies_dir() / "dicom" / "iod-modules.yaml"
_SHAPE = Shape(rule_maps=frozenset({"modules", "iods"}), kind="IOD table")
AttrType = Literal["1", "2", "1C", "2C"]


def _tag_or_pattern(text: str) -> str:
    raw = text.strip().strip("()").replace(",", "")
    if len(raw) != 8 or any(c not in "0123456789ABCDEFx" for c in raw):
        raise ValueError(f"tag {text!r} is not '(GGGG,EEEE)' (upper-case hex, x for a digit)")
    return text


class Attribute(PolicyModel):
    """One attribute of a module table: its type and, for 1C/2C, its condition."""

    tag: str
    name: str
    type: AttrType
    if_present: str | None = None
    if_absent: str | None = None
    if_equals: tuple[str, tuple[str, ...]] | None = None
    otherwise: Literal["absent"] | None = None
    within: str | None = None

    @field_validator("tag", "if_present", "if_absent", "within")
    @classmethod
    def _tags(cls, value: str | None) -> str | None:
        return None if value is None else _tag_or_pattern(value)

    @model_validator(mode="after")
    def _consistent(self) -> Attribute:
        conditions = [c for c in (self.if_present, self.if_absent, self.if_equals) if c]
        if len(conditions) > 1:
            raise ValueError("at most one of if_present, if_absent, if_equals")
        if conditions and not self.type.endswith("C"):
            raise ValueError(f"a condition needs type 1C or 2C, not {self.type}")
        if self.otherwise and not conditions:
            raise ValueError("otherwise: absent needs a condition")
        if "x" not in self.tag:
            keyword = keyword_for_tag(parse(self.tag))
            if keyword != self.name:
                raise ValueError(f"name {self.name!r} but {self.tag} is {keyword!r}")
        return self


class Module(PolicyModel):
    section: str
    attributes: tuple[Attribute, ...]


class Iod(PolicyModel):
    section: str
    sop_classes: tuple[str, ...]
    modules: tuple[str, ...]
    partial: bool = False


class IodDocument(PolicyModel):
    source: str
    modules: dict[str, Module]
    iods: dict[str, Iod]

    @model_validator(mode="after")
    def _known_modules(self) -> IodDocument:
        seen: dict[str, str] = {}
        for name, iod in self.iods.items():
            for module in iod.modules:
                if module not in self.modules:
                    raise ValueError(f"IOD {name}: unknown module {module!r}")
            for uid in iod.sop_classes:
                if uid in seen:
                    raise ValueError(f"SOP class {uid} in both {seen[uid]} and {name}")
                seen[uid] = name
        return self


def parse(tag: str) -> int:
    """``'(0010,0010)'`` -> ``0x00100010`` (x digits read as 0)."""
    return int(tag.strip("()").replace(",", "").replace("x", "0"), 16)


@dataclass(frozen=True, slots=True)
class Dependent:
    """Remove ``tag`` (or a repeating group's elements) when ``needs`` is absent.

    For a repeating group (``mask`` not all ones), ``needs`` is taken in the same group.
    """

    mask: int
    value: int
    needs: int  # the needed tag with its group digits zeroed for a pattern
    name: str

    def matches(self, tag: int) -> bool:
        return tag & self.mask == self.value

    def needed_for(self, tag: int) -> int:
        if self.mask == 0xFFFFFFFF:
            return self.needs
        group_bits = ~self.mask & 0xFFFF0000
        return self.needs | (tag & group_bits)


def _mask(tag: str) -> tuple[int, int]:
    raw = tag.strip("()").replace(",", "")
    return int("".join("0" if c == "x" else "F" for c in raw), 16), parse(tag)


@dataclass(frozen=True, slots=True)
class Finding:
    """One conformance problem: which attribute, of which module, and what is wrong."""

    module: str
    name: str
    tag: str
    problem: str  # "missing Type 1", "empty Type 1", "missing Type 2", "present ..."

    def __str__(self) -> str:
        return f"{self.module}: {self.name} {self.tag}: {self.problem}"


class IodTable:
    """The loaded table: IOD by SOP class, attribute types, conditions."""

    def __init__(self, document: IodDocument, raw: bytes) -> None:
        self.document = document
        self.raw = raw
        self._by_sop = {
            uid: name for name, iod in document.iods.items() for uid in iod.sop_classes
        }

    def iod_name(self, sop_class: str) -> str | None:
        return self._by_sop.get(sop_class.strip("\0 "))

    def modules_of(self, sop_class: str) -> list[tuple[str, Module]]:
        name = self.iod_name(sop_class)
        if name is None:
            return []
        modules = self.document.modules
        return [(m, modules[m]) for m in self.document.iods[name].modules]

    def levels(self) -> dict[str, dict[int, str]]:
        """Per SOP class: tag -> '1' or '2' (1C/2C count as 1/2), for combined codes."""
        out: dict[str, dict[int, str]] = {}
        for iod in self.document.iods.values():
            types: dict[int, str] = {}
            for module in iod.modules:
                for attr in self.document.modules[module].attributes:
                    if "x" not in attr.tag:
                        types[parse(attr.tag)] = attr.type[0]
            for uid in iod.sop_classes:
                out[uid] = types
        return out

    def dependents(self) -> tuple[Dependent, ...]:
        """Attributes present only while another is (``if_present`` + ``otherwise: absent``)."""
        found: dict[tuple[int, int, int], Dependent] = {}
        for module in self.document.modules.values():
            for attr in module.attributes:
                if attr.otherwise == "absent" and attr.if_present and attr.within is None:
                    mask, value = _mask(attr.tag)
                    needs = parse(attr.if_present)
                    found[(mask, value, needs)] = Dependent(mask, value, needs, attr.name)
        return tuple(found.values())


@lru_cache(maxsize=4)
def load_iod_table(path: Path = IOD_TABLE) -> IodTable:
    """Load and validate the IOD table (cached per path); PolicyError names file and line."""
    document = read_document(path, _SHAPE)
    return IodTable(document.validate(IodDocument), document.raw)


# --- the check -------------------------------------------------------------------------------


def _has_value(ds: Dataset, tag: int) -> bool:
    elem = ds.get(tag)
    if elem is None:
        return False
    value = elem.value
    if value is None:
        return False
    if isinstance(value, str | bytes):
        return bool(value.strip(" \0") if isinstance(value, str) else value)
    try:
        return len(value) > 0
    except TypeError:
        return True


def _first_value(ds: Dataset, tag: int) -> str | None:
    elem = ds.get(tag)
    if elem is None or elem.value is None:
        return None
    value = elem.value
    if isinstance(value, list | tuple | MultiValue):
        value = value[0] if len(value) else None
    return None if value is None else str(value).strip()


def _condition(attr: Attribute, ds: Dataset, tag: int) -> bool:
    group_bits = tag & 0xFFFF0000 if "x" in attr.tag else 0
    if attr.if_present is not None:
        return (parse(attr.if_present) | group_bits) in ds
    if attr.if_absent is not None:
        return (parse(attr.if_absent) | group_bits) not in ds
    if attr.if_equals is not None:
        other, values = attr.if_equals
        return _first_value(ds, parse(other)) in values
    return True  # 1C/2C without a modelled condition: treated as required


def _check_item(ds: Dataset, module: str, attr: Attribute) -> Iterable[Finding]:
    if "x" in attr.tag:  # a repeating group: every group present, each on its own
        mask, value = _mask(attr.tag)
        groups = {int(t) & 0xFFFF0000 for t in ds.keys() if int(t) & mask == value}
        for group in sorted(groups):
            if attr.otherwise == "absent" and not _condition(attr, ds, group):
                yield Finding(module, attr.name, f"({group >> 16:04X},xxxx)",
                              "present while its condition does not hold")
        return
    tag = parse(attr.tag)
    required = _condition(attr, ds, tag)
    present = tag in ds
    if not required:
        if present and attr.otherwise == "absent":
            yield Finding(module, attr.name, attr.tag, "present while its condition does not hold")
        return
    kind = attr.type
    if not present:
        yield Finding(module, attr.name, attr.tag, f"missing Type {kind}")
    elif kind.startswith("1") and not _has_value(ds, tag):
        yield Finding(module, attr.name, attr.tag, f"empty Type {kind}")


def check_dataset(ds: Dataset, table: IodTable | None = None) -> list[Finding]:
    """The table's findings for ``ds`` by its SOPClassUID; [] for an IOD the table lacks.

    Partial IODs are checked for what they list. Nested attributes (``within``) are checked
    in every item of their sequence when the sequence is present.
    """
    table = table or load_iod_table()
    sop_class = _first_value(ds, 0x00080016) or ""
    findings: list[Finding] = []
    for module_name, module in table.modules_of(sop_class):
        for attr in module.attributes:
            if attr.within is None:
                findings.extend(_check_item(ds, module_name, attr))
                continue
            sequence = ds.get(parse(attr.within))
            for item in (sequence.value or []) if sequence is not None else []:
                findings.extend(_check_item(item, module_name, attr))
    return findings


def covered_sop_classes(table: IodTable | None = None) -> Mapping[str, str]:
    """SOP class UID -> IOD name, for the complete (not partial) IODs of the table."""
    table = table or load_iod_table()
    return {
        uid: name
        for name, iod in table.document.iods.items()
        if not iod.partial
        for uid in iod.sop_classes
    }
