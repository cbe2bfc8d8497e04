"""The DICOM de-identification engine: one walk over the dataset applying the compiled profile.

Design for speed: the policy is compiled once into ``tag -> action`` (a dict look-up per
element); elements the profile does not name are left as pydicom's raw, undecoded values and
written back byte for byte (pixel data included), so the cost over pydicom's own read+write is
the handful of elements the profile changes. Sequences are walked recursively at any depth,
private tags removed unless on the safe-private list, UIDs remapped through the cached
:class:`~clinflow.deid.pseudonym.Pseudonymizer` (so references across files and runs agree),
and dates shifted by the patient's keyed offset. Free-text descriptors are cleaned last, once
every identifier of the dataset has been seen.

Conformance (ADR 0025): the action table is chosen by the file's SOP class (combined codes
resolved by the attribute's type in that IOD: Z for Type 2, D for Type 1), and after the walk
the policy's ``dependents`` remove attributes whose condition the profile removed
(ResponsiblePersonRole without ResponsiblePerson, an overlay without its OverlayData). Both
come from ``policies/dicom/iod-modules.yaml``; the walker has no attribute of its own.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.datadict import dictionary_has_tag, dictionary_VR, repeater_has_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from clinflow.deid.dicom.actions import (
    MAX_LENGTH,
    TEXT_VRS,
    ActionContext,
    DeidAction,
    action_for,
    set_element,
)
from clinflow.deid.dicom.burnedin import MaskResult, burned_in_risk, mask_regions
from clinflow.deid.dicom.profile import ActionCode, CompiledPolicy, ProfileOption
from clinflow.deid.dicom.rawscan import SequenceScanner
from clinflow.deid.dicom.textclean import KnownValueScrubber, TextCleaner
from clinflow.deid.dicom.writer import write_file
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import InputRejected

PATIENT_ID = 0x00100020
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
STUDY_UID = 0x0020000D
SOP_INSTANCE_UID = 0x00080018
SOP_CLASS_UID = 0x00080016
_PLAUSIBLE = (0x00080016, STUDY_UID, SOP_INSTANCE_UID, PATIENT_ID, 0x00080060)
DATE_VRS = frozenset({"DA", "DT", "TM"})
# Coded-entry attributes: structure, not identity; never run through the text cleaner.
CODE_TAGS = frozenset(
    {
        0x00080100,
        0x00080102,
        0x00080103,
        0x00080104,
        0x00080119,
        0x00080120,
        0x0040A010,
        0x0040A040,
        0x0040A170,
    }
)
_SEQUENCE_COUNT = {ActionCode.REMOVE: "sequence-removed", ActionCode.EMPTY: "sequence-emptied"}


@dataclass(slots=True)
class DeidResult:
    """What de-identifying one dataset did (pseudonyms and counts only: no PHI)."""

    location: str
    patient_pseudonym: str
    actions: Counter[str] = field(default_factory=Counter)
    burned_in: str | None = None
    mask: MaskResult | None = None
    warnings: int = 0
    max_depth: int = 0
    changes: int = 0  # elements changed so far (unchanged sequences are written back raw)
    identifiers: frozenset[str] = frozenset()  # for renaming identifying output paths only


@dataclass(frozen=True, slots=True)
class _Walk:
    """What stays the same over one dataset's walk, however deep it recurses: the action
    context, the result being counted and the action table (the IOD's, or the whole one)."""

    ctx: ActionContext
    result: DeidResult
    actions: dict[int, tuple[ActionCode, DeidAction]]


def _complete(ds: FileDataset, location: str) -> FileDataset:
    """Refuse a truncated file: pydicom keeps a short last value without complaint."""
    if not ds._dict:
        raise InputRejected("truncated DICOM file (no data elements after the header)", location)
    last_tag = max(ds._dict, key=int)  # int comparisons: BaseTag's are Python-level
    last = ds._dict[last_tag]
    length = getattr(last, "length", None)
    value = last.value
    if (
        isinstance(length, int)
        and length != 0xFFFFFFFF
        and isinstance(value, bytes)
        and len(value) < length
    ):
        raise InputRejected(
            f"truncated DICOM file (element {last_tag:08X} has {len(value)} of {length} bytes)",
            location,
        )
    return ds


def _dictionary_sq(tag: int) -> bool:
    return _dictionary_vr(tag) == "SQ"


_UID_VALUE = re.compile(rb"[0-9.]{1,64}")
_PRIVATE_TEXT = re.compile(rb"[ -~]{3,64}")


def _remember_private_text(elem: Any, ctx: ActionContext) -> None:
    """A removed private element's short text (a vendor's copy of the patient's name or id)
    is a known identifier for free-text cleaning: when a damaged file loses PatientName, its
    private copy still tells the cleaner the names (fuzz finding F13-DICOM-4)."""
    value = elem.value
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    if not isinstance(value, bytes) or len(value) > 64:
        return
    text = value.strip(b"\x00 ")
    if _PRIVATE_TEXT.fullmatch(text) and not text.replace(b".", b"").isdigit():
        ctx.remember(text.decode("ascii"))


def _refuse_invalid_uids(ds: Dataset, location: str) -> None:
    """Kept UIDs (SOP Class, Transfer Syntax, ...) must be UIDs: a corrupt length makes a
    reader swallow the elements that follow (names, ids) into one "UID" that the profile
    keeps. Such a file is refused, not written (fuzz finding F13-DICOM-1)."""
    meta = getattr(ds, "file_meta", None)
    for dataset in (ds, meta) if meta is not None else (ds,):
        for tag, elem in dataset._dict.items():
            vr = elem.VR if elem.VR not in (None, "UN") else _dictionary_vr(tag)
            if vr != "UI":
                continue
            value = elem.value
            if isinstance(value, bytes):
                parts = value.split(b"\\")
            elif isinstance(value, MultiValue | list | tuple):
                parts = [str(v).encode("latin-1", "replace") for v in value]
            else:
                parts = [str(value or "").encode("latin-1", "replace")]
            for part in parts:
                part = part.strip(b"\x00 ")
                if part and not _UID_VALUE.fullmatch(part):
                    where = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
                    raise InputRejected(
                        f"value of {where} is not a UID (VR UI): corrupt element lengths?",
                        location,
                    )


@lru_cache(maxsize=8192)
def _dictionary_vr(tag: int) -> str | None:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


@lru_cache(maxsize=8192)
def _known_public(tag: int) -> bool:
    """A public tag some DICOM dictionary knows (repeating groups and group lengths too)."""
    return tag & 0xFFFF == 0 or bool(dictionary_has_tag(tag) or repeater_has_tag(tag))


def _vr_of(elem: Any, tag: int, ds: Dataset) -> str:
    vr = elem.VR
    if vr is None or vr == "UN":
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return "UN"
    if " or " in vr:  # ambiguous (US or SS): the converted element knows
        vr = ds[tag].VR
    return str(vr)


def time_offset_seconds(pseudonymizer: Pseudonymizer, patient_key: str) -> int:
    """The patient's keyed time-of-day shift: whole minutes, 1 to 1439 (never zero)."""
    raw = int.from_bytes(pseudonymizer.digest("dicom-time-offset", patient_key)[:8], "big")
    return 60 * (1 + raw % 1439)


class DicomDeidentifier:
    """Applies one compiled policy under one project key; reusable across files and threads."""

    def __init__(
        self,
        policy: CompiledPolicy,
        pseudonymizer: Pseudonymizer,
        text_cleaner: TextCleaner | None = None,
    ) -> None:
        self.policy = policy
        self.pseudonymizer = pseudonymizer
        self.text_cleaner: TextCleaner = text_cleaner or KnownValueScrubber()
        self._actions: dict[int, tuple[ActionCode, DeidAction]] = {
            tag: (code, action_for(code)) for tag, code in policy.actions.items()
        }
        # per SOP class: the same table with the IOD's own resolutions of combined codes
        self._iod_actions: dict[str, dict[int, tuple[ActionCode, DeidAction]]] = {
            sop_class: {
                **self._actions,
                **{tag: (code, action_for(code)) for tag, code in differing.items()},
            }
            for sop_class, differing in policy.iod_actions.items()
        }
        self._private_keep = policy.private_action in (ActionCode.CLEAN, ActionCode.KEEP)
        self._remove_unknown = policy.remove_unknown_public
        self._remap = ProfileOption.RETAIN_UIDS not in policy.options
        self._clean_pixels = ProfileOption.CLEAN_PIXEL_DATA in policy.options
        if ProfileOption.RETAIN_LONG_MODIFIED_DATES in policy.options:
            self._temporal = "MODIFIED"
        elif ProfileOption.RETAIN_LONG_FULL_DATES in policy.options:
            self._temporal = "UNMODIFIED"
        else:
            self._temporal = "REMOVED"
        # Dates inside a cleaned sequence follow the temporal option: shift, keep or remove.
        self._contained_date = action_for(
            {"MODIFIED": ActionCode.CLEAN, "UNMODIFIED": ActionCode.KEEP}.get(
                self._temporal, ActionCode.REMOVE
            )
        )
        # Built once and shared by every output dataset (written, never mutated).
        self._raw_marks: dict[tuple[Any, Any], dict[Any, Any]] = {}
        self._method_items = [_code_item(code, meaning) for code, meaning in policy.method_codes]
        # Groups a table pattern covers (50xx curves, 60xx overlays): only their tags need
        # the pattern look-up, and the scanner counts them as named.
        pattern_groups = frozenset().union(*(p.groups() for p in policy.patterns))
        self._pattern_groups = pattern_groups
        self._scanner = SequenceScanner(
            lambda tag: tag in self._actions or tag >> 16 in pattern_groups,
            CODE_TAGS,
            TEXT_VRS,
            DATE_VRS,
        )

    # --- files and bytes -------------------------------------------------------------------

    def read(self, source: Path | bytes, location: str) -> FileDataset:
        """Parse a DICOM file; anything that is not DICOM raises InputRejected."""
        handle: Any = BytesIO(source) if isinstance(source, bytes) else source
        try:
            return _complete(dcmread(handle), location)
        except InvalidDicomError:
            pass
        except InputRejected:
            raise
        except Exception as exc:  # truncated or corrupt: pydicom raises many types
            raise InputRejected(f"unreadable DICOM ({type(exc).__name__})", location) from exc
        try:  # no preamble/meta: accept a bare dataset only if it looks like one
            if isinstance(source, bytes):
                handle = BytesIO(source)
            ds = dcmread(handle, force=True)
            if not any(tag in ds for tag in _PLAUSIBLE):
                raise InputRejected("not a DICOM file (no preamble, no DICOM attributes)", location)
            return _complete(ds, location)
        except InputRejected:
            raise
        except Exception as exc:
            raise InputRejected(f"not a DICOM file ({type(exc).__name__})", location) from exc

    def deidentify_bytes(self, data: Path | bytes, location: str) -> tuple[bytes, DeidResult]:
        """Read ``data`` (bytes or a file), de-identify, encode; InputRejected if impossible."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = self.read(data, location)
            result = self.deidentify_dataset(ds, location)
            out = BytesIO()
            self._write(ds, out, location)
        result.warnings = len(caught)
        return out.getvalue(), result

    def deidentify_file(self, source: Path, target: Path, location: str) -> DeidResult:
        """Read ``source``, de-identify, write ``target``; InputRejected if impossible."""
        data, result = self.deidentify_bytes(source, location)
        try:  # the folder usually exists already (a study's files share it)
            target.write_bytes(data)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return result

    @staticmethod
    def _write(ds: Dataset, handle: BytesIO, location: str) -> None:
        try:
            write_file(ds, handle)
        except Exception as exc:
            raise InputRejected(
                f"cannot write de-identified file ({type(exc).__name__})", location
            ) from exc

    # --- datasets --------------------------------------------------------------------------

    def patient_key(self, ds: Dataset) -> str:
        """The MRN (PatientID) keys pseudonyms and date offsets; else the study, else ''."""
        value = ds.get(PATIENT_ID)
        if value is not None and str(value.value or "").strip():
            return str(value.value).strip()
        study = ds.get(STUDY_UID)
        if study is not None and study.value:
            return f"study:{study.value}"
        return ""

    def deidentify_dataset(self, ds: Dataset, location: str) -> DeidResult:
        """De-identify ``ds`` in place (file meta included)."""
        try:
            return self._deidentify(ds, location)
        except InputRejected:
            raise
        except Exception as exc:  # malformed values deep inside pydicom conversions
            raise InputRejected(
                f"cannot de-identify ({type(exc).__name__} in element handling)", location
            ) from exc

    def _deidentify(self, ds: Dataset, location: str) -> DeidResult:
        key = self.patient_key(ds)
        pseudonymizer = self.pseudonymizer
        result = DeidResult(location, pseudonymizer.patient_pseudonym(key))
        risk = burned_in_risk(ds, self.policy.burned_in)
        if risk is not None:
            if not self._clean_pixels:
                raise InputRejected(
                    f"burned-in text risk ({risk}); enable option clean_pixel_data to mask",
                    location,
                )
            result.burned_in = risk
            result.mask = mask_regions(ds, self.policy.burned_in, location)
        ctx = ActionContext(
            pseudonymizer=pseudonymizer,
            patient_key=key,
            date_offset_days=pseudonymizer.date_offset_days(key),
            time_offset_seconds=time_offset_seconds(pseudonymizer, key),
            remap_uids=self._remap,
        )
        if self._is_dicomdir(ds):
            raise InputRejected(
                "DICOMDIR: its file IDs are input paths that may carry identifiers; "
                "make a new DICOMDIR from the de-identified files",
                location,
            )
        actions = self._actions
        if self._iod_actions:
            sop_class = ds.get(SOP_CLASS_UID)
            if sop_class is not None and sop_class.value:
                actions = self._iod_actions.get(str(sop_class.value).strip("\0 "), actions)
        self._walk(ds, _Walk(ctx, result, actions), 0, False)
        if ctx.deferred_text:
            self._clean_text(ctx)
        self._drop_dependents(ds, result)
        _refuse_invalid_uids(ds, location)
        result.identifiers = frozenset(
            v.strip().casefold() for v in (*ctx.known_values, key) if len(v.strip()) >= 3
        )
        self._update_meta(ds)
        self._mark(ds)
        return result

    @staticmethod
    def _is_dicomdir(ds: Dataset) -> bool:
        meta = getattr(ds, "file_meta", None)
        sop_class = meta.get("MediaStorageSOPClassUID") if meta is not None else None
        return str(sop_class or "") == MEDIA_STORAGE_DIRECTORY or 0x00041220 in ds

    def _walk(self, ds: Dataset, walk: _Walk, depth: int, clean: bool) -> None:
        """Apply the profile to every element of ``ds``; recurse into sequences.

        ``clean`` is set inside a sequence the profile says to clean (C) or dummy (D), such
        as ContentSequence: there, text and dates the table does not list (TextValue, ...)
        are cleaned too, since the sequence's action covers everything it contains.
        """
        ctx, result, actions = walk.ctx, walk.result, walk.actions
        if depth > result.max_depth:
            result.max_depth = depth
        pattern_groups = self._pattern_groups
        counts = result.actions
        elements = ds._dict
        for tag in list(elements):
            group = tag >> 16
            if group & 1:
                result.changes += self._private(ds, tag, group, counts, ctx)
                continue
            entry = actions.get(tag)
            if entry is None and group in pattern_groups:
                code = self.policy.action_for(tag)
                if code is not None:
                    entry = (code, action_for(code))
            elem = elements[tag]
            if entry is None:
                raw_vr = elem.VR
                if raw_vr == "SQ" or (raw_vr in (None, "UN") and _dictionary_sq(tag)):
                    quiet = self._quiet_depth(elem, depth, clean)
                    if quiet is None:
                        self._walk_items(ds, tag, walk, depth, clean)
                    elif quiet > result.max_depth:
                        result.max_depth = quiet
                elif self._remove_unknown and group > 0x0002 and not _known_public(tag):
                    del ds[tag]  # an attribute no dictionary knows (site: unknown_public)
                    counts["unknown-public-removed"] += 1
                    result.changes += 1
                elif clean and tag not in CODE_TAGS:
                    vr = _vr_of(elem, tag, ds)
                    if vr in TEXT_VRS:
                        ctx.deferred_text.append((ds, tag))
                        counts["C-contained"] += 1
                        result.changes += 1
                    elif vr in DATE_VRS:
                        applied = self._contained_date.apply(ds, tag, vr, ctx)
                        counts[applied.action] += 1
                        result.changes += applied.changed
                continue
            vr = _vr_of(elem, tag, ds)
            code, action = entry
            if vr == "SQ":
                if code is ActionCode.REMOVE:
                    del ds[tag]
                elif code is ActionCode.EMPTY:
                    ds[tag] = DataElement(tag, "SQ", Sequence())
                else:
                    inner = clean or code in (ActionCode.CLEAN, ActionCode.DUMMY)
                    self._walk_items(ds, tag, walk, depth, inner)
                counts[_SEQUENCE_COUNT.get(code, "sequence-cleaned")] += 1
                result.changes += code in _SEQUENCE_COUNT
                continue
            applied = action.apply(ds, tag, vr, ctx)
            counts[applied.action] += 1
            result.changes += applied.changed

    def _quiet_depth(self, elem: Any, depth: int, clean: bool) -> int | None:
        """For a raw sequence the walk would not change: its deepest item depth; else None."""
        if not isinstance(elem, RawDataElement) or not isinstance(elem.value, bytes):
            return None
        if elem.VR != "SQ" and not (elem.VR is None and elem.is_implicit_VR):
            return None
        return self._scanner.quiet_depth(
            elem.value, bool(elem.is_implicit_VR), bool(elem.is_little_endian), depth + 1, clean
        )

    def _walk_items(self, ds: Dataset, tag: int, walk: _Walk, depth: int, clean: bool) -> None:
        original = ds._dict[tag]  # type: ignore[index]
        before = walk.result.changes
        value = ds[tag].value
        for item in value or ():
            self._walk(item, walk, depth + 1, clean)
        if walk.result.changes == before and not isinstance(original, DataElement):
            # nothing inside changed: put the raw bytes back, which write far faster
            ds._dict[tag] = original  # type: ignore[index]

    def _drop_dependents(self, ds: Dataset, result: DeidResult) -> None:
        """Remove top-level attributes whose "absent otherwise" condition no longer holds."""
        elements = ds._dict
        for rule in self.policy.dependents:
            if rule.mask == 0xFFFFFFFF:
                doomed = [rule.value] if rule.value in elements else []
            else:
                doomed = [tag for tag in elements if tag & rule.mask == rule.value]
            for tag in doomed:
                if rule.needed_for(tag) not in elements:
                    del ds[tag]
                    result.actions["X-conformance"] += 1
                    result.changes += 1

    def _private(
        self, ds: Dataset, tag: int, group: int, counts: Counter[str], ctx: ActionContext
    ) -> bool:
        if self._private_keep:
            element = tag & 0xFFFF
            if 0x0010 <= element <= 0x00FF:
                return False  # private creator: kept while its block may hold safe elements
            if element > 0x00FF:
                creator = ds.get((group << 16) | (element >> 8))
                name = str(creator.value).strip() if creator is not None else ""
                if (group, name, element & 0xFF) in self.policy.safe_private:
                    counts["private-kept"] += 1
                    return False
        if tag & 0xFFFF > 0x00FF:  # a data element, not a private creator's name
            _remember_private_text(ds._dict[tag], ctx)  # type: ignore[index]
        del ds[tag]
        counts["private-removed"] += 1
        return True

    def _clean_text(self, ctx: ActionContext) -> None:
        clean = self.text_cleaner.prepare([*ctx.known_values, ctx.patient_key])
        for ds, tag in ctx.deferred_text:
            elem = ds[tag]
            value = elem.value
            limit = MAX_LENGTH.get(elem.VR)
            new: Any
            if isinstance(value, MultiValue | list):
                new = [clean(str(v))[:limit] for v in value]
            elif value is None or str(value) == "":
                continue
            else:
                new = clean(str(value))[:limit]
            set_element(ds, tag, elem.VR, new)

    def _update_meta(self, ds: Dataset) -> None:
        meta = getattr(ds, "file_meta", None)
        if meta is None or "MediaStorageSOPInstanceUID" not in meta:
            return
        if SOP_INSTANCE_UID in ds and ds[SOP_INSTANCE_UID].value:
            meta.MediaStorageSOPInstanceUID = ds[SOP_INSTANCE_UID].value
        elif self._remap and meta.MediaStorageSOPInstanceUID:
            meta.MediaStorageSOPInstanceUID = self.pseudonymizer.uid(
                str(meta.MediaStorageSOPInstanceUID)
            )

    def _mark(self, ds: Dataset) -> None:
        """PS3.15 E.1.1: say that and how the dataset was de-identified.

        The four marker elements are the same in every output, so they are encoded once per
        transfer-syntax encoding and inserted as raw elements (written byte for byte).
        """
        encoding = (getattr(ds, "is_implicit_VR", None), getattr(ds, "is_little_endian", None))
        if (
            None not in encoding
            and encoding == ds.original_encoding
            and ds.original_character_set == ds._character_set
        ):
            raw_marks = self._raw_marks.get(encoding)
            if raw_marks is None:
                raw_marks = self._encode_marks(bool(encoding[0]), bool(encoding[1]))
                self._raw_marks[encoding] = raw_marks
            for tag, raw in raw_marks.items():
                ds._dict[tag] = raw
            return
        self._mark_elements(ds)

    def _mark_elements(self, ds: Dataset) -> None:
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = f"clinflow PS3.15 E.1-1 policy {self.policy.policy_hash[:12]}"
        ds.DeidentificationMethodCodeSequence = Sequence(self._method_items)
        ds.LongitudinalTemporalInformationModified = self._temporal

    def _encode_marks(self, implicit: bool, little: bool) -> dict[Any, Any]:
        template = Dataset()
        self._mark_elements(template)
        handle = DicomBytesIO()
        handle.is_implicit_VR, handle.is_little_endian = implicit, little
        write_dataset(handle, template)
        parsed = read_dataset(BytesIO(handle.getvalue()), implicit, little)
        return dict(parsed._dict)


def _code_item(code: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = code
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def summarize_actions(results: Mapping[str, int]) -> str:
    """``X=12 U=5 ...`` for logs and audit detail (counts only)."""
    return " ".join(f"{name}={count}" for name, count in sorted(results.items()))
