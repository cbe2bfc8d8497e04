"""Cleaning DICOM free text (the ``C`` action on descriptors): known identifiers plus patterns.

The file's own identifiers (names, ids, dates the profile removed or replaced elsewhere in the
same dataset) are what make recall in short DICOM descriptions; generic patterns catch dates,
phone numbers, SSN-like and long digit runs, and e-mail addresses. A richer free-text
de-identifier can be injected into the engine through the :class:`TextCleaner` protocol.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Protocol

REDACTED = "***"

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    "|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_GENERIC = re.compile(
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b"  # 1950-03-05
    r"|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"  # 03/05/1950
    r"|\b(?:" + _MONTHS + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"  # March 5, 1950
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:" + _MONTHS + r")\.?,?\s+\d{4}\b"  # 5 March 1950
    r"|\(?\b\d{3}\)?[-.\s]?\d{3}[-.\s]\d{4}\b"  # (555) 123-4567
    r"|\b\d{3}-\d{2}-\d{4}\b"  # SSN
    r"|\b[A-Za-z]{0,4}[-#]?\d{5,}\b",  # MRN-0012345, long digit runs
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_DIGIT = re.compile(r"\d")


def _generic(text: str) -> str:
    """Pattern-based redaction; the expensive patterns run only when they can match."""
    if _DIGIT.search(text):
        text = _GENERIC.sub(REDACTED, text)
    if "@" in text:
        text = _EMAIL.sub(REDACTED, text)
    return text


class TextCleaner(Protocol):
    """Makes a function that removes identifiers from free text, given the known identifiers.

    Called once per dataset (the known identifiers are that dataset's), then per value.
    """

    def prepare(self, known: Iterable[str]) -> Callable[[str], str]: ...


_NON_NAME = re.compile(r"[^\w'\-]+")


def known_tokens(values: Iterable[str]) -> set[str]:
    """Identifier strings worth searching for: whole values, PN components, digit forms."""
    tokens: set[str] = set()
    for value in values:
        value = value.strip()
        if not value:
            continue
        tokens.add(value)
        if "^" in value or "=" in value:
            for group in value.split("="):
                parts = [p.strip() for p in group.split("^") if p.strip()]
                tokens.update(p for p in parts if len(p) >= 2)
                for part in parts:
                    tokens.update(w for w in part.split() if len(w) >= 2)
                    # a damaged byte inside a component ('Lindqvist\x9cMaren', fuzz finding
                    # F13-DICOM-3) must not hide the names on either side of it
                    tokens.update(w for w in _NON_NAME.split(part) if len(w) >= 3)
                if len(parts) >= 2:
                    tokens.add(f"{' '.join(parts[1:])} {parts[0]}")
                    tokens.add(f"{parts[0]}, {' '.join(parts[1:])}")
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 5 and digits != value:
            tokens.add(digits)
    return {t for t in tokens if len(t) >= 2}


class KnownValueScrubber:
    """Default :class:`TextCleaner`: case-insensitive known values, then generic patterns."""

    def prepare(self, known: Iterable[str]) -> Callable[[str], str]:
        return _prepared(frozenset(known))

    def clean(self, text: str, known: Iterable[str]) -> str:
        """One-off convenience: ``prepare(known)(text)``."""
        return self.prepare(known)(text)


class _CaseFold(dict[int, int]):
    """Code point -> representative of its class under ``re.IGNORECASE`` (length-preserving).

    ``re`` matches a literal case-insensitively when the simple lower-case forms agree or are
    listed together in ``re._casefix`` (dotless i, long s, Kelvin sign...); mapping text and
    identifier through this table keeps every such match a plain substring, which makes a
    cheap and exact pre-filter. Filled on demand (``str.translate`` calls ``__missing__``).
    """

    def __init__(self, tolower: Callable[[int], int], extra: dict[int, tuple[int, ...]]) -> None:
        super().__init__()
        self._tolower, self._extra = tolower, extra

    def __missing__(self, code: int) -> int:
        low = self._tolower(code)
        folded = min((low, *self._extra.get(low, ())))
        self[code] = folded
        return folded


def _case_fold_table() -> _CaseFold | None:
    try:  # the internals ``re`` itself uses; without them, use the full pattern
        tolower = importlib.import_module("_sre").unicode_tolower
        extra = importlib.import_module("re._casefix")._EXTRA_CASES
    except (ImportError, AttributeError):
        return None
    return _CaseFold(tolower, dict(extra))


_FOLD = _case_fold_table()


@lru_cache(maxsize=512)
def _prepared(known: frozenset[str]) -> Callable[[str], str]:
    """Cached per set of known values: a patient's files share them.

    Compiling one alternation of every identifier per study cost more than cleaning did, so
    only the identifiers present in the value (case-folded substring test, exact under
    ``re.IGNORECASE``) go into the pattern, compiled once per such subset: the same matches as
    the full alternation, since an identifier absent from the value cannot match.
    """
    tokens = tuple(sorted(known_tokens(known), key=len, reverse=True))
    if not tokens:
        return _generic
    fold = _FOLD
    if fold is None:
        full = _alternation(tokens)
        return lambda text: _generic(full.sub(REDACTED, text))
    folded = tuple((token.translate(fold), token) for token in tokens)

    def clean(text: str) -> str:
        # ASCII letters are their class's smallest member: lower() is the fold
        lowered = text.lower() if text.isascii() else text.translate(fold)
        present = tuple(token for low, token in folded if low in lowered)
        if present:
            text = _alternation(present).sub(REDACTED, text)
        return _generic(text)

    return clean


@lru_cache(maxsize=4096)
def _alternation(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word, case-insensitive match of any token (longest first)."""
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(t) for t in tokens) + r")(?!\w)", re.IGNORECASE
    )
