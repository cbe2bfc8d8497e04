"""Building DICOM datasets while recording every identifier planted in them.

``Node`` wraps a pydicom ``Dataset`` (the file root or a sequence item) with its tag path
from the root, so each planted value is recorded with the manifest location grammar of
``clinflow.synthetic.manifest``: ``(0010,0010)``, ``(0008,1110)[0].(0008,1155)``.
Elements are created from cached (tag, VR) pairs so templates build quickly.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from clinflow.synthetic.manifest import PhiKind, Subject


class Planted(NamedTuple):
    """One planted identifier, before it is tied to a file."""

    location: str
    value: str
    kind: PhiKind
    subject: Subject
    detail: str = ""


class Mention(NamedTuple):
    """An identifier quoted inside a free-text value (the value is a substring of the text)."""

    value: str
    kind: PhiKind
    subject: Subject
    detail: str = ""


@cache
def tag_and_vr(keyword: str) -> tuple[int, str]:
    """Tag and dictionary VR of a standard keyword (cached: templates repeat keywords)."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"unknown DICOM keyword {keyword}")
    return int(tag), str(dictionary_VR(tag))


def tag_text(tag: int) -> str:
    """``(GGGG,EEEE)`` in upper-case hex, as the manifest writes tag paths."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


class Node:
    """A dataset under construction, its path from the file root, and where PHI is recorded."""

    __slots__ = ("ds", "prefix", "phi")

    def __init__(self, ds: Dataset, prefix: str, phi: list[Planted]) -> None:
        self.ds = ds
        self.prefix = prefix
        self.phi = phi

    def put(self, keyword: str, value: object, vr: str | None = None) -> None:
        """Set a standard attribute that carries no identifier."""
        tag, dict_vr = tag_and_vr(keyword)
        self.ds[tag] = DataElement(tag, vr or dict_vr, value)

    def put_all(self, attributes: tuple[tuple[str, str, object], ...]) -> None:
        for keyword, vr, value in attributes:
            self.put(keyword, value, vr)

    def plant(
        self,
        keyword: str,
        value: str,
        kind: PhiKind,
        subject: Subject,
        detail: str = "",
    ) -> None:
        """Set an attribute whose whole value is an identifier, and record it."""
        tag, vr = tag_and_vr(keyword)
        self.ds[tag] = DataElement(tag, vr, value)
        self.phi.append(Planted(self.prefix + tag_text(tag), value, kind, subject, detail))

    def plant_text(self, keyword: str, text: str, mentions: list[Mention]) -> None:
        """Set a free-text attribute and record each identifier it quotes."""
        tag, vr = tag_and_vr(keyword)
        self.ds[tag] = DataElement(tag, vr, text)
        location = self.prefix + tag_text(tag)
        for mention in mentions:
            if mention.value not in text:  # a template bug, never user input
                raise ValueError(f"free text for {keyword} lost a planted value")
            detail = f"free_text;{mention.detail}" if mention.detail else "free_text"
            self.phi.append(Planted(location, mention.value, mention.kind, mention.subject, detail))

    def plant_private(
        self, tag: int, vr: str, value: str, kind: PhiKind, subject: Subject, creator: str
    ) -> None:
        """Set a private element (``creator`` empty: an orphan without a creator element)."""
        self.ds[tag] = DataElement(tag, vr, value)
        detail = f"creator={creator}" if creator else "orphan private element (no creator)"
        self.phi.append(Planted(self.prefix + tag_text(tag), value, kind, subject, detail))

    def sequence(self, keyword: str, count: int) -> list[Node]:
        """Add a sequence of ``count`` empty items and return a node per item."""
        tag, _ = tag_and_vr(keyword)
        items = [Dataset() for _ in range(count)]
        self.ds[tag] = DataElement(tag, "SQ", items)
        base = self.prefix + tag_text(tag)
        return [Node(item, f"{base}[{i}].", self.phi) for i, item in enumerate(items)]
