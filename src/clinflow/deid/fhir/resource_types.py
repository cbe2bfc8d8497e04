"""FHIR element data types, looked up once per element path from the fhir.resources models.

``element_type("Patient.name.given") == "string"``; ``element_type("Patient.address") ==
"Address"``. Used by ``type:`` selectors and by data-type-rooted paths (``Reference.display``).
Unknown paths (e.g. R4-only elements absent from the R5 models) give ``None``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_COMPLEX = re.compile(r"abc\.(\w+?)Type\b")
_PRIMITIVE = re.compile(r"Annotated\[[^,]+,\s*(\w+)\(")


@lru_cache(maxsize=1024)
def model_class(name: str, version: str = "R5") -> Any:
    """The fhir.resources model class for ``name`` (R5, or ``R4B``), None when unknown."""
    if version == "R4B":
        from fhir.resources.R4B import get_fhir_model_class as get_class
    else:
        from fhir.resources import get_fhir_model_class as get_class
    try:
        return get_class(name)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


@lru_cache(maxsize=1024)
def _fields_by_json_name(name: str) -> dict[str, str]:
    """Map JSON element name -> data type name: R5 model first, R4B for older names.

    R4B is R4 for nearly every element, so R4 exports (Encounter.period,
    Encounter.participant.individual) are typed too.
    """
    out: dict[str, str] = {}
    for version in ("R4B", "R5"):  # R5 last: it wins where both define an element
        out.update(_fields_of(model_class(name, version)))
    return out


def _fields_of(cls: Any) -> dict[str, str]:
    if cls is None:
        return {}
    out: dict[str, str] = {}
    for field_name, info in cls.model_fields.items():
        json_name = info.alias or field_name
        text = repr(info.annotation)
        complex_match = _COMPLEX.search(text)
        if complex_match:
            out[json_name] = complex_match.group(1)
            continue
        primitive = _PRIMITIVE.search(text)
        if primitive:
            raw = primitive.group(1)
            out[json_name] = raw[0].lower() + raw[1:]
    return out


@lru_cache(maxsize=1)
def _resource_base() -> Any:
    from fhir.resources.resource import Resource

    return Resource


@lru_cache(maxsize=512)
def is_resource_type(name: str) -> bool:
    cls = model_class(name)
    return cls is not None and issubclass(cls, _resource_base())


@lru_cache(maxsize=512)
def is_data_type(name: str) -> bool:
    return model_class(name) is not None and not is_resource_type(name)


@lru_cache(maxsize=65_536)
def element_type(path: str) -> str | None:
    """The data type of the element at ``path`` (resource-rooted, no indexes), or None."""
    head, _, rest = path.partition(".")
    if not rest:
        known = model_class(head) is not None or model_class(head, "R4B") is not None
        return head if known else None
    parent = element_type(path.rsplit(".", 1)[0])
    if parent is None:
        return None
    name = path.rsplit(".", 1)[1]
    if parent in ("Resource", "DomainResource") or name.startswith("_"):
        return None
    return _fields_by_json_name(parent).get(name)


@lru_cache(maxsize=1024)
def complex_fields(name: str, version: str = "R5") -> dict[str, tuple[Any, bool]]:
    """JSON element name -> (model class, is a list) of the complex-typed elements a
    resource type's ``version`` model declares (data types whose model class is known:
    CodeableConcept, Reference, Meta...; backbone elements are left out)."""
    cls = model_class(name, version)
    if cls is None:
        return {}
    out: dict[str, tuple[Any, bool]] = {}
    for field_name, info in cls.model_fields.items():
        text = repr(info.annotation)
        match = _COMPLEX.search(text)
        if match is None:
            continue
        element_cls = model_class(match.group(1), version)
        if element_cls is not None and is_data_type(match.group(1)):
            out[info.alias or field_name] = (element_cls, "List[" in text)
    return out


@lru_cache(maxsize=1024)
def element_names(name: str) -> frozenset[str]:
    """The JSON element names a resource type may carry at its top level (R4B and R5)."""
    return frozenset(_fields_by_json_name(name))


@lru_cache(maxsize=1024)
def primitive_fields(name: str, version: str = "R5") -> tuple[frozenset[str], frozenset[str]]:
    """(JSON names of the single-valued primitive elements, Python field names that differ
    from their JSON name) of a resource type's ``version`` model. The first are what
    ``primitive_validator`` checks alone; the second, when a document uses them as keys,
    make two keys fill one field (``populate_by_name``)."""
    cls = model_class(name, version)
    if cls is None:
        return frozenset(), frozenset()
    single: set[str] = set()
    renamed: set[str] = set()
    for field_name, info in cls.model_fields.items():
        json_name = info.alias or field_name
        if json_name != field_name:
            renamed.add(field_name)
        text = repr(info.annotation)
        if _COMPLEX.search(text) is None and _PRIMITIVE.search(text) and "List[" not in text:
            single.add(json_name)
    return frozenset(single), frozenset(renamed)


@lru_cache(maxsize=4096)
def primitive_validator(name: str, version: str, json_name: str) -> Any:
    """A pydantic ``TypeAdapter`` of one primitive element of a resource type's model: its
    annotation alone, validated as the model validates that field (fhir_core's primitive
    validators read neither the other fields nor the validation context)."""
    from pydantic import TypeAdapter

    cls = model_class(name, version)
    for field_name, info in cls.model_fields.items():
        if (info.alias or field_name) == json_name:
            return TypeAdapter(info.annotation)
    raise KeyError(json_name)
