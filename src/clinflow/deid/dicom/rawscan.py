"""Reading a sequence's encoded bytes to see whether walking it could change anything.

Converting a sequence makes a pydicom Dataset per item, which costs more than anything the
walk then does; code sequences (ConceptNameCodeSequence...) hold nothing the profile
changes and were converted only to be put back raw. This scanner reads the element headers
of the raw value instead (items of defined length only) and answers "quiet" only when no
element at any depth is private, named by the profile, or (inside a cleaned sequence) text
or a date outside the coded-entry attributes. Anything unusual (undefined lengths, UN
VRs, inconsistent lengths) answers "not quiet", and the engine walks the sequence as before.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from pydicom.datadict import dictionary_VR
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

UNDEFINED = 0xFFFFFFFF
_ITEM = (0xFFFE, 0xE000)
# Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2), as raw bytes.
_LONG_VRS = frozenset(str(vr).encode("ascii") for vr in EXPLICIT_VR_LENGTH_32)
_HEADERS = {little: struct.Struct("<HHL" if little else ">HHL") for little in (True, False)}
_EXPLICIT = {little: struct.Struct("<HH2sH" if little else ">HH2sH") for little in (True, False)}
_UL = {little: struct.Struct("<L" if little else ">L") for little in (True, False)}


@lru_cache(maxsize=8192)
def _dictionary_vr(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


class SequenceScanner:
    """Answers, from raw bytes, whether the engine's walk would leave a sequence unchanged."""

    def __init__(
        self,
        named: Callable[[int], bool],
        code_tags: frozenset[int],
        text_vrs: frozenset[str],
        date_vrs: frozenset[str],
    ) -> None:
        self.named = named  # the profile has an action for this tag (or might: patterns)
        self.code_tags = code_tags
        self.cleanable = text_vrs | date_vrs

    def quiet_depth(
        self, value: bytes, implicit: bool, little: bool, depth: int, clean: bool
    ) -> int | None:
        """The deepest item depth if walking ``value`` changes nothing, else None."""
        return _Scan(self, value, implicit, little, clean).items(0, len(value), depth)


@dataclass(frozen=True, slots=True)
class _Scan:
    """One scan of one raw value: the bytes and their encoding stay fixed down the recursion."""

    scanner: SequenceScanner
    data: bytes
    implicit: bool
    little: bool
    clean: bool

    def items(self, start: int, end: int, depth: int) -> int | None:
        """The items of a sequence value in ``data[start:end]``."""
        data = self.data
        header = _HEADERS[self.little].unpack_from
        deepest = 0
        pos = start
        while pos < end:
            if pos + 8 > end:
                return None
            group, element, length = header(data, pos)
            if (group, element) != _ITEM or length == UNDEFINED or pos + 8 + length > end:
                return None
            pos += 8
            inner = self.dataset(pos, pos + length, depth)
            if inner is None:
                return None
            deepest = max(deepest, inner)
            pos += length
        return deepest

    def dataset(self, start: int, end: int, depth: int) -> int | None:
        """The elements of one item in ``data[start:end]``."""
        data, implicit, little, clean = self.data, self.implicit, self.little, self.clean
        scanner = self.scanner
        named, code_tags, cleanable = scanner.named, scanner.code_tags, scanner.cleanable
        deepest = depth
        pos = start
        while pos < end:
            if pos + 8 > end:
                return None
            if implicit:
                group, element, length = _HEADERS[little].unpack_from(data, pos)
                pos += 8
                tag = (group << 16) | element
                vr = _dictionary_vr(tag)
            else:
                group, element, raw_vr, length = _EXPLICIT[little].unpack_from(data, pos)
                pos += 8
                if raw_vr in _LONG_VRS:
                    if pos + 4 > end:
                        return None
                    length = _UL[little].unpack_from(data, pos)[0]
                    pos += 4
                if raw_vr == b"UN" or not raw_vr.isalpha():
                    return None  # pydicom may reinterpret it: let the walk decide
                tag = (group << 16) | element
                vr = raw_vr.decode("ascii")
            if length == UNDEFINED or pos + length > end:
                return None
            if group & 1 or named(tag):
                return None
            if vr == "SQ":
                inner = self.items(pos, pos + length, depth + 1)
                if inner is None:
                    return None
                deepest = max(deepest, inner)
            elif clean and tag not in code_tags and vr in cleanable:
                return None
            pos += length
        return deepest
