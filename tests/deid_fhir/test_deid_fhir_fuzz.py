"""Fuzzing the FHIR rule engine with hostile resources (issue 13).

Each example takes one of the hand-written Bundles (Synthea-style R4, R5) and rewrites some of
its values with hostile ones (wrong JSON types, deep nesting, huge or odd strings, path
traversal and dangling references, numbers at the edges of float), drops keys or renames
resource types, then runs it as the streaming stage does (index, then de-identify) under
every validation mode. Property: the document is de-identified or ``InputRejected`` comes
out, never another exception; a rejection names where (file, entry, field) and never echoes
a planted identifier; a success holds none of the planted identifiers.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from hypothesis import strategies as st

from clinflow.deid.fhir.engine import FhirDeidentifier
from clinflow.deid.fhir.io import FhirDeidRunner
from clinflow.deid.fhir.policy import load_policy
from clinflow.deid.fhir.stage import FhirDeidStage
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.envelope import SourceKind, source_input
from clinflow.errors import InputRejected
from helpers.fuzz import fuzz_tests, only_clinflow_errors, tally

from . import helpers

PSEUDONYMIZER = Pseudonymizer(bytes(range(32)))
POLICY = load_policy("safe-harbor")
SEEDS = [helpers.r4_synthea_bundle(), helpers.r5_patient_bundle()]
R5_PHI = ["Schäfer", "33144716", "(312) 555-0196", "9522 Chestnut Boulevard", "1961-08-08"]
# Values checked in outputs: long enough not to turn up by chance in hashes and codes.
PLANTED = [v for v in helpers.PHI + R5_PHI if len(v) >= 6]

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
def hostile_documents(draw: st.DrawFn) -> dict[str, Any]:
    document = copy.deepcopy(draw(st.sampled_from(SEEDS)))
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


def _engine() -> FhirDeidentifier:
    """The rule engine with free text replaced whole (``[REDACTED]``): the text de-identifier
    is fuzzed on its own (tests/deid_text/test_text_fuzz.py) and would cost most of the time."""
    return FhirDeidentifier(POLICY, PSEUDONYMIZER, as_of=date(2026, 1, 1))


def _check(document: dict[str, Any], validation: str) -> None:
    """Hostile FHIR through the streaming stage: a de-identified envelope or InputRejected
    (never another exception); rejections name the message and never echo a planted value;
    nothing planted in a success."""
    stage = FhirDeidStage(FhirDeidRunner(_engine(), validation=validation))  # type: ignore[arg-type]
    raw = json.dumps(document).encode()  # stdlib: big integers too (orjson refuses them)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    envelope = source_input(raw, SourceKind.FHIR, at, "fuzz.json", "fhir-json")
    with only_clinflow_errors("FhirDeidStage.process") as raised:
        [released] = stage.process(envelope)
    problems = [str(e) for e in raised] + stage.runner.report.problems
    for problem in problems:
        assert problem.startswith(f"message {envelope.message_id}"), problem
        for value in PLANTED:
            assert value not in problem, "a rejection echoed a planted identifier"
    if raised:
        assert isinstance(raised[0], InputRejected)
        tally("fhir:rejected")
        return
    tally("fhir:deidentified")
    assert [v for v in PLANTED if v.encode() in released.payload] == []


test_hostile_fhir_is_deidentified_or_rejected, test_hostile_fhir_many = fuzz_tests(
    "fhir", _check, document=hostile_documents(),
    validation=st.sampled_from(["none", "shallow", "input"]),
)


def test_the_unmutated_seeds_leave_nothing_planted() -> None:
    for seed in SEEDS:
        runner = FhirDeidRunner(_engine(), validation="none")
        runner.engine.index.add_all([(e["resource"], e["fullUrl"]) for e in seed["entry"]])
        written = orjson.dumps(runner.deidentify_document(copy.deepcopy(seed), "s.json", {}))
        assert runner.report.quarantined == 0
        assert [v for v in PLANTED if v.encode() in written] == []


def _patient_with(**changes: Any) -> dict[str, Any]:
    bundle = helpers.r5_patient_bundle()
    bundle["entry"][0]["resource"].update(changes)
    return bundle


# The crashes fuzzing found (issue 13), each now an InputRejected or a clean de-identification.
CRASHES = {
    "entry-not-a-list": {"resourceType": "Bundle", "type": "collection", "entry": True},
    "bundle-type-a-list": {"resourceType": "Bundle", "type": ["collection"], "entry": []},
    "resource-type-a-list": {"resourceType": "Bundle", "type": "collection",
                             "entry": [{"resource": {"resourceType": ["Patient"]}}]},
    "entry-an-integer": {"resourceType": "Bundle", "type": "collection", "entry": [7]},
    "address-true": _patient_with(address=True),
    "name-an-integer": _patient_with(name=3),
    "mrn-code-a-list": _patient_with(identifier=[{"type": {"coding": [{"code": ["MR"]}]},
                                                  "value": "33144716"}]),
    "contained-without-type": {
        **helpers.r5_patient_bundle()["entry"][1]["resource"], "contained": [{"id": "x"}]},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_fuzz_found_crashes_are_rejections_now(name: str) -> None:
    for validation in ("none", "shallow", "input"):
        _check(copy.deepcopy(CRASHES[name]), validation)
