"""Writing a de-identified dataset: pydicom's own encoding, minus its per-element overhead.

Most elements of a de-identified file are pydicom ``RawDataElement``s the profile never
touched: their value bytes are already encoded. pydicom's ``dcmwrite`` deep-copies the file
meta and sends every element, raw or not, through a generic path with a scratch buffer;
here a raw element whose encoding is unchanged is written as header + bytes directly, and
sequences we changed are walked with the same fast path. Everything else (converted
elements, changed encodings or character sets, compressed or deflated transfer syntaxes,
odd lengths) goes to pydicom's own functions, so the bytes are the same as ``save_as``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from io import BytesIO
from typing import Any

from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO, DicomIO
from pydicom.filewriter import write_data_element, write_dataset, write_file_meta_info
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

PIXEL_DATA = 0x7FE00010
GROUP_LENGTH = 0x00020000
CHARSET = 0x00080005
UNDEFINED = 0xFFFFFFFF
# Transfer syntax -> (implicit VR, little endian) for the syntaxes written here directly.
_FAST_SYNTAXES = {
    ImplicitVRLittleEndian: (True, True),
    ExplicitVRLittleEndian: (False, True),
    ExplicitVRBigEndian: (False, False),
}
_LONG_VRS = frozenset(str(vr) for vr in EXPLICIT_VR_LENGTH_32)
# String VRs whose str values pydicom writes as joined text, padded to even length (UI with
# NUL); PN (PersonName objects) and the numeric strings DS/IS (formatted numbers) are not.
_ASCII_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "TM", "UI", "LO", "LT", "SH", "ST", "UC", "UT"}
)
_ITEM = 0xFFFEE000
_ITEM_DELIMITER = 0xFFFEE00D
_SEQUENCE_DELIMITER = 0xFFFEE0DD


class _Packers:
    """struct packers for one byte order (tags, explicit headers, lengths)."""

    def __init__(self, little: bool) -> None:
        order = "<" if little else ">"
        self.tag_ul = struct.Struct(f"{order}HHL").pack  # tag + 32-bit length (implicit, items)
        self.tag_vr_us = struct.Struct(f"{order}HH2sH").pack  # explicit, 16-bit length
        self.tag_vr_ul = struct.Struct(f"{order}HH2s2xL").pack  # explicit, 32-bit length
        self.ul = struct.Struct(f"{order}L").pack


_PACKERS = {True: _Packers(True), False: _Packers(False)}


def write_file(ds: Dataset, handle: BytesIO) -> None:
    """Encode ``ds`` as ``ds.save_as(handle, enforce_file_format=False)`` would."""
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    encoding = _FAST_SYNTAXES.get(syntax) if syntax is not None else None
    preamble = getattr(ds, "preamble", None)
    if (
        meta is None
        or encoding is None
        or encoding != ds.original_encoding
        or (preamble and len(preamble) != 128)
        or any(tag >> 16 in (0, 2) for tag in ds._dict)
        or not _pixels_writable(ds)
    ):
        ds.save_as(handle, enforce_file_format=False)
        return
    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = encoding
    if preamble:
        fp.write(preamble)
        fp.write(b"DICM")
    if meta:
        _write_meta(fp, meta)
    _write_dataset(fp, ds, "iso8859")
    handle.write(fp.getvalue())


def _write_meta(fp: DicomIO, meta: FileMetaDataset) -> None:
    """``write_file_meta_info(fp, meta, enforce_standard=False)`` with the fast dataset path."""
    if any(tag >> 16 != 2 for tag in meta._dict):
        write_file_meta_info(fp, meta, enforce_standard=False)  # raises pydicom's error
        return
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    _write_dataset(buffer, meta, "iso8859")
    if GROUP_LENGTH in meta._dict:
        # as pydicom: the length after the (12-byte) group length element, rewritten first
        meta.FileMetaInformationGroupLength = buffer.tell() - 12
        buffer.seek(0)
        write_data_element(buffer, meta[GROUP_LENGTH])
    fp.write(buffer.getvalue())


def _pixels_writable(ds: Dataset) -> bool:
    """pydicom gives native pixel data a defined length; do the same (or let it complain)."""
    pixels = ds._dict.get(PIXEL_DATA)  # type: ignore[call-overload]
    if pixels is None:
        return True
    if isinstance(pixels, RawDataElement):
        # pydicom converts it first: the bytes only match for a plain, even-length value
        return (
            pixels.length != UNDEFINED
            and isinstance(pixels.value, bytes)
            and len(pixels.value) % 2 == 0
            and (ds.original_encoding[0] is True or pixels.VR in ("OB", "OW"))
        )
    pixels.is_undefined_length = False
    return True


def _write_dataset(fp: DicomIO, ds: Dataset, parent_encoding: str | list[str]) -> None:
    """pydicom's ``write_dataset`` with raw elements and changed sequences written directly."""
    encoding = (fp.is_implicit_VR, fp.is_little_endian)
    if encoding != ds.original_encoding or ds.original_character_set != ds._character_set:
        write_dataset(fp, ds, parent_encoding)  # re-encodes every element: pydicom's job
        return
    # ds.get("SpecificCharacterSet", parent_encoding) without the keyword look-up
    charset = ds[CHARSET].value if CHARSET in ds._dict else parent_encoding
    implicit = encoding[0]
    packers = _PACKERS[bool(encoding[1])]
    write = fp.write
    elements = ds._dict
    tags = list(elements)
    tags.sort(key=int)  # plain int comparisons: BaseTag's are Python-level
    for tag in tags:
        if tag & 0xFFFF == 0 and tag >> 16 > 6:
            continue  # retired group lengths are not written (PS3.5 7.2)
        elem = elements[tag]
        if isinstance(elem, RawDataElement):
            if not _write_raw(write, packers, implicit, elem):
                write_data_element(fp, ds.get_item(tag), charset)
        elif elem.VR == "SQ" and not elem.is_empty:
            _write_sequence(fp, packers, implicit, elem, charset)
        elif not _write_ascii(write, packers, implicit, elem):
            write_data_element(fp, elem, charset)


