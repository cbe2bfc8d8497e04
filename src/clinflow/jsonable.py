"""A dataclass's JSON form when it is its own fields plus a computed figure or two."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def fields_json(record: Any, /, **values: Any) -> dict[str, Any]:
    """``record``'s fields in declaration order (shallow: values as they are), then ``values``:
    one named like a field replaces it in place (a rounded or shortened form), any other is
    added after the fields (a computed property)."""
    data = {field.name: getattr(record, field.name) for field in fields(record)}
    data.update(values)
    return data
