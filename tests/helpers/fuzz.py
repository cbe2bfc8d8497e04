"""Fuzz-test plumbing shared by the ``test_*_fuzz.py`` modules (issue 13).

Every fuzz target is one property ``body(**drawn)``; ``fuzz_tests`` turns it into two tests:
a quick one (``QUICK`` examples, run by ``make test-quick``) and a ``slow``-marked one with
``MANY`` examples. ``CLINFLOW_FUZZ_EXAMPLES`` overrides both counts (what
``benchmarks/reliability.py --examples N`` sets), and with ``CLINFLOW_FUZZ_COUNTS=FILE`` every
example run is counted per target and the counts are added to FILE (JSON) at exit, so the
reliability table reports inputs actually fuzzed, not inputs asked for.

What a target may raise is part of its property: ``only_clinflow_errors`` turns anything that
is not a ``ClinflowError`` into a test failure naming the exception type.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.errors import ClinflowError

QUICK = 50
MANY = 400  # the reliability run asks for more (CLINFLOW_FUZZ_EXAMPLES)
EXAMPLES_ENV = "CLINFLOW_FUZZ_EXAMPLES"
COUNTS_ENV = "CLINFLOW_FUZZ_COUNTS"

_counts: Counter[str] = Counter()


def _examples(default: int) -> int:
    value = os.environ.get(EXAMPLES_ENV)
    return int(value) if value else default


def _write_counts() -> None:
    target = os.environ.get(COUNTS_ENV)
    if not target or not _counts.keys():
        return
    path = Path(target)
    merged: Counter[str] = Counter()
    if path.exists():
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    for name, count in _counts.items():
        merged[name] = merged.get(name, 0) + count  # Counter.update would drop the zeros
    path.write_text(json.dumps(dict(sorted(merged.items()))), encoding="utf-8")


atexit.register(_write_counts)


def tally(name: str, count: int = 1) -> None:
    """Count an outcome (e.g. ``dicom:phi-leak``) beside the example counts; ``count`` 0
    records that it was measured and found nothing."""
    _counts[name] += count


def fuzz_tests(
    target: str, body: Callable[..., None], **strategies: st.SearchStrategy[Any]
) -> tuple[Callable[..., None], Callable[..., None]]:
    """``(quick test, slow test)`` running ``body`` on examples drawn from ``strategies``."""

    def make(examples: int) -> Callable[..., None]:
        @settings(
            max_examples=_examples(examples),
            deadline=None,
            derandomize=True,  # the same examples on every run: a failure reproduces
            database=None,  # no .hypothesis/ in the checkout; failures print their example
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
        )
        @given(**strategies)
        def test(**drawn: Any) -> None:
            _counts[target] += 1
            body(**drawn)

        test.__doc__ = body.__doc__
        return test

    return make(QUICK), pytest.mark.slow(make(MANY))


@contextlib.contextmanager
def only_clinflow_errors(what: str) -> Iterator[list[ClinflowError]]:
    """Swallow a ``ClinflowError`` (recorded in the yielded list); fail on anything else."""
    raised: list[ClinflowError] = []
    try:
        yield raised
    except ClinflowError as exc:
        raised.append(exc)
    except Exception as exc:  # noqa: BLE001 - the point: nothing else may escape
        pytest.fail(f"{what} raised {type(exc).__name__} (not a clinflow error): {exc!r:.300}")


SEEDS = st.integers(0, 2**32 - 1)  # a mutation plan's random seed
MUTATIONS = st.integers(1, 8)  # how many mutations one example applies


def mutate(original: bytes, plan: int, mutations: int) -> bytes:
    """``original`` with ``mutations`` byte-level changes chosen by ``plan``: bit flips, random
    bytes, deletions, insertions, duplicated chunks and "interesting" integers where lengths
    and tags live (what a bad disk, a cut transfer or a hostile sender produce)."""
    data = bytearray(original)
    rng = random.Random(plan)
    for _ in range(mutations):
        if not data:
            break
        kind = rng.randrange(6)
        at = rng.randrange(len(data))
        if kind == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[at] = rng.randrange(256)
        elif kind == 2:
            del data[at : at + rng.randrange(1, 64)]
        elif kind == 3:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif kind == 4:
            data[at:at] = data[at : at + rng.randrange(1, 256)]
        else:
            value = rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF))
            data[at : at + 4] = value.to_bytes(4, "little")
    return bytes(data)


HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),  # orjson refuses NaN on output: not a FHIR value anyway
    st.sampled_from(["", " ", "#", "#nope", "../../../../etc/passwd", "Patient/",
                     "Patient/../../x", "urn:uuid:", "Patient?identifier=x|1",
                     "urn:uuid:00000000-0000-0000-0000-000000000000", "http://",
                     "9999-99-99", "2019-02-30",
                     "0000-01-01T25:61:61Z", "\x00", "\ud7ff\ufffd", "A" * 10_000,
                     "<div>" * 50, "enc:v1:!!", "{}", "[]", "null"]),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.recursive(st.just({}), lambda inner: st.dictionaries(st.just("x"), inner), max_leaves=40),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON document (dict keys and list indexes)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((*prefix, index))
            found.extend(_paths(value, (*prefix, index)))
    return found


@st.composite
def hostile_documents(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """One of ``seeds`` (JSON documents) with 1-6 values replaced by ``HOSTILE`` ones, keys
    dropped or resource types renamed."""
    document = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = document
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "drop", "retype"]))
        if action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "retype" and isinstance(parent, dict) and "resourceType" in parent:
            parent["resourceType"] = draw(st.sampled_from(
                ["Patient", "Observation", "Bundle", "Consent", "Nope", "", "Binary"]))
        else:
            parent[path[-1]] = draw(HOSTILE)
    return document
