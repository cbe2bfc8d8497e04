"""The de-identification actions of PS3.15 Table E.1-1 as small named classes.

Each action has ``validate(params)`` (checked once when the policy is compiled) and
``apply(dataset, tag, vr, context)`` which changes one element and returns an
:class:`ActionResult`; the engine aggregates those records into the per-file audit detail.
Sequences are the walker's business: it removes, empties or recurses into them before any
action here sees an element.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar

from pydicom import config
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag

from clinflow.deid.dicom.profile import ActionCode
from clinflow.deid.pseudonym import Pseudonymizer

_PATIENT_ID = 0x00100020
TEXT_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC"})
BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"})
MAX_LENGTH = {"SH": 16, "LO": 64, "ST": 1024, "PN": 64, "CS": 16, "AE": 16, "LT": 10240}
_DUMMY_TEXT = {
    "PN": "ANONYMIZED",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "AS": "000D",
    "IS": "0",
    "DS": "0",
}


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What one action did to one element (no values: the audit detail carries no PHI)."""

    action: str
    tag: int
    changed: bool


@dataclass(slots=True)
class ActionContext:
    """Per-file state shared by the actions."""

    pseudonymizer: Pseudonymizer
    patient_key: str
    date_offset_days: int
    time_offset_seconds: int = 0
    remap_uids: bool = True
    known_values: list[str] = field(default_factory=list)
    deferred_text: list[tuple[Dataset, int]] = field(default_factory=list)

    def remember(self, value: Any) -> None:
        """Keep an identifier the profile removed so free-text cleaning can find it."""
        if value is None:
            return
        if isinstance(value, MultiValue | list | tuple):
            for item in value:
                self.remember(item)
            return
        text = str(value)
        if text:
            self.known_values.append(text)


def _value(ds: Dataset, tag: int) -> Any:
    return ds[tag].value


def set_element(ds: Dataset, tag: int, vr: str, value: Any) -> None:
    """Replace an existing element's value without pydicom's per-assignment checks.

    Only for elements already in ``ds`` (the dict keeps its original tag key); values are
    built here from the VR, so pydicom's validation would only cost time.
    """
    raw = _raw_ascii(ds, tag, vr, value)
    elem = raw if raw is not None else DataElement(tag, vr, value, validation_mode=config.IGNORE)
    ds._dict[tag] = elem  # type: ignore[index]


# String VRs whose encoded form is the joined text padded to even length (UI with NUL):
# a non-empty ASCII value is stored already encoded, as pydicom stores what it reads, so it
# costs neither a DataElement now nor an encoding step when written (ASCII is the same
# bytes under every DICOM character set).
_RAW_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "LO", "LT", "SH", "ST", "UT"})


def _raw_ascii(ds: Dataset, tag: int, vr: str, value: Any) -> RawDataElement | None:
    if vr not in _RAW_VRS:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "\\".join(value)
    else:
        return None
    implicit, little = ds.original_encoding
    if not text or not text.isascii() or implicit is None or little is None:
        return None
    if len(text) % 2:
        text += "\0" if vr == "UI" else " "
    encoded = text.encode("ascii")
    return RawDataElement(BaseTag(tag), vr, len(encoded), encoded, 0, implicit, little)


def _text_of(ds: Dataset, tag: int) -> str:
    """An element's value as text, decoding raw bytes directly (no full conversion)."""
    elem = ds._dict[tag]  # type: ignore[index]
    raw = elem.value
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8").strip(" \x00")
        except UnicodeDecodeError:
            return raw.decode("latin-1").strip(" \x00")
    return "" if raw is None else str(raw)


_IDENTITY_WORDS = ("Name", "Address", "Telephone", "Institution", "Station", "Serial", "Email")


@lru_cache(maxsize=4096)
def identifies(tag: int, vr: str) -> bool:
    """Is this element's value an identifier worth searching for in free text?

    Names, ids, numbers, addresses, institutions; not descriptions such as ProtocolName,
    whose words would only over-redact other descriptions.
    """
    if vr == "PN":
        return True
    keyword = keyword_for_tag(tag) or ""
    if keyword.endswith(("ID", "IDs", "Number", "Numbers")):
        return True
    return any(word in keyword for word in _IDENTITY_WORDS) and "Protocol" not in keyword


