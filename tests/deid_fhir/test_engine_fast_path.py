"""The compiled walk (``clinflow.deid.fhir.compiled``, ADR 0118) against the generic one
(``FhirDeidentifier(compiled=False)``): the same de-identified bytes, the same rule counts and
removals per patient, the same quarantined entries and the same rejections (reason and
location), through the streaming stage. On generated cohorts (several seeds, R5 and R4B,
every resource type the generator makes) under safe-harbor, limited-data-set and a policy
with every method and FHIRPath rules, and on hypothesis-mutated resources: unknown elements,
primitive extensions ``_x``, dates, references, contained resources, wrong JSON types. One
engine pair lives for the whole module, so the remembered walks and id caches are checked
across documents too."""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.config import scenarios_dir
from clinflow.deid.fhir.engine import FhirDeidentifier, urn_uuid
from clinflow.deid.fhir.io import FhirDeidRunner
from clinflow.deid.fhir.policy import Policy, load_policy, parse_policy
from clinflow.deid.fhir.stage import DeidOutcome, FhirDeidStage, RecordedQuarantine
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.envelope import SourceKind
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.scenario import Scenario, load_scenario
from clinflow.synthetic.stream import StreamOptions, generate_stream

KEY = bytes(range(32))
AS_OF = date(2026, 6, 1)
GENERATED_TYPES = {
    "Patient", "Encounter", "Observation", "DocumentReference", "Claim", "ExplanationOfBenefit",
    "DiagnosticReport", "Condition", "MedicationRequest", "MedicationAdministration", "Consent",
}  # fmt: skip
_EVERY_METHOD_RULES = [
    "{id: vq-value, path: Observation.valueQuantity.value, method: perturb,"
    " params: {relative: 0.1}}",
    "{id: vq-unit, path: Observation.valueQuantity.unit, method: substitute, params: {value: u}}",
    "{id: enc-status, path: Encounter.status, method: encrypt}",
    "{id: given, path: Patient.name.given, method: substitute, params: {surrogate: given}}",
    "{id: name-keep, path: Patient.name, method: keep}",
    "{id: hr-code, fhirpath: \"Observation.code.coding.where(code = '8867-4')\", method: redact}",
    "{id: any-status, fhirpath: status, method: keep}",
    "{id: cond-code, path: Condition.code.text, method: cryptoHash, params: {as: uid}}",
]
EVERY_METHOD = "name: every-method\nextends: safe-harbor\nrules:\n" + "".join(
    f"  - {rule[:-1]}, before: resource-id}}\n" for rule in _EVERY_METHOD_RULES
)


def _text_cleaner(text: str, patient_key: str | None) -> str:
    return f"[clean {len(text)} {patient_key}]"


def _sealer(patient: str, data: bytes, aad: bytes) -> bytes:
    return hashlib.sha256(patient.encode() + data + aad).digest()


def _stage(policy: Policy, compiled: bool, validation: str) -> FhirDeidStage:
    engine = FhirDeidentifier(
        policy,
        Pseudonymizer(KEY),
        text_cleaner=_text_cleaner,
        sealer=_sealer,
        as_of=AS_OF,
        compiled=compiled,
    )
    runner = FhirDeidRunner(engine, RecordedQuarantine(), None, validation)  # type: ignore[arg-type]
    return FhirDeidStage(runner)


def _outcome(outcome: DeidOutcome) -> tuple[Any, ...]:
    return (
        outcome.payload,
        {k: dict(v) for k, v in outcome.audit.items()},
        outcome.quarantined,
        outcome.rejected,
        outcome.error,
    )


class Pair:
    """The compiled and the generic engine, fed the same documents in the same order."""

    def __init__(self, policy: Policy, validation: str = "none") -> None:
        self.fast = _stage(policy, True, validation)
        self.generic = _stage(policy, False, validation)
        self.count = 0

    def check(self, document: dict[str, Any]) -> DeidOutcome:
        self.count += 1
        message_id = f"m{self.count}"
        payload = orjson.dumps(document)
        fast = self.fast.compute(message_id, payload)
        generic = self.generic.compute(message_id, payload)
        assert _outcome(fast) == _outcome(generic)
        fast_report, generic_report = self.fast.take_report(), self.generic.take_report()
        assert fast_report.as_dict() == generic_report.as_dict()
        assert fast_report.problems == generic_report.problems
        return fast


def _policies() -> dict[str, Policy]:
    return {
        "safe-harbor": load_policy("safe-harbor"),
        "limited-data-set": load_policy("limited-data-set"),
        "every-method": parse_policy(EVERY_METHOD, "every-method.yaml"),
    }


