"""Policy loading: bad rules are refused as file:line: rule: field; shipped policies load;
limited-data-set is safe-harbor plus overrides (extends) and equals the old full file;
property: no element a non-keep rule selects keeps its original value."""

from __future__ import annotations

import string
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.fhir.engine import FhirDeidentifier
from clinflow.deid.fhir.policy import POLICY_DIR, SHAPE, Policy, load_policy, parse_policy
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import PolicyError
from clinflow.policy_loader import read_document

KEY = bytes(range(32))


@pytest.mark.parametrize("name", ["safe-harbor", "limited-data-set"])
def test_shipped_policies_load(name: str) -> None:
    policy = load_policy(name)
    assert policy.name == name and len(policy.rules) > 100 and len(policy.digest) == 64


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        ("{id: r1, path: Patient.name, method: scramble}", "method", "unknown method 'scramble'"),
        ("{id: r1, path: 'Patient..name', method: redact}", "path", "malformed path"),
        ("{id: r1, path: 'patient name', method: redact}", "path", "malformed path"),
        ("{id: r1, type: 'Human Name', method: redact}", "type", "malformed type"),
        ("{id: r1, fhirpath: 'Patient.name.where(', method: redact}", "fhirpath", "malformed"),
        ("{id: r1, path: Patient.name, type: HumanName, method: redact}", "-",
         "Value error, needs exactly one selector"),
        ("{id: r1, path: Patient.address, method: generalize, params: {to: zip9}}", "params",
         "generalize needs to:"),
        ("{id: r1, path: Patient.id, method: cryptoHash, params: {salt: x}}", "params", ""),
        ("{id: r1, path: Patient.name, method: redact, colour: red}", "colour", "unknown field"),
    ],
)  # fmt: skip
def test_loader_names_the_line_rule_and_field(rule: str, field: str, message: str) -> None:
    text = f"name: t\nrules:\n  - {{path: Patient.gender, method: keep}}\n  - {rule}\n"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policies/fhir/test.yaml")
    assert str(caught.value).startswith(f"policies/fhir/test.yaml:4: r1: {field}: {message}")


def test_unnamed_rule_is_named_by_position() -> None:
    with pytest.raises(PolicyError, match=r"^p\.yaml:4: #2: method: unknown method 'nope'"):
        parse_policy("name: t\nrules:\n  - {path: Patient.gender, method: keep}\n"
                     "  - {path: Patient.name, method: nope}\n", "p.yaml")


# ---- extends: limited-data-set is safe-harbor with overrides ---------------------------
# The limited data set as one full file, before it became an override of safe-harbor.
LIMITED_FULL = Path(__file__).parent / "data" / "limited-data-set-full.yaml"


def _signature(policy: Policy) -> list[tuple[object, ...]]:
    return [
        (rule.name, rule.kind, rule.selector, rule.resource, type(rule.method).__name__,
         rule.params, rule.generic)
        for rule in policy.rules
    ]  # fmt: skip


def test_limited_data_set_merges_to_the_old_full_rule_list() -> None:
    merged = read_document(POLICY_DIR / "limited-data-set.yaml", SHAPE)
    full = yaml.safe_load(LIMITED_FULL.read_text(encoding="utf-8"))
    assert merged.data == full  # same name, description, unknown and rules in the same order
    assert [Path(f).name for f in merged.files] == ["safe-harbor.yaml", "limited-data-set.yaml"]
    new, old = load_policy("limited-data-set"), load_policy(LIMITED_FULL)
    assert (new.name, new.unknown) == (old.name, old.unknown)
    assert _signature(new) == _signature(old)


def test_override_file_is_small() -> None:
    text = (POLICY_DIR / "limited-data-set.yaml").read_text(encoding="utf-8")
    assert "extends: safe-harbor" in text
    assert len(yaml.safe_load(text)["rules"]) < 20 < len(load_policy("safe-harbor").rules)


