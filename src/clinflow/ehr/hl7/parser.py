"""A small, fast HL7 v2 parser: MSH encoding characters, segments, fields, repetitions,
components, subcomponents and escape sequences (HL7 v2.5.1 chapter 2, 2.5-2.7).

Parsing is lazy where it pays: a message is split into segments and fields once (two
``str.split`` per segment); repetitions, components and subcomponents are split, and escape
sequences decoded, only for the fields a caller reads. ``tree()`` gives the whole structure
(the cross-check against python-hl7 uses it). Errors are :class:`HL7Error` (an
``InputRejected``) naming the segment and field (``PID[1]-5``), never a value: a malformed
message may carry PHI anywhere (docs/adr/0100-hl7v2-parser.md).

Escape sequences (2.7): ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\`` give the delimiters back,
``\\Xhh..\\`` the bytes ``hh..`` (UTF-8 when they decode, else Latin-1), ``\\.br\\``,
``\\.sp\\`` and ``\\.ce\\`` a line break (``\\n``), ``\\.skN\\ \\.inN\\ \\.tiN\\`` N spaces;
``\\.fi\\ \\.nf\\``, highlighting (``\\H\\ \\N\\``), character-set switches
(``\\Cxxyy\\ \\Mxxyyzz\\``) and local ``\\Z..\\`` sequences give nothing. An escape character
without its closing one is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from clinflow.errors import InputRejected

__all__ = [
    "DEFAULT_ENCODING",
    "Encoding",
    "HL7Error",
    "Message",
    "Segment",
    "escape",
    "parse",
    "unescape",
]

_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
_FORBIDDEN_DELIMITERS = frozenset("\r\n")
_KNOWN_NAMES: set[str] = set()  # valid segment names seen: checked by the regex once


class HL7Error(InputRejected):
    """A malformed HL7 v2 message: ``reason`` says what, ``location`` where (``OBX[3]-5``)."""


@dataclass(frozen=True, slots=True)
class Encoding:
    """The delimiters of one message (MSH-1 and MSH-2)."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""  # v2.7 MSH-2 fifth character, rarely sent

    @property
    def msh2(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation


DEFAULT_ENCODING = Encoding()


_ENCODINGS: dict[str, Encoding] = {}  # delimiters -> Encoding: senders reuse a few sets


def _encoding_of(text: str) -> Encoding:
    if len(text) < 8 or not text.startswith("MSH"):
        raise HL7Error("does not start with an MSH segment", "MSH")
    field = text[3]
    end = text.find(field, 4)
    chars = text[4:] if end < 0 else text[4:end]
    if end < 0 or not 2 <= len(chars) <= 5:
        raise HL7Error("encoding characters must be 2 to 5 characters", "MSH-2")
    delimiters = field + chars
    known = _ENCODINGS.get(delimiters)
    if known is not None:
        return known
    if (
        len(set(delimiters)) != len(delimiters)
        or field.isalnum()
        or any(c.isalnum() or c in _FORBIDDEN_DELIMITERS or c == " " for c in delimiters)
    ):
        raise HL7Error("delimiters must be distinct, non-alphanumeric characters", "MSH-2")
    padded = chars + "\x00" * (4 - len(chars)) if len(chars) < 4 else chars
    encoding = Encoding(field, padded[0], padded[1], padded[2], padded[3], chars[4:5])
    if len(_ENCODINGS) < 64:  # valid sets only; bounded
        _ENCODINGS[delimiters] = encoding
    return encoding


def unescape(value: str, enc: Encoding = DEFAULT_ENCODING, where: str = "") -> str:
    """Decode the escape sequences of one leaf value (a component or subcomponent)."""
    esc = enc.escape
    if esc not in value:
        return value
    parts = value.split(esc)
    if len(parts) % 2 == 0:
        raise HL7Error("escape sequence not terminated", where)
    out = [parts[0]]
    for index in range(1, len(parts), 2):
        out.append(_sequence(parts[index], enc, where))
        out.append(parts[index + 1])
    return "".join(out)


def _sequence(code: str, enc: Encoding, where: str) -> str:
    simple = {
        "F": enc.field,
        "S": enc.component,
        "T": enc.subcomponent,
        "R": enc.repetition,
        "E": enc.escape,
        ".br": "\n",
        ".sp": "\n",
        ".ce": "\n",  # centre the next line: it starts a line
    }.get(code)
    if simple is not None:
        return simple
    if not code:
        raise HL7Error("empty escape sequence", where)
    head = code[0]
    if head == "X":
        digits = code[1:]
        try:
            raw = bytes.fromhex(digits)
        except ValueError as exc:
            raise HL7Error("bad hexadecimal escape sequence", where) from exc
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if code.startswith((".sk", ".in", ".ti")):
        count = code[3:].lstrip("+-")
        return " " * (int(count) if count.isdigit() else 1)
    # highlighting, .fi/.nf, character-set switches and local (Z) sequences carry no text
    if head in "HNCMZ" or code in (".fi", ".nf"):
        return ""
    raise HL7Error("unknown escape sequence", where)


def escape(value: str, enc: Encoding = DEFAULT_ENCODING) -> str:
    """Encode text for one leaf: delimiters as ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, line breaks as
    ``\\.br\\`` (the inverse of :func:`unescape` for any text)."""
    esc = enc.escape
    if not any(c in value for c in (esc, enc.field, enc.component, enc.repetition,
                                    enc.subcomponent, "\r", "\n")):  # fmt: skip
        return value
    out = value.replace(esc, f"{esc}E{esc}")
    for char, code in (
        (enc.field, "F"),
        (enc.component, "S"),
        (enc.subcomponent, "T"),
        (enc.repetition, "R"),
    ):
        out = out.replace(char, f"{esc}{code}{esc}")
    out = out.replace("\r\n", "\n").replace("\r", "\n")
    return out.replace("\n", f"{esc}.br{esc}")


class Segment:
    """One segment: ``fields[n]`` is the raw text of field ``n`` (MSH: ``fields[1]`` is the
    field separator and ``fields[2]`` the encoding characters, as the standard numbers them)."""

    __slots__ = ("enc", "fields", "name", "occurrence")

    def __init__(self, name: str, fields: list[str], enc: Encoding, occurrence: int = 1) -> None:
        self.name = name
        self.fields = fields
        self.enc = enc
        self.occurrence = occurrence  # 1-based, among the message's segments of this name

    @property
    def where(self) -> str:
        """``OBX[3]``: the segment's name and occurrence (what errors name)."""
        return f"{self.name}[{self.occurrence}]"

    def __len__(self) -> int:
        return len(self.fields)

    def raw(self, number: int) -> str:
        """The raw (still escaped) text of field ``number``; "" when absent."""
        fields = self.fields
        return fields[number] if number < len(fields) else ""

    def has(self, number: int) -> bool:
        return bool(self.raw(number))

    def value(self, number: int, component: int = 1, sub: int = 1, repetition: int = 0) -> str:
        """The unescaped text of one leaf (1-based component and subcomponent, 0-based
        repetition); "" when absent."""
        fields = self.fields
        if number >= len(fields):
            return ""
        text = fields[number]
        if not text or (number <= 2 and self.name == "MSH"):
            return text
        enc = self.enc
        if repetition or enc.repetition in text:
            reps = text.split(enc.repetition)
            text = reps[repetition] if repetition < len(reps) else ""
        if component > 1 or enc.component in text:
            comps = text.split(enc.component)
            text = comps[component - 1] if component <= len(comps) else ""
        if sub > 1 or enc.subcomponent in text:
            subs = text.split(enc.subcomponent)
            text = subs[sub - 1] if sub <= len(subs) else ""
        return unescape(text, enc, f"{self.where}-{number}") if enc.escape in text else text

    def repetitions(self, number: int) -> list[list[list[str]]]:
        """Field ``number`` as repetitions of components of subcomponents, unescaped."""
        text = self.raw(number)
        enc = self.enc
        if number <= 2 and self.name == "MSH":
            return [[[text]]]
        cs, ss, rs = enc.component, enc.subcomponent, enc.repetition
        if enc.escape not in text:  # the common case: nothing to decode
            return [[comp.split(ss) for comp in rep.split(cs)] for rep in text.split(rs)]
        where = f"{self.where}-{number}"
        return [
            [[unescape(leaf, enc, where) for leaf in comp.split(ss)] for comp in rep.split(cs)]
            for rep in text.split(rs)
        ]

    def components(self, number: int, repetition: int = 0) -> list[str]:
        """The components of one repetition (first subcomponent of each), unescaped."""
        reps = self.repetitions(number)
        if repetition >= len(reps):
            return []
        return [subs[0] for subs in reps[repetition]]

    def tree(self) -> list[list[list[list[str]]]]:
        """Every field as :meth:`repetitions` (field 0 is the segment name)."""
        return [[[[self.name]]], *(self.repetitions(n) for n in range(1, len(self.fields)))]


class Message:
    """A parsed message: its delimiters and segments, in order."""

    __slots__ = ("_index", "enc", "segments")

    def __init__(self, segments: list[Segment], enc: Encoding) -> None:
        self.segments = segments
        self.enc = enc
        self._index: dict[str, list[Segment]] | None = None

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def __len__(self) -> int:
        return len(self.segments)

    def all(self, name: str) -> list[Segment]:
        index = self._index
        if index is None:
            index = {}
            for segment in self.segments:
                index.setdefault(segment.name, []).append(segment)
            self._index = index
        return index.get(name, [])

    def first(self, name: str) -> Segment | None:
        found = self.all(name)
        return found[0] if found else None

    def require(self, name: str, message_type: str) -> list[Segment]:
        """Every ``name`` segment, of which there must be one: else HL7Error
        ``<name> segment missing`` at ``<message type> <name>``."""
        found = self.all(name)
        if not found:
            raise HL7Error(f"{name} segment missing", f"{message_type} {name}")
        return found

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def encode(self) -> str:
        """The message as text again, segments ended by carriage returns."""
        lines = []
        for segment in self.segments:
            if segment.name == "MSH":
                lines.append("MSH" + self.enc.field + self.enc.field.join(segment.fields[2:]))
            else:
                lines.append(self.enc.field.join(segment.fields))
        return "\r".join(lines) + "\r"


def decode_bytes(data: bytes) -> str:
    """Message bytes as text: UTF-8, else Latin-1 (every byte decodes; HL7 v2 senders use
    ASCII, Latin-1 or UTF-8, and MSH-18 is often absent or wrong)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse(message: str | bytes) -> Message:
    """Parse one message. Segments end with CR (the standard), LF or CRLF (files);
    empty lines are skipped. Raises :class:`HL7Error` naming the segment."""
    text = decode_bytes(message) if isinstance(message, bytes) else message
    text = text.lstrip("\ufeff\r\n \t")
    enc = _encoding_of(text)
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    field = enc.field
    segments: list[Segment] = []
    counts: dict[str, int] = {}
    for number, line in enumerate(text.split("\r"), start=1):
        if not line:
            continue
        fields = line.split(field)
        name = fields[0]
        if name not in _KNOWN_NAMES:
            if len(name) != 3 or not _SEGMENT_NAME.match(name):
                where = f"segment {number}"
                raise HL7Error("segment name is not 3 upper-case letters or digits", where)
            if len(_KNOWN_NAMES) < 4096:
                _KNOWN_NAMES.add(name)
        occurrence = counts[name] = counts.get(name, 0) + 1
        if name == "MSH":
            if segments:
                raise HL7Error("a second MSH segment (two messages run together?)",
                               f"segment {number}")  # fmt: skip
            fields.insert(1, field)
        segments.append(Segment(name, fields, enc, occurrence))
    return Message(segments, enc)
