"""The one policy loader: file:line: rule: field: message for every failure, lines kept through
YAML styles and extends; properties: an unknown key anywhere a model reads is refused at its
line, and valid policies round-trip through YAML unchanged."""

from __future__ import annotations

import ast
import pickle
import tempfile
import types
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import clinflow.policy_loader
from clinflow.config import POLICIES_DIR_ENV, policies_dir, scenarios_dir
from clinflow.consent import policy as consent_policy
from clinflow.deid.dicom import profile as dicom_profile
from clinflow.deid.fhir import policy as fhir_policy
from clinflow.deid.text import engine as text_engine
from clinflow.errors import ConfigError, PolicyError
from clinflow.policy_loader import Shape, format_field, parse_document, read_document
from clinflow.scoring import policy as scoring_policy
from clinflow.synthetic import scenario as scenario_module

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "policies"
Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
FIXTURE_REUSED = HealthCheck.function_scoped_fixture  # `shipped` is module-scoped, read-only


# ---- the six policies, each as (file, shape, model, public loader) ------------------------
def _scoring(path: Path) -> object:
    return scoring_policy.load_policy(path)


def _dicom_site(path: Path) -> object:
    return dicom_profile.compile_policy(path)


KINDS: dict[str, tuple[Path, Shape, type[BaseModel], Callable[[Path], object]]] = {
    "consent": (POLICIES / "consent.yaml", consent_policy.SHAPE, consent_policy.ConsentPolicy,
                consent_policy.load_policy),
    "endpoints": (POLICIES / "endpoints.yaml", scoring_policy.SHAPE,
                  scoring_policy.EndpointsPolicy, _scoring),
    "fhir": (POLICIES / "fhir" / "safe-harbor.yaml", fhir_policy.SHAPE, fhir_policy.PolicySpec,
             fhir_policy.load_policy),
    "dicom-site": (POLICIES / "dicom" / "site-default.yaml", dicom_profile.SITE_SHAPE,
                   dicom_profile.SitePolicy, _dicom_site),
    "dicom-table": (POLICIES / "dicom" / "ps3.15-e1-1.yaml", dicom_profile.TABLE_SHAPE,
                    dicom_profile.ProfileTable, dicom_profile.load_profile_table),
    "text": (POLICIES / "text.yaml", text_engine.TEXT_POLICY_SHAPE, text_engine.TextPolicy,
             text_engine.load_text_policy),
    "scenario": (REPO / "synthetic" / "demo.yaml", scenario_module.SHAPE,
                 scenario_module.Scenario, scenario_module.load_scenario),
}  # fmt: skip


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return {name: yaml.safe_load(kind[0].read_text("utf-8")) for name, kind in KINDS.items()}


# ---- the format --------------------------------------------------------------------------
def test_error_format_and_attributes() -> None:
    error = PolicyError("p.yaml", 7, "r1", "params.to", "must be year")
    assert str(error) == "p.yaml:7: r1: params.to: must be year"
    assert (error.file, error.line, error.rule, error.field, error.detail) == (
        "p.yaml", 7, "r1", "params.to", "must be year"
    )  # fmt: skip
    assert isinstance(error, ConfigError)
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.rule == "r1"


@pytest.mark.parametrize(
    ("loc", "text"),
    [((), "-"), (("a",), "a"), (("a", 3, "b"), "a[3].b"), (("fields", 0), "fields[0]")],
)
def test_format_field(loc: tuple[Any, ...], text: str) -> None:
    assert format_field(loc) == text


SHAPE = Shape(rule_lists={"rules": "id"}, rule_maps=frozenset({"entries"}))


class Rule(BaseModel, extra="forbid"):
    id: str | None = None
    method: str


class Entry(BaseModel, extra="forbid"):
    weight: int


class Doc(BaseModel, extra="forbid"):
    name: str
    rules: list[Rule] = []
    entries: dict[str, Entry] = {}