def _remember(ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> None:
    if vr in TEXT_VRS and identifies(tag, vr):
        ctx.remember(_text_of(ds, tag).split("\\"))


class DeidAction:
    """Base class: one named action of the profile."""

    code: ClassVar[ActionCode]

    def validate(self, params: Mapping[str, Any] | None = None) -> None:
        if params:
            raise ValueError(f"action {self.code.value} takes no parameters")

    def apply(self, ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> ActionResult:
        raise NotImplementedError


class RemoveAction(DeidAction):
    """X: remove the element."""

    code = ActionCode.REMOVE

    def apply(self, ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> ActionResult:
        _remember(ds, tag, vr, ctx)
        del ds[tag]
        return ActionResult(self.code.value, tag, True)


class EmptyAction(DeidAction):
    """Z: keep the element with a zero-length value."""

    code = ActionCode.EMPTY

    def apply(self, ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> ActionResult:
        _remember(ds, tag, vr, ctx)
        set_element(ds, tag, vr, b"" if vr in BINARY_VRS else None)
        return ActionResult(self.code.value, tag, True)


class DummyAction(DeidAction):
    """D: replace with a non-identifying dummy value of the same VR (UIDs remapped)."""

    code = ActionCode.DUMMY

    def apply(self, ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> ActionResult:
        if vr == "UI":
            return RemapUidAction().apply(ds, tag, vr, ctx)
        _remember(ds, tag, vr, ctx)
        value: Any
        if vr in BINARY_VRS:
            value = b""
        elif vr in NUMERIC_VRS:
            value = 0
        else:
            value = _DUMMY_TEXT.get(vr, "ANONYMIZED")
        set_element(ds, tag, vr, value)
        return ActionResult(self.code.value, tag, True)


class KeepAction(DeidAction):
    """K: keep unchanged (sequences are still cleaned inside, by the walker)."""

    code = ActionCode.KEEP

    def apply(self, ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> ActionResult:
        return ActionResult(self.code.value, tag, False)


def _strings(ds: Dataset, tag: int) -> list[str]:
    """The values of an ASCII-valued element (UI, DA, DT, TM) without pydicom's conversion."""
    value = ds._dict[tag].value  # type: ignore[index]
    if isinstance(value, bytes):
        text = value.decode("latin-1").strip(" \x00")
        return text.split("\\") if text else []
    if value is None:
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    return [str(value)] if str(value) else []


def _one_or_many(values: list[str]) -> Any:
    return values[0] if len(values) == 1 else values


class RemapUidAction(DeidAction):
    """U: replace each UID with ``2.25.<HMAC integer>``, the same for every file and run."""

    code = ActionCode.UID

    def apply(self, ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> ActionResult:
        if not ctx.remap_uids:
            return ActionResult(self.code.value, tag, False)
        values = _strings(ds, tag)
        if not values:
            return ActionResult(self.code.value, tag, False)
        uid = ctx.pseudonymizer.uid
        set_element(ds, tag, "UI", _one_or_many([uid(v.strip()) if v else "" for v in values]))
        return ActionResult(self.code.value, tag, True)


class PseudonymAction(DeidAction):
    """P (clinflow): the patient's keyed pseudonym, as the dummy value of PatientID/Name."""

    code = ActionCode.PSEUDONYM

    def apply(self, ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> ActionResult:
        # The key is the MRN of *this* item (DICOMDIR patient records carry their own).
        own = _text_of(ds, tag)
        ctx.remember(own)
        if tag == _PATIENT_ID:
            sibling = own
        else:
            sibling = _text_of(ds, _PATIENT_ID) if _PATIENT_ID in ds._dict else ""
        key = sibling.strip() or ctx.patient_key
        set_element(ds, tag, vr, ctx.pseudonymizer.patient_pseudonym(key))
        return ActionResult(self.code.value, tag, True)


_DATE8 = re.compile(r"\d{8}")
_TIME = re.compile(r"^(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(\.\d{1,6})?$")
_DT = re.compile(r"^(\d{8})(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$")


def shift_da(text: str, offset_days: int) -> str:
    """Shift every YYYYMMDD in a DA value (ranges too); unparseable dates become empty."""

    def one(match: re.Match[str]) -> str:
        raw = match.group(0)
        try:
            day = date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
        except ValueError:
            return ""
        shifted = day + timedelta(days=offset_days)
        return f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}"

    if not _DATE8.match(text.strip()) and text.strip().strip("-"):
        return ""  # year-only or malformed: cannot shift safely
    return _DATE8.sub(one, text)


def shift_tm(text: str, offset_seconds: int) -> str:
    """Shift a time of day by ``offset_seconds`` modulo 24 h; unparseable times become empty."""
    match = _TIME.match(text.strip())
    if not match:
        return ""
    hours, minutes, seconds, fraction = match.groups()
    total = int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    if total >= 86400:
        return ""
    total = (total + offset_seconds) % 86400
    return f"{total // 3600:02d}{total // 60 % 60:02d}{total % 60:02d}{fraction or ''}"


def shift_dt(text: str, offset_days: int, offset_seconds: int) -> str:
    """Shift a DT value by whole days plus the time offset (with carry into the date)."""
    match = _DT.match(text.strip())
    if not match:
        return ""
    day_text, hours, minutes, seconds, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(day_text[:4]),
            int(day_text[4:6]),
            int(day_text[6:8]),
            int(hours or 0),
            int(minutes or 0),
            int(seconds or 0),
        )
    except ValueError:
        return ""
    moment += timedelta(days=offset_days, seconds=offset_seconds if hours else 0)
    out = moment.strftime("%Y%m%d")
    if hours:
        out += moment.strftime("%H%M%S") + (fraction or "")
    return out + (zone or "")


class CleanAction(DeidAction):
    """C: keep the meaning without the identity: dates shifted, free text cleaned later.

    Dates move by the patient's keyed whole-day offset (the same as on the FHIR side), times
    of day by a keyed offset modulo 24 h (PS3.15 E.3.6 modifies times too); binary values
    (overlay data) cannot be cleaned and are removed; other VRs are kept.
    """

    code = ActionCode.CLEAN

    @staticmethod
    def _shift(vr: str, text: str, ctx: ActionContext) -> str:
        if vr == "DA":
            return shift_da(text, ctx.date_offset_days)
        if vr == "TM":
            return shift_tm(text, ctx.time_offset_seconds)
        return shift_dt(text, ctx.date_offset_days, ctx.time_offset_seconds)

    def apply(self, ds: Dataset, tag: int, vr: str, ctx: ActionContext) -> ActionResult:
        if vr in ("DA", "DT", "TM"):
            items = _strings(ds, tag)
            if not items:
                return ActionResult(self.code.value, tag, False)
            if vr != "TM":
                ctx.remember(items)
            shifted = [self._shift(vr, v.strip(), ctx) if v.strip() else "" for v in items]
            set_element(ds, tag, vr, _one_or_many(shifted))
            return ActionResult(self.code.value, tag, True)
        if vr in TEXT_VRS:
            ctx.deferred_text.append((ds, tag))
            return ActionResult(self.code.value, tag, True)
        if vr in BINARY_VRS:
            del ds[tag]
            return ActionResult(self.code.value, tag, True)
        if vr == "UI":
            return RemapUidAction().apply(ds, tag, vr, ctx)
        return ActionResult(self.code.value, tag, False)


ACTIONS: dict[ActionCode, DeidAction] = {
    action.code: action
    for action in (
        RemoveAction(),
        EmptyAction(),
        DummyAction(),
        KeepAction(),
        RemapUidAction(),
        PseudonymAction(),
        CleanAction(),
    )
}
ACTIONS[ActionCode.KEEP_REMAP_UIDS] = ACTIONS[ActionCode.KEEP]

ApplyFn = Callable[[Dataset, int, str, ActionContext], ActionResult]


def action_for(code: ActionCode) -> DeidAction:
    """The action class instance for a (resolved, non-combined) code."""
    try:
        return ACTIONS[code]
    except KeyError as exc:
        raise ValueError(f"action code {code.value!r} must be resolved before use") from exc