def test_errors_in_inherited_rules_point_at_the_parent_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "name: base\nrules:\n  - {id: a, path: Patient.gender, method: keep}\n"
        "  - {id: b, path: Patient.name, method: nope}\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: base\nname: child\nrules:\n  - {id: a, path: Patient.id, method: redact}\n"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(child)
    assert str(caught.value).startswith(f"{tmp_path / 'base.yaml'}:4: b: method: unknown method")


@pytest.mark.parametrize(
    ("files", "located"),
    [
        ({"a.yaml": "extends: b\nname: a\nrules: []\n",
          "b.yaml": "name: b\nrules: []\nextends: a\n"},
         "b.yaml:3: -: extends: forms a cycle: a.yaml -> b.yaml -> a.yaml"),
        ({"a.yaml": "name: a\nextends: a.yaml\nrules: []\n"},
         "a.yaml:2: -: extends: forms a cycle: a.yaml -> a.yaml"),
        ({"a.yaml": "name: a\nrules: []\nextends: no-such-policy\n"},
         "a.yaml:3: -: extends: unknown parent policy 'no-such-policy'"),
        ({"a.yaml": "extends: [safe-harbor]\nname: a\nrules: []\n"},
         "a.yaml:1: -: extends: must name a parent policy"),
        ({"a.yaml": "extends: safe-harbor\nname: a\nrules:\n"
                    "  - {id: x, after: no-such-rule, path: Patient.id, method: keep}\n"},
         "a.yaml:4: x: after: no rule with id 'no-such-rule'"),
        ({"a.yaml": "extends: safe-harbor\nname: a\nrules:\n"
                    "  - {id: x, path: Patient.id, method: keep}\n"
                    "  - {id: x, path: Patient.gender, method: keep}\n"},
         "a.yaml:5: x: id: duplicate id (first at line 4)"),
        ({"a.yaml": "name: a\nrules:\n  - {id: x, before: y, path: Patient.id, method: keep}\n"},
         "a.yaml:3: x: before: unknown field"),
    ],
)  # fmt: skip
def test_extends_errors_have_the_one_format(
    tmp_path: Path, files: dict[str, str], located: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "a.yaml")
    assert str(caught.value) == f"{tmp_path}/{located}"


def test_child_rules_replace_in_place_or_are_placed_as_they_say(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "name: base\nunknown: redact\nrules:\n"
        "  - {id: a, path: Patient.gender, method: keep}\n"
        "  - {id: b, path: Patient.name, method: redact}\n"
        "  - {id: c, path: Patient.id, method: cryptoHash}\n"
    )
    (tmp_path / "child.yaml").write_text(
        "extends: base.yaml\nname: child\nunknown: keep\nrules:\n"
        "  - {id: b, path: Patient.name, method: keep}\n"          # replaced in place
        "  - {id: d, path: Patient.active, method: keep}\n"        # appended
        "  - {id: e, before: a, path: Patient.photo, method: redact}\n"
        "  - {id: c, after: a, path: Patient.id, method: redact}\n"  # moved
    )  # fmt: skip
    policy = load_policy(tmp_path / "child.yaml")
    assert (policy.name, policy.unknown) == ("child", "keep")
    assert [rule.name for rule in policy.rules] == ["e", "a", "c", "b", "d"]
    assert [type(rule.method).__name__ for rule in policy.rules] == [
        "Redact", "Keep", "Redact", "Keep", "Keep"
    ]  # fmt: skip
    parent = load_policy(tmp_path / "base.yaml")
    assert policy.digest != parent.digest


_METHOD_NAMES = ["keep", "redact", "cryptoHash", "encrypt", "dateShift", "generalize",
                 "perturb", "substitute", "cleanText"]


@given(st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
       .filter(lambda name: name not in _METHOD_NAMES))
