"""Canonical JSON for audit entries (RFC 8785 style for the value types audit events use).

Objects have their keys sorted, no insignificant whitespace, UTF-8 output, strings escaped only
where JSON requires it (``"``, ``\\``, control characters) exactly as ECMAScript's
``JSON.stringify`` does. Integers must fit an IEEE double exactly (|n| < 2**53), floats must be
finite; both are written as orjson writes them (shortest round-trip), which matches RFC 8785 for
the integers and short decimals audit events carry. Keys are compared by code point, which equals
RFC 8785's UTF-16 order for the ASCII keys FHIR uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

MAX_SAFE_INTEGER = 2**53 - 1  # ECMAScript Number.MAX_SAFE_INTEGER, as orjson enforces


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"{path}: integer outside the IEEE double exact range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: non-finite number")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: object key is not a string")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            _check(item, f"{path}[{position}]")
        return
    raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _normalize(value: Any) -> Any:
    """Plain dicts and lists for other Mapping/sequence types (already checked by _check)."""
    if isinstance(value, Mapping):
        return {key: _normalize(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize(item) for item in value]
    return value


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """The canonical UTF-8 bytes of ``value`` (raises ``ValueError`` naming the bad field).

    Fast path: orjson refuses non-string keys, integers beyond 2**53 and unknown types itself;
    it writes NaN/Infinity as ``null``, so output containing ``null`` (which FHIR never uses)
    is re-checked value by value.
    """
    try:
        encoded = orjson.dumps(value, option=_OPTIONS)
    except TypeError:
        _check(value, "$")  # raises naming the offending field
        try:
            encoded = orjson.dumps(_normalize(value), option=_OPTIONS)
        except TypeError as exc:
            raise ValueError(f"$: cannot serialize entry ({exc})") from exc
    if b"null" in encoded:
        _check(value, "$")
    return encoded


def parse_canonical(entry: bytes) -> tuple[dict[str, Any] | None, bool]:
    """(the JSON object ``entry`` holds, or None; whether ``entry`` is its canonical form)."""
    try:
        parsed = orjson.loads(entry)
    except orjson.JSONDecodeError:
        return None, False
    if not isinstance(parsed, dict):
        return None, False
    # Parsed JSON holds only plain types and finite numbers: orjson alone re-serializes it.
    return parsed, orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS) == entry


def is_canonical(entry: bytes) -> bool:
    """True when ``entry`` parses as a JSON object and re-serializes to the same bytes."""
    return parse_canonical(entry)[1]
