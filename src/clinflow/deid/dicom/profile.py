"""The PS3.15 Annex E profile as data: load, validate and compile a DICOM de-identification policy.

Two YAML files make a policy: the generated Table E.1-1 (``ps3.15-e1-1.yaml``, every row with
its basic-profile action and option columns, made by ``scripts/gen_ps315_profile.py``) and a
site policy (``site-default.yaml``) naming the profile, default options, single-attribute
overrides, a curated IOD-type list for combined codes, the safe-private list and burned-in
regions. Action strings become enums on load; pydantic (``extra="forbid"``) rejects unknown
fields. Both load through :mod:`clinflow.policy_loader`: errors read ``file:line: rule: field:
message`` (a table row or a site override named by its tag), and a site policy may
``extends:`` another (overrides merge by tag, ``iod_type`` by key, other settings replace).

:func:`compile_policy` resolves everything once per (policy, options) into a
:class:`CompiledPolicy`: a dict from tag to one concrete action, so the walker does one dict
look-up per element. With ``iod_table`` (``iod-modules.yaml``, ADR 0025) combined codes also
resolve per SOP class by the attribute's type in that IOD (``iod_actions``), and attributes
whose "absent otherwise" condition the profile removed are listed in ``dependents``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator

from clinflow.config import policies_dir
from clinflow.deid.dicom.iod import Dependent, load_iod_table
from clinflow.errors import ConfigError
from clinflow.policy_loader import PolicyDocument, PolicyModel, Shape, read_document

POLICY_DIR = policies_dir() / "dicom"
DEFAULT_POLICY = POLICY_DIR / "site-default.yaml"
TABLE_SHAPE = Shape(rule_lists={"rows": "tag"})
SITE_SHAPE = Shape(rule_lists={"overrides": "tag"}, rule_maps=frozenset({"iod_type"}), extends=True)


class ActionCode(StrEnum):
    """Table E.1-1 action codes, the combined ones, and clinflow's pseudonym extension."""

    DUMMY = "D"
    EMPTY = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"
    EMPTY_OR_DUMMY = "Z/D"
    REMOVE_OR_EMPTY = "X/Z"
    REMOVE_OR_DUMMY = "X/D"
    REMOVE_OR_EMPTY_OR_DUMMY = "X/Z/D"
    REMOVE_OR_EMPTY_OR_UID = "X/Z/U*"
    PSEUDONYM = "P"  # clinflow: a keyed patient pseudonym (a dummy value per Z/D)
    KEEP_REMAP_UIDS = "U*"  # keep a reference sequence, remapping the UIDs inside

    @property
    def choices(self) -> tuple[ActionCode, ...]:
        """The alternatives of a combined code, in the standard's order of preference."""
        if "/" not in self.value:
            return (self,)
        return tuple(ActionCode(part) for part in self.value.split("/"))


class ProfileOption(StrEnum):
    """PS3.15 E.3 profile options (CID 7050 codes in :data:`OPTION_CODES`)."""

    RETAIN_SAFE_PRIVATE = "retain_safe_private"
    RETAIN_UIDS = "retain_uids"
    RETAIN_DEVICE_IDENTITY = "retain_device_identity"
    RETAIN_INSTITUTION_IDENTITY = "retain_institution_identity"
    RETAIN_PATIENT_CHARACTERISTICS = "retain_patient_characteristics"
    RETAIN_LONG_FULL_DATES = "retain_long_full_dates"
    RETAIN_LONG_MODIFIED_DATES = "retain_long_modified_dates"
    CLEAN_DESCRIPTORS = "clean_descriptors"
    CLEAN_STRUCTURED_CONTENT = "clean_structured_content"
    CLEAN_GRAPHICS = "clean_graphics"
    CLEAN_PIXEL_DATA = "clean_pixel_data"  # no column in E.1-1: masks burned-in regions
    CLEAN_RECOGNIZABLE_VISUAL_FEATURES = "clean_recognizable_visual_features"  # no column