def _cohort_documents(root: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((root / "fhir").rglob("*.json")):
        document = orjson.loads(path.read_bytes())
        if isinstance(document, dict):
            yield document
    for path in sorted((root / "fhir").rglob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            if line.strip():
                yield orjson.loads(line)


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory: pytest.TempPathFactory) -> list[list[dict[str, Any]]]:
    found = []
    versions: tuple[tuple[int, Literal["R4B", "R5"]], ...] = ((5, "R5"), (17, "R4B"), (29, "R5"))
    for seed, version in versions:
        root = tmp_path_factory.mktemp(f"cohort-{seed}")
        scenario = Scenario(
            imaging_fraction=0.5, vitals_hours=2.0, fhir_version=version, labs_interval_hours=1.0,
            vasopressor_record_minutes=30.0, duplicate_registration_fraction=0.2,
        )  # fmt: skip
        generate(GenerateOptions(patients=5, seed=seed, out=root, scenario=scenario, workers=1))
        found.append(list(_cohort_documents(root)))
    septic = {
        "vitals_hours": 8.0,
        "deterioration_fraction": 1.0, "deterioration_patterns": ("sepsis",),
    }
    septic_ward = load_scenario(scenarios_dir() / "icu-labs.yaml").model_copy(update=septic)
    # labs, pump records (MedicationAdministration), merged registrations
    options = StreamOptions(
        patients=3, seed=3, scenario=septic_ward,
        manifest=tmp_path_factory.mktemp("stream") / "manifest.ndjson",
    )  # fmt: skip
    found.append(
        [
            orjson.loads(item.envelope.payload)
            for item in generate_stream(options)
            if item.envelope.source is SourceKind.FHIR
        ]
    )
    return found


@pytest.mark.parametrize("validation", ["none", "shallow", "input"])
@pytest.mark.parametrize("policy_name", ["safe-harbor", "limited-data-set", "every-method"])
def test_generated_cohorts_give_the_generic_walk_s_output(
    cohorts: list[list[dict[str, Any]]], policy_name: str, validation: str
) -> None:
    pair = Pair(_policies()[policy_name], validation)
    types: set[str] = set()
    for documents in cohorts:
        for _ in range(2):  # the second time round, from the remembered walks
            for document in documents:
                outcome = pair.check(document)
                assert outcome.rejected is None and outcome.error is None
                if document.get("resourceType") == "Bundle":
                    types.update(e["resource"]["resourceType"] for e in document["entry"])
                else:
                    types.add(document["resourceType"])
    assert types >= GENERATED_TYPES, GENERATED_TYPES - types


# ----- mutated resources ------------------------------------------------------------------
_NAMES = [
    "id", "status", "code", "coding", "system", "display", "text", "value", "unit",
    "reference", "subject", "patient", "encounter", "effectiveDateTime", "issued", "period",
    "start", "end", "extension", "url", "valueString", "valueDateTime", "name", "given",
    "family", "address", "postalCode", "telecom", "identifier", "note", "authorString",
    "birthDate", "category", "component", "valueQuantity", "unknownThing", "_status",
    "_effectiveDateTime", "_id", "_given", "contained", "meta", "lastUpdated", "div",
]  # fmt: skip
_PRIMITIVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=6),  # JSON text: no surrogates
    st.sampled_from(
        [
            "2026-02-02", "2026-02-02T06:30:00Z", "2026-02", "2026", "2026-02-30",
            "Patient/pat-000001", "Patient/unknown", "Encounter/e-1", "#c1", "#nope", "#",
            "urn:uuid:0b1b0a51-8c3e-4f0b-9d8e-4dc7c2b0a6a1", "urn:oid:1.2.3", "../../etc",
            "Observation?code=x", "http://example.org/fhir/Observation/o-1", "final",
        ]
    ),
)
_JSON = st.recursive(
    _PRIMITIVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(_NAMES), children, max_size=3),
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _mutate(document: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    document = copy.deepcopy(document)
    entries = document["entry"]
    entry = entries[data.draw(st.integers(0, len(entries) - 1))]
    resource = entry["resource"]
    for _ in range(data.draw(st.integers(1, 4))):
        paths = [p for p in _paths(resource) if p]
        how = data.draw(st.sampled_from(["set", "add", "extension", "contained", "drop"]))
        if how == "contained":
            sibling = copy.deepcopy(entries[data.draw(st.integers(0, len(entries) - 1))])
            contained = dict(sibling["resource"], id=data.draw(st.sampled_from(["c1", "c2"])))
            resource.setdefault("contained", [])
            if isinstance(resource["contained"], list):
                resource["contained"].append(contained)
            continue
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent: Any = resource
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if how == "drop":
            del parent[last]
        elif how == "set":
            parent[last] = data.draw(_JSON)
        elif how == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(_NAMES))] = data.draw(_JSON)
        elif how == "extension" and isinstance(parent, dict) and isinstance(last, str):
            parent["_" + last.lstrip("_")] = data.draw(
                st.one_of(_JSON, st.just({"extension": [{"url": "u", "valueString": "v"}]}))
            )
    return document


_PAIRS: dict[str, Pair] = {}


@pytest.fixture(scope="module")
def small_bundles(cohorts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every Bundle of the cohorts cut into Bundles of at most 6 entries (a record file holds
    hundreds): each resource type, mutated at stream size."""
    found = []
    for documents in cohorts:
        for document in documents:
            entries = document.get("entry") if document.get("resourceType") == "Bundle" else None
            for start in range(0, len(entries or ()), 6):
                found.append(dict(document, entry=entries[start : start + 6]))  # type: ignore[index]
    return found


# derandomize: the engine pairs keep state across examples (remembered walks, known
# patients), which once made hypothesis report its strategy flaky while replaying a case;
# the same 80 examples every run keep CI's verdict the one seen here
@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_resources_give_the_generic_walk_s_output(
    cohorts: list[list[dict[str, Any]]], small_bundles: list[dict[str, Any]], data: st.DataObject
) -> None:
    policy_name = data.draw(st.sampled_from(sorted(_policies())))
    pair = _PAIRS.get(policy_name)
    if pair is None:
        pair = _PAIRS[policy_name] = Pair(_policies()[policy_name], "none")
        for documents in cohorts:  # known patients, and walks to remember
            for document in documents:
                pair.check(document)
    document = data.draw(st.sampled_from(small_bundles))
    pair.check(_mutate(document, data))
    pair.check(document)  # the unmutated one after: nothing remembered wrongly


@given(digest=st.binary(min_size=16, max_size=32))
def test_urn_uuid_writes_what_uuid_writes(digest: bytes) -> None:
    assert urn_uuid(digest) == "urn:uuid:" + str(uuid.UUID(bytes=digest[:16]))