@settings(max_examples=40, deadline=None)
def test_any_unknown_method_is_refused(method: str) -> None:
    # YAML reads some bare words (no, On, NULL) as booleans or null: not a string at all
    expected = r"^<policy>:3: bad: method: (unknown method |Input should be a valid string$)"
    with pytest.raises(PolicyError, match=expected):
        parse_policy(f"name: t\nrules:\n  - {{id: bad, path: Patient.name, method: {method}}}\n")


@given(st.text(alphabet=string.ascii_letters + "[]()/ -#.", min_size=1, max_size=20)
       .filter(lambda p: not __import__("re").fullmatch(
           r"(?:[A-Z][A-Za-z0-9]*|\*)(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\*))+", p)))
@settings(max_examples=60, deadline=None)
def test_any_malformed_path_is_refused(path: str) -> None:
    quoted = path.replace("'", "''")
    with pytest.raises(PolicyError, match=r"^<policy>:3: bad: path: malformed path "):
        parse_policy(f"name: t\nrules:\n  - {{id: bad, path: '{quoted}', method: redact}}\n")


# ---- property: selected elements never keep their original value ----------------------
_POLICY = parse_policy("""
name: property
rules:
  - {id: id, path: "*.id", method: cryptoHash, params: {as: id}}
  - {id: given, path: Patient.name.given, method: substitute, params: {surrogate: given}}
  - {id: family, path: Patient.name.family, method: cryptoHash}
  - {id: phone, path: Patient.telecom.value, method: redact}
  - {id: birth, path: Patient.birthDate, method: dateShift}
  - {id: zip, path: Patient.address.postalCode, method: generalize, params: {to: zip3}}
  - {id: city, path: Patient.address.city, method: encrypt}
  - {id: weight, path: Patient.multipleBirthInteger, method: perturb, params: {absolute: 3}}
  - {id: note, path: Patient.extension.valueString, method: substitute, params: {value: "X"}}
""")

names = st.text(alphabet=string.ascii_letters + "äöüéß", min_size=2, max_size=15)


@given(
    given_name=names,
    family=names,
    phone=st.from_regex(r"\(\d{3}\) \d{3}-\d{4}", fullmatch=True),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    zip_code=st.from_regex(r"\d{5}", fullmatch=True),
    city=names,
    births=st.integers(min_value=1, max_value=9),
    note=names.filter(lambda n: n != "X"),
    mrn=st.from_regex(r"[0-9]{6,10}", fullmatch=True),
)
@settings(max_examples=60, deadline=None)
def test_no_selected_element_keeps_its_value(
    given_name: str, family: str, phone: str, birth: date, zip_code: str, city: str,
    births: int, note: str, mrn: str,
) -> None:
    patient = {
        "resourceType": "Patient", "id": "p1",
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": mrn}],
        "name": [{"given": [given_name], "family": family}],
        "telecom": [{"system": "phone", "value": phone}],
        "birthDate": birth.isoformat(),
        "address": [{"postalCode": zip_code, "city": city}],
        "multipleBirthInteger": births,
        "extension": [{"url": "http://example.org/x", "valueString": note}],
    }
    sealed: list[bytes] = []

    def sealer(patient_pseudonym: str, data: bytes, aad: bytes) -> bytes:
        sealed.append(data)
        return b"sealed:" + bytes(reversed(data))

    engine = FhirDeidentifier(_POLICY, Pseudonymizer(KEY), sealer=sealer)
    out, _ = engine.deidentify_resource(patient)
    assert out["id"] != "p1"
    name = out.get("name", [{}])[0]
    assert name.get("given", [None])[0] != given_name
    assert name.get("family") != family
    assert "telecom" not in out
    assert out["birthDate"] != birth.isoformat()
    assert out["address"][0]["postalCode"] != zip_code
    assert out["address"][0]["city"] != city and sealed == [city.encode()]
    assert out["multipleBirthInteger"] != births
    assert out.get("extension", [{}])[0].get("valueString") != note
    assert "identifier" not in out  # not allow-listed