@pytest.mark.parametrize(
    ("text", "located"),
    [
        ("name: a\nrules:\n  - id: r1\n    method: keep\n    colour: red\n",
         "5: r1: colour: unknown field"),
        ("name: a\nrules: [{id: r1, method: keep}, {method: keep, colour: red}]\n",
         "2: #2: colour: unknown field"),
        ("name: a\nrules:\n  - id: r1\n  - {id: r2, method: keep}\n",
         "3: r1: method: Field required"),
        ("name: a\nentries:\n  x: {weight: 1}\n  y:\n    weight: heavy\n",
         "5: y: weight: Input should be a valid integer, unable to parse string as an integer"),
        ("rules: []\n", "1: -: name: Field required"),
        ("\n\nname: [1\n", "3: -: -: not valid YAML (did not find expected ',' or ']')"),
        ("name: a\nname: b\n", "2: -: name: duplicate key (first at line 1)"),
        ("name: a\nrules:\n  - {id: r1, method: a}\n  - {id: r1, method: b}\n",
         "4: r1: id: duplicate id (first at line 3)"),
        ("- a\n", "1: -: -: expected a mapping at the top level"),
        ("", "1: -: name: Field required"),
        ("name: a\nrules: &r [*r]\n", "2: -: rules[0]: recursive YAML alias"),
        ("name: !!python/object:os.system x\n", "1: -: -: not valid YAML (could not determine"),
        ("base: &b {weight: 1}\nname: a\n", "1: -: base: unknown field"),
        ("name: a\nentries:\n  x:\n    <<: {weight: 1}\n    extra: 2\n",
         "5: x: extra: unknown field"),
        ("name: a\nrules: {}\n", "2: -: rules: Input should be a valid list"),
        ("name: a\nentries: {x: {weight: 1}, y: {weight: 2}}\nrules: [{id: q, method: 1}]\n",
         "3: q: method: Input should be a valid string"),
    ],
)  # fmt: skip
def test_lines_rules_and_fields(text: str, located: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_document(text, "t.yaml", SHAPE).validate(Doc)
    assert str(caught.value).startswith(f"t.yaml:{located}")


def test_only_the_first_problem_is_reported_with_a_count() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_document("name: 1\nrules: [{x: 1}]\n", "t.yaml", SHAPE).validate(Doc)
    assert str(caught.value).endswith("(and 2 more)")


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: a\nrules: []\ndescription: caf\xe9\n")
    with pytest.raises(PolicyError) as caught:
        read_document(path, SHAPE)
    assert str(caught.value) == f"{path}:3: -: -: not valid YAML (not UTF-8 text)"


def test_the_loader_is_core_and_imports_no_capability() -> None:
    tree = ast.parse(Path(clinflow.policy_loader.__file__).read_text("utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("clinflow")
    }
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("clinflow")
    }
    assert imported == {"clinflow.errors"}


# ---- one location for the policy set -------------------------------------------------------
def test_policies_and_scenarios_are_package_data_linked_to_the_top_level_folders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(POLICIES_DIR_ENV, raising=False)
    package = Path(clinflow.policy_loader.__file__).parent
    assert (package / "policies").resolve() == POLICIES == policies_dir()
    assert (package / "scenarios").resolve() == REPO / "synthetic" == scenarios_dir()
    monkeypatch.setenv(POLICIES_DIR_ENV, "/srv/site-policies")
    assert policies_dir() == Path("/srv/site-policies")


def test_only_one_policies_dir_variable() -> None:
    sources = [p for p in (REPO / "src").rglob("*.py")] + [
        REPO / "README.md", REPO / "docker" / "Dockerfile"
    ]  # fmt: skip
    assert not [p for p in sources if "CLINFLOW_POLICY_DIR" in p.read_text("utf-8")]


# ---- property: an unknown key wherever a model reads a mapping is refused at its line -------
def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _model_mappings(model: type[BaseModel], data: Any, loc: tuple[Any, ...]) -> Iterator[Any]:
    """Every location in ``data`` that ``model`` (or a model inside it) validates as a model."""
    if not isinstance(data, dict):
        return
    yield loc
    for name, info in model.model_fields.items():
        if name in data:
            yield from _annotated(info.annotation, data[name], (*loc, name))


def _annotated(annotation: Any, data: Any, loc: tuple[Any, ...]) -> Iterator[Any]:
    model = _model_of(annotation)
    if model is not None:
        yield from _model_mappings(model, data, loc)
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                yield from _annotated(arg, data, loc)
    elif origin in (list, tuple) and isinstance(data, list) and args:
        for index, item in enumerate(data):
            yield from _annotated(args[0], item, (*loc, index))
    elif origin is dict and isinstance(data, dict) and len(args) == 2:
        for key, item in data.items():
            yield from _annotated(args[1], item, (*loc, key))


def _expected_rule_and_field(shape: Shape, data: Any, loc: tuple[Any, ...]) -> tuple[str, str]:
    if len(loc) >= 2 and loc[0] in shape.rule_maps:
        return str(loc[1]), format_field(loc[2:])
    if len(loc) >= 2 and loc[0] in shape.rule_lists:
        rule_id = data[loc[0]][loc[1]].get(shape.rule_lists[loc[0]])
        return (str(rule_id) if rule_id else f"#{loc[1] + 1}"), format_field(loc[2:])
    return "-", format_field(loc)


def _at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


@st.composite
def unknown_key_cases(draw: st.DrawFn, shipped: dict[str, Any]) -> tuple[str, Any, tuple[Any, ...]]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    _, _, model, _ = KINDS[kind]
    data = yaml.safe_load(yaml.dump(shipped[kind], Dumper=Dumper))  # a private deep copy
    places = list(_model_mappings(model, data, ()))
    return kind, data, draw(st.sampled_from(places))


@given(data=st.data(), key=st.from_regex(r"zz_[a-z_]{1,12}", fullmatch=True),
       flow=st.sampled_from([False, None]))  # fmt: skip
@settings(max_examples=80, deadline=None, suppress_health_check=[FIXTURE_REUSED])
def test_an_unknown_key_at_any_level_is_refused_at_its_line(
    shipped: dict[str, Any], data: st.DataObject, key: str, flow: bool | None
) -> None:
    kind, document, loc = data.draw(unknown_key_cases(shipped))
    path_in_repo, shape, _, load = KINDS[kind]
    _at(document, loc)[key] = "surprise"
    text = yaml.dump(document, Dumper=Dumper, default_flow_style=flow, sort_keys=False, width=1000)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / path_in_repo.name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(PolicyError) as caught:
            load(path)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if f"{key}: surprise" in row)
    rule, field = _expected_rule_and_field(shape, document, (*loc, key))
    source = path if kind != "dicom-site" else path.resolve()
    assert str(caught.value) == f"{source}:{line}: {rule}: {field}: unknown field"