# DICOM CID 7050 "De-identification Method" codes (DCM scheme).
BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
OPTION_CODES: dict[ProfileOption, tuple[str, str]] = {
    ProfileOption.CLEAN_PIXEL_DATA: ("113101", "Clean Pixel Data Option"),
    ProfileOption.CLEAN_RECOGNIZABLE_VISUAL_FEATURES: (
        "113102",
        "Clean Recognizable Visual Features Option",
    ),
    ProfileOption.CLEAN_GRAPHICS: ("113103", "Clean Graphics Option"),
    ProfileOption.CLEAN_STRUCTURED_CONTENT: ("113104", "Clean Structured Content Option"),
    ProfileOption.CLEAN_DESCRIPTORS: ("113105", "Clean Descriptors Option"),
    ProfileOption.RETAIN_LONG_FULL_DATES: (
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    ProfileOption.RETAIN_LONG_MODIFIED_DATES: (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    ProfileOption.RETAIN_PATIENT_CHARACTERISTICS: (
        "113108",
        "Retain Patient Characteristics Option",
    ),
    ProfileOption.RETAIN_DEVICE_IDENTITY: ("113109", "Retain Device Identity Option"),
    ProfileOption.RETAIN_UIDS: ("113110", "Retain UIDs Option"),
    ProfileOption.RETAIN_SAFE_PRIVATE: ("113111", "Retain Safe Private Option"),
    ProfileOption.RETAIN_INSTITUTION_IDENTITY: ("113112", "Retain Institution Identity Option"),
}

_COLUMN_ACTIONS = {ActionCode.KEEP, ActionCode.CLEAN}


def parse_tag(text: str) -> int:
    """``'(0010,0010)'`` -> ``0x00100010``; raises ``ValueError`` naming the text."""
    raw = text.strip().strip("()").replace(",", "")
    if len(raw) != 8:
        raise ValueError(f"tag {text!r} is not of the form (gggg,eeee)")
    return int(raw, 16)


# --- the generated table -------------------------------------------------------------------


class ProfileRow(PolicyModel):
    """One row of Table E.1-1: the basic action and each option column that is filled in."""

    tag: str
    name: str
    basic: ActionCode
    retain_safe_private: ActionCode | None = None
    retain_uids: ActionCode | None = None
    retain_device_identity: ActionCode | None = None
    retain_institution_identity: ActionCode | None = None
    retain_patient_characteristics: ActionCode | None = None
    retain_long_full_dates: ActionCode | None = None
    retain_long_modified_dates: ActionCode | None = None
    clean_descriptors: ActionCode | None = None
    clean_structured_content: ActionCode | None = None
    clean_graphics: ActionCode | None = None

    @field_validator("tag")
    @classmethod
    def _tag_shape(cls, value: str) -> str:
        if value != "private":
            raw = value.strip("()").replace(",", "")
            if len(raw) != 8 or any(c not in "0123456789ABCDEFabcdefx" for c in raw):
                raise ValueError("must be '(gggg,eeee)', a pattern with x, or 'private'")
        return value

    def column(self, option: ProfileOption) -> ActionCode | None:
        value = getattr(self, option.value, None)
        return value if isinstance(value, ActionCode) else None


class ProfileTable(PolicyModel):
    provenance: dict[str, str]
    rows: tuple[ProfileRow, ...]


# --- the site policy -----------------------------------------------------------------------


class Override(PolicyModel):
    tag: str
    action: ActionCode
    reason: str = ""

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        parse_tag(value)
        return value


class SafePrivate(PolicyModel):
    group: str
    creator: str
    element: str
    name: str = ""


class RegionRule(PolicyModel):
    """Boxes (x, y, width, height) to mask, in pixels or as fractions of the frame.

    Pixels suit burned-in text (font height does not grow with the image); negative x or y
    count from the right or bottom edge, so ``[0, -52, 100000, 52]`` is a 52-pixel bottom band.
    """

    modality: str
    unit: Literal["px", "fraction"] = "px"
    boxes: tuple[tuple[float, float, float, float], ...]

    @model_validator(mode="after")
    def _fractions(self) -> RegionRule:
        for box in self.boxes:
            if self.unit == "fraction" and not all(0.0 <= part <= 1.0 for part in box):
                raise ValueError("fraction boxes need parts between 0 and 1")
            if box[2] <= 0 or box[3] <= 0:
                raise ValueError("box width and height must be positive")
        return self


class BurnedInPolicy(PolicyModel):
    modalities: tuple[str, ...] = ()
    sop_classes: tuple[str, ...] = ()
    regions: tuple[RegionRule, ...] = ()


class SitePolicy(PolicyModel):
    profile: str | None = None
    iod_table: str | None = None  # iod-modules.yaml: IOD types by SOP class (ADR 0025)
    default_options: tuple[ProfileOption, ...] | None = None
    overrides: tuple[Override, ...] = ()
    iod_type: dict[str, str] | None = None
    safe_private: tuple[SafePrivate, ...] | None = None
    burned_in: BurnedInPolicy | None = None
    # A public (even-group) tag no DICOM dictionary knows: nobody can say what it holds (a
    # corrupt or misread file can move a name into one), so it is removed unless kept here.
    unknown_public: Literal["remove", "keep"] = "remove"

    @field_validator("iod_type")
    @classmethod
    def _iod(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for tag, level in (value or {}).items():
            parse_tag(tag)
            if level not in {"1", "2", "U"}:
                raise ValueError(f"{tag}: IOD type must be '1', '2' or 'U'")
        return value


@lru_cache(maxsize=8)
def load_profile_table(path: Path) -> ProfileTable:
    """Load and validate the generated Table E.1-1 (cached per path)."""
    return read_document(path, TABLE_SHAPE).validate(ProfileTable)


def _load_site(path: Path) -> tuple[SitePolicy, PolicyDocument]:
    """The site policy with ``extends`` resolved by the policy loader (see the module doc)."""
    document = read_document(path, SITE_SHAPE)
    return document.validate(SitePolicy), document


def _table_path(site: SitePolicy, document: PolicyDocument, key: str = "profile") -> Path:
    """The file named by ``key`` (the E.1-1 table), relative to the file that names it."""
    named: str | None = getattr(site, key)
    if named is None:
        raise document.error((key,), "required (path of the E.1-1 table)")
    declared_in, _ = document.locate((key,))
    table_path = (Path(declared_in).parent / named).resolve()
    if not table_path.is_file():
        raise document.error((key,), f"no such file {table_path}")
    return table_path


# --- compilation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagPattern:
    """A repeating-group row such as ``(50xx,xxxx)`` or ``(60xx,4000)``."""

    mask: int
    value: int
    action: ActionCode
    name: str

    def groups(self) -> frozenset[int]:
        """Every group number a tag matching this pattern can have (``50xx``: 256 groups)."""
        group_mask, group_value = self.mask >> 16, self.value >> 16
        free = ~group_mask & 0xFFFF
        found = {group_value}
        bits = free
        while bits:  # every subset of the free bits, set on top of the fixed ones
            found.add(group_value | bits)
            bits = (bits - 1) & free
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """Everything the walker needs, resolved once: one concrete action per tag."""

    actions: Mapping[int, ActionCode]
    names: Mapping[int, str]
    patterns: tuple[TagPattern, ...]
    private_action: ActionCode
    safe_private: frozenset[tuple[int, str, int]]  # (group, creator, element byte)
    options: tuple[ProfileOption, ...]
    burned_in: BurnedInPolicy
    policy_hash: str
    provenance: Mapping[str, str] = field(default_factory=dict)
    # SOP class UID -> the tags whose combined code resolves differently in that IOD
    iod_actions: Mapping[str, Mapping[int, ActionCode]] = field(default_factory=dict)
    # attributes removed after the walk when what their condition needs is gone
    dependents: tuple[Dependent, ...] = ()
    remove_unknown_public: bool = True

    def action_for(self, tag: int) -> ActionCode | None:
        action = self.actions.get(tag)
        if action is not None:
            return action
        for pattern in self.patterns:
            if tag & pattern.mask == pattern.value:
                return pattern.action
        return None

    @property
    def method_codes(self) -> list[tuple[str, str]]:
        """CID 7050 codes for DeidentificationMethodCodeSequence, basic profile first."""
        return [BASIC_PROFILE_CODE, *(OPTION_CODES[o] for o in self.options)]


def resolve_combined(code: ActionCode, iod_level: str | None) -> ActionCode:
    """First action of a combined code unless the attribute's IOD type requires another."""
    choices = code.choices
    if len(choices) == 1:
        return code
    if iod_level == "U" and ActionCode.KEEP_REMAP_UIDS in choices:
        return ActionCode.KEEP_REMAP_UIDS
    if iod_level == "1":
        for wanted in (ActionCode.DUMMY, ActionCode.KEEP_REMAP_UIDS, ActionCode.EMPTY):
            if wanted in choices:
                return wanted
    if iod_level in {"2", "U"}:
        for wanted in (ActionCode.EMPTY, ActionCode.DUMMY):
            if wanted in choices:
                return wanted
    return choices[0]


def _pattern(tag_text: str) -> tuple[int, int]:
    raw = tag_text.strip("()").replace(",", "")
    mask = int("".join("0" if c == "x" else "F" for c in raw), 16)
    value = int(raw.replace("x", "0"), 16)
    return mask, value


def _option_action(row: ProfileRow, options: Iterable[ProfileOption]) -> ActionCode:
    chosen = row.basic
    for option in options:
        column = row.column(option)
        if column is not None:
            chosen = column
    return chosen


def compile_policy(
    policy_path: Path | None = None, options: Iterable[str | ProfileOption] | None = None
) -> CompiledPolicy:
    """Load a site policy (default: ``policies/dicom/site-default.yaml``) and resolve it."""
    path = (policy_path or DEFAULT_POLICY).resolve()
    site, document = _load_site(path)
    table_path = _table_path(site, document)
    table = load_profile_table(table_path)
    try:
        chosen = tuple(
            ProfileOption(o)
            for o in (options if options is not None else (site.default_options or ()))
        )
    except ValueError as exc:
        known = ", ".join(o.value for o in ProfileOption)
        raise ConfigError(f"unknown profile option ({exc}); known: {known}") from exc
    if {ProfileOption.RETAIN_LONG_FULL_DATES, ProfileOption.RETAIN_LONG_MODIFIED_DATES} <= set(
        chosen
    ):
        raise ConfigError("options retain_long_full_dates and retain_long_modified_dates conflict")
    if ProfileOption.CLEAN_RECOGNIZABLE_VISUAL_FEATURES in chosen:
        raise ConfigError(
            "option clean_recognizable_visual_features is not implemented (no defacing)"
        )
    ordered = tuple(o for o in ProfileOption if o in chosen)
    iod = {parse_tag(tag): level for tag, level in (site.iod_type or {}).items()}

    actions: dict[int, ActionCode] = {}
    unresolved: dict[int, ActionCode] = {}
    names: dict[int, str] = {}
    patterns: list[TagPattern] = []
    private_action = ActionCode.REMOVE
    for row in table.rows:
        action = _option_action(row, ordered)
        if row.tag == "private":
            private_action = action
            continue
        if "x" in row.tag:
            mask, value = _pattern(row.tag)
            patterns.append(TagPattern(mask, value, resolve_combined(action, None), row.name))
            continue
        tag = parse_tag(row.tag)
        unresolved[tag] = action
        names[tag] = row.name
    for override in site.overrides:
        tag = parse_tag(override.tag)
        unresolved[tag] = override.action
        names.setdefault(tag, override.tag)
    for tag, action in unresolved.items():
        actions[tag] = resolve_combined(action, iod.get(tag))
    iod_actions: dict[str, dict[int, ActionCode]] = {}
    dependents: tuple[Dependent, ...] = ()
    iod_raw = b""
    if site.iod_table is not None:
        iod_path = _table_path(site, document, "iod_table")
        iod_table = load_iod_table(iod_path)
        iod_raw = iod_table.raw
        dependents = iod_table.dependents()
        for sop_class, levels in iod_table.levels().items():
            differing = {
                tag: resolved
                for tag, level in levels.items()
                if tag in unresolved
                and (resolved := resolve_combined(unresolved[tag], level)) != actions[tag]
            }
            if differing:
                iod_actions[sop_class] = differing
    safe = frozenset(
        (int(s.group, 16), s.creator.strip(), int(s.element, 16)) for s in site.safe_private or ()
    )
    digest = hashlib.sha256()
    digest.update(document.raw + b"\x00" + table_path.read_bytes())
    digest.update(("\x00" + ",".join(o.value for o in ordered)).encode())
    if iod_raw:
        digest.update(b"\x00" + iod_raw)
    return CompiledPolicy(
        actions=actions,
        names=names,
        patterns=tuple(patterns),
        private_action=private_action,
        safe_private=safe,
        options=ordered,
        burned_in=site.burned_in or BurnedInPolicy(),
        policy_hash=digest.hexdigest(),
        provenance=dict(table.provenance),
        iod_actions=iod_actions,
        dependents=dependents,
        remove_unknown_public=site.unknown_public == "remove",
    )
