"""Which patterns can match a note at all, from one hyperscan pass over it.

Each of the 270-odd patterns of ``recognizers.PATTERNS`` costs ``regex`` a walk over every
position of every note, though most notes hold a match for under a third of them (measured
on the annotated sets: 30% of note/pattern pairs). This module rewrites each pattern into a
wider one that hyperscan can scan all at once, in a reading of the note where every non-ASCII
character is the one byte 0x80, and runs ``regex`` only for the patterns that wide scan hits.

The rewriting errs one way only (what the original matches, the wide pattern matches in the
reading; never the reverse promise): look-arounds, anchors and word boundaries are dropped;
a non-ASCII character, and a Unicode property, stand for 0x80 (a letter property for ASCII
letters too; any other property for any byte); a class keeps its ASCII members and takes 0x80
when it may match a non-ASCII character; a negated class excludes only ASCII characters it
certainly excludes; case-insensitive parts spell both cases out (and ``k``/``s`` take 0x80:
the Kelvin sign and the long s fold to them). hyperscan's own prefilter mode then widens what
it cannot build exactly. A pattern with a back-reference or a condition, or one the standard
library's parser (``re._parser``, which reads the ``regex`` syntax these patterns use but
for ``\\p{...}``) cannot read, is not rewritten: it always runs.

hyperscan is optional (x86-64 wheels only): without it every pattern runs, as before, and the
spans are the same. Measured before choosing (ADR 0131): hyperscan's own Unicode mode on the
original patterns compiled in 505 s (58 MB); literal-factor filtering in pure Python (the words
every match must contain) would have skipped only 26% of the runs at 2.5 ms a note.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_ANY_PROPERTY = "\ue000"  # stands in for a Unicode property the rewriting does not know
_LETTER_PROPERTY = "\ue001"  # stands in for \p{L}, \p{Lu}, \p{Ll}, \p{Lt}
_PROPERTY = re.compile(r"\\([pP])\{(\^?)([^}]*)\}")
_GROUP_NAME = re.compile(r"\(\?P<\w+>")
_INLINE_GLOBAL = re.compile(r"(?<!\\)\(\?([aiLmsux]+)\)")
_INLINE_CASELESS = re.compile(r"(?<!\\)\(\?[aLmsux]*i[aLmsux]*\)")
_LETTERS = frozenset({"L", "Lu", "Ll", "Lt", "Letter", "Uppercase_Letter", "Lowercase_Letter"})

_MAX_BOUND = 3
_ALL = frozenset(range(256))
_HIGH = 0x80
_DIGITS = frozenset(range(0x30, 0x3A))
_SPACES = frozenset(b" \t\n\r\f\v")
_UPPER = frozenset(range(0x41, 0x5B))
_LOWER = frozenset(range(0x61, 0x7B))
_WORD = _DIGITS | _UPPER | _LOWER | {0x5F}
_ASCII = frozenset(range(0x80))
# ASCII letters that a non-ASCII character folds to (Kelvin sign K -> k, long s -> s)
_FOLDED_FROM_HIGH = frozenset(b"kKsS")


class Unsupported(ValueError):
    """A construct the rewriting does not widen (back-references, conditions)."""


def _with_case(chars: frozenset[int]) -> frozenset[int]:
    out = set(chars)
    for c in chars:
        if c in _UPPER:
            out.add(c + 32)
        elif c in _LOWER:
            out.add(c - 32)
        if c in _FOLDED_FROM_HIGH:
            out.add(_HIGH)
    return frozenset(out)


def _category(code: Any) -> frozenset[int]:
    """The bytes a ``\\d``/``\\s``/``\\w`` class (or its negation) may match in the reading."""
    name = str(code)
    if name.endswith("NOT_DIGIT"):
        return (_ALL - _DIGITS) | {_HIGH}
    if name.endswith("DIGIT"):
        return _DIGITS | {_HIGH}
    if name.endswith("NOT_SPACE"):
        return _ALL - _SPACES
    if name.endswith("SPACE"):
        return _SPACES | frozenset(range(0x1C, 0x20)) | {_HIGH}
    if name.endswith("NOT_WORD"):
        return _ALL - _WORD
    if name.endswith("WORD"):
        return _WORD | {_HIGH}
    return _ALL  # line breaks and anything newer: any byte


def _certainly_in(code: Any) -> frozenset[int]:
    """The ASCII bytes a category certainly holds (what a negated class may exclude)."""
    name = str(code)
    if name.endswith("NOT_DIGIT"):
        return _ASCII - _DIGITS
    if name.endswith("DIGIT"):
        return _DIGITS
    if name.endswith("NOT_SPACE"):
        return _ASCII - _SPACES - frozenset(range(0x1C, 0x20))
    if name.endswith("SPACE"):
        return _SPACES
    if name.endswith("NOT_WORD"):
        return _ASCII - _WORD
    if name.endswith("WORD"):
        return _WORD
    return frozenset()


def _literal_bytes(code: int, caseless: bool) -> frozenset[int]:
    char = chr(code)
    if char == _ANY_PROPERTY:
        return _ALL
    if char == _LETTER_PROPERTY:
        return _UPPER | _LOWER | {_HIGH}
    if code >= 0x80:
        return frozenset({_HIGH})
    return _with_case(frozenset({code})) if caseless else frozenset({code})


def _class_bytes(items: list[tuple[Any, Any]], caseless: bool) -> frozenset[int]:
    negated = bool(items) and items[0][0] is sre.NEGATE
    if not negated:
        chars: set[int] = set()
        for op, av in items:
            if op is sre.LITERAL:
                chars |= _literal_bytes(av, caseless)
            elif op is sre.RANGE:
                low, high = av
                ascii_part = frozenset(range(low, min(high, 0x7F) + 1))
                chars |= _with_case(ascii_part) if caseless else ascii_part
                if high >= 0x80:
                    chars.add(_HIGH)
            elif op is sre.CATEGORY:
                chars |= _category(av)
            else:
                return _ALL
        return frozenset(chars)
    excluded: set[int] = set()  # ASCII bytes the class certainly does not match
    for op, av in items[1:]:
        if op is sre.LITERAL:
            char = chr(av)
            if char == _LETTER_PROPERTY:
                excluded |= _UPPER | _LOWER
            elif av < 0x80:
                excluded |= _with_case(frozenset({av})) - {_HIGH} if caseless else {av}
        elif op is sre.RANGE:
            low, high = av
            ascii_part = frozenset(range(low, min(high, 0x7F) + 1))
            excluded |= (_with_case(ascii_part) - {_HIGH}) if caseless else ascii_part
        elif op is sre.CATEGORY:
            excluded |= _certainly_in(av)
    return _ALL - excluded


def _byte_class(chars: frozenset[int]) -> str:
    if chars == _ALL:
        return r"[\x00-\xff]"
    if not chars:
        raise Unsupported("empty class")
    return "[" + "".join(f"\\x{c:02x}" for c in sorted(chars)) + "]"


def _emit(items: Sequence[tuple[Any, Any]], caseless: bool) -> str:
    out: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            out.append(_byte_class(_literal_bytes(av, caseless)))
        elif op is sre.NOT_LITERAL:
            excluded = (
                frozenset()
                if av >= 0x80
                else (_with_case(frozenset({av})) - {_HIGH} if caseless else frozenset({av}))
            )
            out.append(_byte_class(_ALL - excluded))
        elif op is sre.ANY:
            out.append(r"[\x00-\xff]")
        elif op is sre.IN:
            out.append(_byte_class(_class_bytes(av, caseless)))
        elif op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue  # zero width: dropped (the wide pattern matches where it would not)
        elif op is sre.BRANCH:
            out.append("(?:" + "|".join(_emit(b, caseless) for b in av[1]) + ")")
        elif op is sre.SUBPATTERN:
            _group, add, delete, body = av
            inner = (caseless or bool(add & re.I)) and not delete & re.I
            out.append("(?:" + _emit(body, inner) + ")")
        elif op is sre.ATOMIC_GROUP:
            out.append("(?:" + _emit(av, caseless) + ")")
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, body = av
            # (a bounded repeat made open: hyperscan builds long bounds slowly)
            upper = "" if high is sre.MAXREPEAT or high > _MAX_BOUND else str(high)
            out.append("(?:" + _emit(body, caseless) + ")" + "{" + f"{low},{upper}" + "}")
        else:  # GROUPREF, GROUPREF_EXISTS and anything newer
            raise Unsupported(str(op))
    return "".join(out)


def _property(match: re.Match[str]) -> str:
    negated = (match.group(1) == "P") != bool(match.group(2))
    if not negated and match.group(3) in _LETTERS:
        return _LETTER_PROPERTY
    return _ANY_PROPERTY


def widened(pattern: str, flags: int) -> str | None:
    """A hyperscan pattern (bytes of the reading, no flags needed) matching wherever
    ``pattern`` (``regex`` syntax, ``regex`` flags) matches, or None when there is none."""
    if "[[:" in pattern or "\\L<" in pattern:  # POSIX classes, named lists: not read here
        return None
    if "(?P=" in pattern:
        return None  # a back-reference: not widened
    # group names (a pattern may use one name in several branches, as ``regex`` allows) and
    # inline global flags anywhere (``regex`` takes them in mid-pattern): only (?i) matters
    readable = _GROUP_NAME.sub("(?:", _PROPERTY.sub(_property, pattern))
    if _INLINE_CASELESS.search(readable):
        flags |= re.I
    verbose = re.X if flags & re.X or "x" in "".join(_INLINE_GLOBAL.findall(readable)) else 0
    readable = _INLINE_GLOBAL.sub("", readable)
    try:
        tree = sre_parse.parse(readable, verbose)
        caseless = bool((flags | tree.state.flags) & re.I)
        return _emit(tree.data, caseless)
    except (re.error, Unsupported, RecursionError, OverflowError):
        return None


def reading(text: str) -> bytes:
    """The text as the wide patterns read it: ASCII as is, every other character 0x80."""
    return _NON_ASCII.sub(lambda m: "\x80" * len(m.group()), text).encode("latin-1")


class Prefilter:
    """For a list of ``regex`` patterns, which may match a given text: one hyperscan scan
    of each of a few databases (ten patterns each: hyperscan builds ten-pattern databases
    in a fifth of the time one database of them all takes, 5 s against 25 s here)."""

    def __init__(self, patterns: Sequence[tuple[str, int]], cache_dir: Path | None) -> None:
        self._count = len(patterns)
        self.always: frozenset[int] = frozenset(range(len(patterns)))
        self._databases: list[Any] = []
        self._lock = threading.Lock()
        try:
            import hyperscan
        except ImportError:  # no wheel for this platform: every pattern runs
            return
        wide: list[tuple[int, bytes]] = []
        for index, (pattern, flags) in enumerate(patterns):
            expression = widened(pattern, flags)
            if expression is not None:
                wide.append((index, expression.encode("latin-1")))
        chunks = [wide[k : k + _CHUNK] for k in range(0, len(wide), _CHUNK)]
        version = getattr(hyperscan, "__version__", "")
        key = hashlib.sha256(repr((version, _MODE, chunks)).encode()).hexdigest()
        self._databases = _cached(cache_dir, key[:32], lambda: _build(hyperscan, chunks))
        self.always = frozenset(range(len(patterns))) - {index for index, _ in wide}

    def possible(self, text: str) -> set[int]:
        """The indexes of the patterns that may match ``text``."""
        hits = set(self.always)
        if self._databases:

            def on_match(index: int, _start: int, _end: int, _flags: int, _ctx: Any) -> None:
                hits.add(index)

            data = reading(text)
            with self._lock:  # (a database's scratch space serves one scan at a time)
                try:
                    for database in self._databases:
                        database.scan(data, match_event_handler=on_match)
                except Exception:  # hyperscan refused the scan: every pattern runs
                    return set(range(self._count))
        return hits


_CHUNK = 10
_MODE = "prefilter singlematch allowempty"


def _build(hyperscan: Any, chunks: list[list[tuple[int, bytes]]]) -> list[Any]:
    flags = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH
    flags |= hyperscan.HS_FLAG_ALLOWEMPTY
    databases = []
    for chunk in chunks:
        database = hyperscan.Database()
        database.compile(
            expressions=[expression for _, expression in chunk],
            ids=[index for index, _ in chunk],
            elements=len(chunk),
            flags=[flags] * len(chunk),
        )
        databases.append(database)
    return databases


def _cached(cache_dir: Path | None, key: str, build: Callable[[], list[Any]]) -> list[Any]:
    """The databases from ``cache_dir`` when an earlier process built the same ones, else
    built (once per machine: other processes wait on a lock file, then read them)."""
    import hyperscan

    if cache_dir is None:
        return build()
    path = cache_dir / f"patterns-{key}.hsdb"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with open(cache_dir / f"patterns-{key}.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.is_file():
                try:
                    blobs = _unpack(path.read_bytes())
                    databases = [hyperscan.loadb(b, hyperscan.HS_MODE_BLOCK) for b in blobs]
                    for database in databases:  # (compiling allocates it, loading does not)
                        database.scratch = hyperscan.Scratch(database)
                        # (a database built for another CPU loads but refuses to scan)
                        database.scan(b"x", match_event_handler=_ignore)
                    return databases
                except (ValueError, hyperscan.error):
                    pass  # a damaged or foreign file: built again below
            databases = build()
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(_pack([bytes(hyperscan.dumpb(d)) for d in databases]))
            os.replace(partial, path)
            return databases
    except OSError:  # a read-only or missing home: built in memory every time
        return build()


def _ignore(*_args: Any) -> None:
    return None


def _pack(blobs: list[bytes]) -> bytes:
    return b"".join(len(b).to_bytes(8, "big") + b for b in blobs)


def _unpack(data: bytes) -> list[bytes]:
    blobs, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 8], "big")
        blob = data[at + 8 : at + 8 + size]
        if len(blob) != size or size == 0:
            raise ValueError("truncated pattern cache")
        blobs.append(blob)
        at += 8 + size
    return blobs


def cache_dir() -> Path | None:
    """Where built pattern databases are kept: ``CLINFLOW_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/clinflow`` or ``~/.cache/clinflow``; ``CLINFLOW_CACHE_DIR=`` (empty)
    keeps none."""
    configured = os.environ.get("CLINFLOW_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "clinflow"


@lru_cache(maxsize=1)
def pattern_prefilter() -> Prefilter:
    """The prefilter of ``recognizers.compiled_patterns()`` (built once per process)."""
    from clinflow.deid.text.recognizers import compiled_patterns

    return Prefilter(
        [(compiled.pattern, compiled.flags) for _, compiled in compiled_patterns()], cache_dir()
    )