def _write_raw(
    write: Callable[[bytes], Any], packers: _Packers, implicit: bool, elem: RawDataElement
) -> bool:
    """Write a raw element as is; False for the cases pydicom handles specially."""
    value = elem.value
    if value is None:
        return False  # deferred read
    undefined = elem.length == UNDEFINED
    tag = elem.tag
    if undefined and tag == PIXEL_DATA:
        return False  # encapsulated pixel data: pydicom checks it
    group, element = tag >> 16, tag & 0xFFFF
    length = len(value)
    if implicit:
        write(packers.tag_ul(group, element, UNDEFINED if undefined else length))
    else:
        vr = elem.VR
        if vr is None or len(vr) != 2:
            return False
        if vr in _LONG_VRS:
            size = UNDEFINED if undefined else length
            write(packers.tag_vr_ul(group, element, vr.encode(), size))
        elif undefined or length > 0xFFFF:
            return False  # pydicom warns and writes UN
        else:
            write(packers.tag_vr_us(group, element, vr.encode(), length))
    write(value)
    if undefined:
        write(packers.tag_ul(_SEQUENCE_DELIMITER >> 16, _SEQUENCE_DELIMITER & 0xFFFF, 0))
    return True


def _ascii_value(elem: DataElement) -> bytes | None:
    """The encoded value of a plain-ASCII string element, as pydicom would write it."""
    value = elem.value
    if value is None:
        return b""
    if isinstance(value, str):
        text = value
    elif isinstance(value, MultiValue | list) and all(isinstance(v, str) for v in value):
        text = "\\".join(value)
    else:
        return None
    if not text.isascii():
        return None  # character sets differ outside ASCII: pydicom encodes it
    if len(text) % 2:
        text += "\0" if elem.VR == "UI" else " "
    return text.encode("ascii")


def _write_ascii(
    write: Callable[[bytes], Any], packers: _Packers, implicit: bool, elem: DataElement
) -> bool:
    """Write a string element whose value is ASCII text (what the actions set); else False.

    ASCII encodes the same under every DICOM character set, so the bytes are pydicom's.
    """
    vr = elem.VR
    if vr not in _ASCII_VRS or elem.is_undefined_length:
        return False
    value = _ascii_value(elem)
    if value is None:
        return False
    tag = elem.tag
    group, element, length = tag >> 16, tag & 0xFFFF, len(value)
    if implicit:
        write(packers.tag_ul(group, element, length))
    elif vr in _LONG_VRS:
        write(packers.tag_vr_ul(group, element, vr.encode(), length))
    elif length > 0xFFFF:
        return False
    else:
        write(packers.tag_vr_us(group, element, vr.encode(), length))
    write(value)
    return True


def _write_sequence(
    fp: DicomIO, packers: _Packers, implicit: bool, elem: DataElement, charset: Any
) -> None:
    """A changed sequence: items encoded into a buffer, then the header with its length."""
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = fp.is_implicit_VR, fp.is_little_endian
    encodings = convert_encodings(charset or ["iso8859"])
    for item in elem.value:
        buffer.write(packers.tag_ul(_ITEM >> 16, _ITEM & 0xFFFF, UNDEFINED))
        start = buffer.tell()
        _write_dataset(buffer, item, encodings)
        if getattr(item, "is_undefined_length_sequence_item", False):
            buffer.write(packers.tag_ul(_ITEM_DELIMITER >> 16, _ITEM_DELIMITER & 0xFFFF, 0))
        else:
            end = buffer.tell()
            buffer.seek(start - 4)
            buffer.write(packers.ul(end - start))
            buffer.seek(end)
    undefined = elem.is_undefined_length
    group, element = elem.tag >> 16, elem.tag & 0xFFFF
    length = UNDEFINED if undefined else buffer.tell()
    if implicit:
        fp.write(packers.tag_ul(group, element, length))
    else:
        fp.write(packers.tag_vr_ul(group, element, b"SQ", length))
    fp.write(buffer.getvalue())
    if undefined:
        fp.write(packers.tag_ul(_SEQUENCE_DELIMITER >> 16, _SEQUENCE_DELIMITER & 0xFFFF, 0))