# ---- property: valid policies round-trip ---------------------------------------------------
@given(kind=st.sampled_from(sorted(KINDS)), flow=st.sampled_from([False, None, True]),
       indent=st.integers(min_value=2, max_value=6), sort_keys=st.booleans())  # fmt: skip
@settings(max_examples=40, deadline=None, suppress_health_check=[FIXTURE_REUSED])
def test_shipped_policies_round_trip_through_any_yaml_style(
    shipped: dict[str, Any], kind: str, flow: bool | None, indent: int, sort_keys: bool
) -> None:
    path, shape, model, _ = KINDS[kind]
    original = read_document(path, shape).validate(model)
    text = yaml.dump(shipped[kind], Dumper=Dumper, default_flow_style=flow, indent=indent,
                     sort_keys=sort_keys, allow_unicode=True)  # fmt: skip
    again = parse_document(text, f"again-{path.name}", shape).validate(model)
    assert again == original
    written = yaml.dump(again.model_dump(mode="json"), Dumper=Dumper, sort_keys=sort_keys)
    assert parse_document(written, "written.yaml", shape).validate(model) == original


purposes = st.from_regex(r"[A-Z]{2,8}", fullmatch=True)


@st.composite
def consent_policies(draw: st.DrawFn) -> consent_policy.ConsentPolicy:
    chosen = draw(st.dictionaries(purposes, st.fixed_dictionaries({
        "fallback": st.sampled_from(["permit", "deny"]),
        "break_glass": st.booleans(),
        "description": st.text(max_size=30),
    }), max_size=8))  # fmt: skip
    excludes = draw(st.lists(st.sampled_from(sorted(chosen)), unique=True)) if chosen else []
    return consent_policy.ConsentPolicy.model_validate({
        "version": draw(st.integers(min_value=1, max_value=99)),
        "default": draw(st.sampled_from(["permit", "deny"])),
        "purposes": chosen,
        "revoke_all_excludes": excludes,
    })  # fmt: skip


