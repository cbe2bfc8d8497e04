"""Validation with cached complex elements (``io._ValidatedParts``, ADR 0112) accepts and
rejects exactly what the plain fhir.resources model does, with the model's own errors: on the
generator's resources of every type (R5 and R4B), and on the same resources with elements
broken in the ways real exports break them (wrong JSON types, nulls in lists, empty objects,
unknown or misspelt keys inside a nested element, a primitive where an object belongs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.deid.fhir import io
from clinflow.deid.fhir.resource_types import complex_fields, model_class, primitive_fields
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.scenario import Scenario


def _plain(version: str, resource: dict[str, Any]) -> tuple[bool, list[tuple[Any, ...]]]:
    """What the model says of the resource as it came: accepted, else its errors."""
    from pydantic import ValidationError

    model = model_class(str(resource.get("resourceType")), version)
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return False, [(e["type"], e["loc"]) for e in exc.errors()]
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        return False, [(type(exc).__name__, ())]
    return True, []


def _cached(version: str, resource: dict[str, Any]) -> tuple[bool, list[tuple[Any, ...]]]:
    errors = io._errors(version, resource)
    if errors is None:
        return True, []
    return False, [(e["type"], e["loc"]) for e in errors]


@pytest.fixture(scope="module", params=["R5", "R4B"])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    cohort = tmp_path_factory.mktemp(f"cohort-{request.param}")
    scenario = Scenario(imaging_fraction=0.5, vitals_hours=3.0, fhir_version=request.param)
    generate(GenerateOptions(patients=4, seed=33, out=cohort, scenario=scenario, workers=1))
    resources = []
    for path in sorted((Path(cohort) / "fhir" / "bundles").glob("*.json")):
        for entry in orjson.loads(path.read_bytes())["entry"]:
            resources.append(entry["resource"])
    return request.param, resources


def test_generated_resources_get_the_plain_model_s_answer(corpus: Any) -> None:
    version, resources = corpus
    types = {r["resourceType"] for r in resources}
    assert {"Patient", "Observation", "Encounter", "Consent"} <= types
    for _ in range(2):  # second pass: every repeated element comes from the cache
        for resource in resources:
            assert _cached(version, resource) == _plain(version, resource), resource["resourceType"]


_BROKEN = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.booleans(),
    st.just({}),
    st.just([]),
    st.just([None]),
    st.just([{}]),
    st.just({"coding": "x"}),
    st.just({"reference": 5}),
    st.just({"system": None, "code": ""}),
    st.just({"unknownKey": "value"}),
    st.just([{"coding": [None]}]),
    st.just({"value": "not-a-number"}),
)


def _complex_names(version: str, resource: dict[str, Any]) -> list[str]:
    return sorted(complex_fields(str(resource["resourceType"]), version))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_broken_elements_get_the_plain_model_s_answer(corpus: Any, data: st.DataObject) -> None:
    version, resources = corpus
    resource = data.draw(st.sampled_from(resources))
    names = _complex_names(version, resource)
    broken = dict(resource)
    for name in data.draw(st.lists(st.sampled_from(names), max_size=3)) if names else ():
        present = resource.get(name)
        if isinstance(present, list) and present and data.draw(st.booleans()):
            # one item of a list broken, the others as they were (and cached)
            items = list(present)
            items[data.draw(st.integers(0, len(items) - 1))] = data.draw(_BROKEN)
            broken[name] = items
        else:
            broken[name] = data.draw(_BROKEN)
    assert _cached(version, broken) == _plain(version, broken)
    assert _cached(version, resource) == _plain(version, resource)  # the cache is not spoilt


def test_a_broken_element_beside_cached_ones_is_rejected_with_the_model_s_error(
    corpus: Any,
) -> None:
    version, resources = corpus
    observation = next(r for r in resources if r["resourceType"] == "Observation")
    assert _cached(version, observation) == (True, [])  # its code, category, subject cached
    for broken_code in ({"coding": "x"}, {"coding": [None]}, "heart rate"):
        broken = dict(observation, code=broken_code)
        accepted, errors = _cached(version, broken)
        assert not accepted and errors == _plain(version, broken)[1]
        assert any("code" in loc for _, loc in errors), errors


# Values a primitive element may carry in a broken export: each valid for some primitive
# types and not others (ids, codes, dates, instants, strings, numbers, booleans, nulls).
_PRIMITIVE_VALUES = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.sampled_from(
        [
            "", " ", "final", "x" * 65, "a b", "pat-1", "../x", "2026-02-02", "2026-02-30",
            "2026-02-02T06:30:00Z", "2026-02-02T06:30:00", "2026-02-02T24:00:00Z",
            "2026-02-02T06:30:60Z", "2026", "2026-13", "06:30:00", "true", "1.5",
            "http://example.org/x", "urn:uuid:0b1b0a51-8c3e-4f0b-9d8e-4dc7c2b0a6a1",
        ]
    ),
    st.text(max_size=4),
    st.just([]),
    st.just(["final"]),
    st.just({}),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_accepted_shapes_with_other_primitives_get_the_plain_model_s_answer(
    corpus: Any, data: st.DataObject
) -> None:
    """A resource whose shape was accepted before, with primitive elements changed (added,
    removed, valid or not, of the wrong JSON type), or a field named by its Python name:
    the same answer as the plain model."""
    version, resources = corpus
    resource = data.draw(st.sampled_from(resources))
    assert _cached(version, resource) == _plain(version, resource)  # its shape accepted
    singles, renamed = primitive_fields(str(resource["resourceType"]), version)
    names = sorted(singles) + sorted(renamed)[:5] + ["unknownElement"]
    changed = dict(resource)
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3)):
        if name in changed and data.draw(st.booleans()):
            del changed[name]
        else:
            changed[name] = data.draw(_PRIMITIVE_VALUES)
    assert _cached(version, changed) == _plain(version, changed)
    assert _cached(version, changed) == _plain(version, changed)  # its own shape, if accepted


def test_an_accepted_shape_is_answered_without_the_model(corpus: Any) -> None:
    version, resources = corpus
    observation = next(r for r in resources if r["resourceType"] == "Observation")
    assert _cached(version, observation) == (True, [])
    other = dict(observation, id="another-id-123")
    _, shape = io._PARTS.substituted(version, other)
    assert io._PARTS.accepted(shape)
    for bad_id in ("no spaces allowed", "x" * 300, 5, "a/b"):
        broken = dict(observation, id=bad_id)
        _, shape = io._PARTS.substituted(version, broken)
        assert not io._PARTS.accepted(shape)
        assert _cached(version, broken) == _plain(version, broken)
        assert _cached(version, broken)[0] is False
