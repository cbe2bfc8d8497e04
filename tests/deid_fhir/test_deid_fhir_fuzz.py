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
from helpers.fuzz import fuzz_tests, hostile_documents, only_clinflow_errors, tally

from . import helpers

PSEUDONYMIZER = Pseudonymizer(bytes(range(32)))
POLICY = load_policy("safe-harbor")
SEEDS = [helpers.r4_synthea_bundle(), helpers.r5_patient_bundle()]
R5_PHI = ["Schäfer", "33144716", "(312) 555-0196", "9522 Chestnut Boulevard", "1961-08-08"]
# Values checked in outputs: long enough not to turn up by chance in hashes and codes.
PLANTED = [v for v in helpers.PHI + R5_PHI if len(v) >= 6]

DOCUMENTS = hostile_documents(SEEDS)


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
    "fhir", _check, document=DOCUMENTS,
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


def _attachment_url_false() -> dict[str, Any]:
    bundle = helpers.r4_synthea_bundle()
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "DocumentReference":
            entry["resource"]["content"][0]["attachment"]["url"] = False
            return bundle
    raise AssertionError("the Synthea-style bundle has no DocumentReference")


# The crashes fuzzing found (issue 13), each now an InputRejected or a clean de-identification.
CRASHES = {
    # fhir.resources' Url validator calls .startswith on the value: AttributeError, not a
    # ValidationError (found by the 1,000-example reliability run)
    "attachment-url-false": _attachment_url_false(),
    "contained-of-unknown-type": {  # KeyError inside fhir.resources
        **helpers.r5_patient_bundle()["entry"][1]["resource"],
        "contained": [{"resourceType": "x", "id": "c"}]},
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