@given(policy=consent_policies(), flow=st.sampled_from([False, None, True]))
@settings(max_examples=60, deadline=None)
def test_generated_consent_policies_round_trip(
    policy: consent_policy.ConsentPolicy, flow: bool | None
) -> None:
    text = yaml.dump(policy.model_dump(mode="json"), Dumper=Dumper, default_flow_style=flow,
                     allow_unicode=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "consent.yaml"
        path.write_text(text, encoding="utf-8")
        assert consent_policy.load_policy(path) == policy


@given(
    patients=st.integers(min_value=1, max_value=1_000_000),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(UTC)),
    fraction=st.floats(min_value=0, max_value=1),
    fhir_version=st.sampled_from(["R4B", "R5"]),
    mix=st.dictionaries(st.sampled_from(["CT", "MR", "CR", "DX", "US", "SC", "OT"]),
                        st.floats(min_value=0.01, max_value=5), min_size=1),
)  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_generated_scenarios_round_trip(
    patients: int, start: datetime, fraction: float, fhir_version: str, mix: dict[str, float]
) -> None:
    scenario = scenario_module.Scenario(
        patients=patients, start=start, imaging_fraction=fraction, fhir_version=fhir_version,
        modality_mix=mix,  # type: ignore[arg-type]
    )  # fmt: skip
    text = yaml.dump(scenario.model_dump(mode="json"), Dumper=Dumper)
    assert scenario_module.parse_scenario(text, "s.yaml") == scenario


# ---- property: extends replaces by id in place and appends new ids -------------------------
rule_ids = st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=12,
                    unique=True)  # fmt: skip


@given(parent_ids=rule_ids, data=st.data())
@settings(max_examples=80, deadline=None)
def test_extends_merges_rules_by_id(parent_ids: list[str], data: st.DataObject) -> None:
    replaced = data.draw(st.lists(st.sampled_from(parent_ids), unique=True))
    added = data.draw(rule_ids.map(lambda ids: [f"new-{i}" for i in ids]))
    child_ids = data.draw(st.permutations([*replaced, *added]))
    shape = Shape(rule_lists={"rules": "id"}, extends=True)
    with tempfile.TemporaryDirectory() as folder:
        parent = {"name": "p", "rules": [{"id": i, "method": "parent"} for i in parent_ids]}
        child = {"extends": "p", "name": "c", "rules": [{"id": i, "method": "child"}
                                                         for i in child_ids]}  # fmt: skip
        (Path(folder) / "p.yaml").write_text(yaml.safe_dump(parent))
        (Path(folder) / "c.yaml").write_text(yaml.safe_dump(child))
        merged = read_document(Path(folder) / "c.yaml", shape)
    expected = [
        {"id": i, "method": "child" if i in replaced else "parent"} for i in parent_ids
    ] + [{"id": i, "method": "child"} for i in child_ids if i not in parent_ids]
    assert merged.data == {"name": "c", "rules": expected}
    assert merged.raw.count(b"\x00") == 1
