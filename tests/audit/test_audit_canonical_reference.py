"""The orjson fast path writes the same bytes as RFC 8785 (JCS) for the value types audit
entries use: checked against a reference serializer written here from the RFC's rules
(§3.2.2.2 strings as ECMAScript JSON.stringify, §3.2.2.3 integers, §3.2.3 keys sorted by
UTF-16 code units, no whitespace)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.audit.canonical import canonical_json

from .helpers import all_builders

_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
          "\t": "\\t"}  # fmt: skip


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in _SHORT:
            out.append(_SHORT[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be")


def jcs(value: Any) -> str:
    """RFC 8785 for null, booleans, safe integers, strings, arrays and objects."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ",".join(jcs(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=_utf16_key)
        return "{" + ",".join(f"{_string(k)}:{jcs(value[k])}" for k in keys) + "}"
    raise TypeError(type(value).__name__)


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
# Keys: any non-surrogate character; UTF-16 and code point order differ only between U+E000..
# U+FFFF and astral characters, which no FHIR key uses (canonical.py documents code point order).
keys = st.text(st.characters(exclude_categories=["Cs"], max_codepoint=0xD7FF), max_size=6)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(keys, values, max_size=6))
def test_canonical_json_equals_rfc8785_reference(value: dict[str, Any]) -> None:
    assert canonical_json(value) == jcs(value).encode("utf-8")


def test_every_builder_event_is_rfc8785_canonical() -> None:
    for event in all_builders():
        assert canonical_json(event) == jcs(event).encode("utf-8")
