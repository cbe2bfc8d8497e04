"""Policy loading: bad rules are refused with the file, rule and field named; shipped
policies load; property: no element a non-keep rule selects keeps its original value."""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.fhir.engine import FhirDeidentifier
from clinflow.deid.fhir.policy import load_policy, parse_policy
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import PolicyError

KEY = bytes(range(32))


@pytest.mark.parametrize("name", ["safe-harbor", "limited-data-set"])
def test_shipped_policies_load(name: str) -> None:
    policy = load_policy(name)
    assert policy.name == name and len(policy.rules) > 100 and len(policy.digest) == 64


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ("{id: r1, path: Patient.name, method: scramble}", "method"),
        ("{id: r1, path: 'Patient..name', method: redact}", "path"),
        ("{id: r1, path: 'patient name', method: redact}", "path"),
        ("{id: r1, type: 'Human Name', method: redact}", "type"),
        ("{id: r1, fhirpath: 'Patient.name.where(', method: redact}", "fhirpath"),
        ("{id: r1, path: Patient.name, type: HumanName, method: redact}", "selector"),
        ("{id: r1, path: Patient.address, method: generalize, params: {to: zip9}}", "params"),
        ("{id: r1, path: Patient.id, method: cryptoHash, params: {salt: x}}", "params"),
        ("{id: r1, path: Patient.name, method: redact, colour: red}", "colour"),
    ],
)
def test_loader_names_the_rule_and_field(rule: str, field: str) -> None:
    text = f"name: t\nrules:\n  - {{path: Patient.gender, method: keep}}\n  - {rule}\n"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policies/fhir/test.yaml")
    message = str(caught.value)
    assert "policies/fhir/test.yaml" in message and "rule r1" in message
    if field != "selector":
        assert field in message


def test_unnamed_rule_is_named_by_position() -> None:
    with pytest.raises(PolicyError, match=r"rule #2: field method"):
        parse_policy("name: t\nrules:\n  - {path: Patient.gender, method: keep}\n"
                     "  - {path: Patient.name, method: nope}\n", "p.yaml")


_METHOD_NAMES = ["keep", "redact", "cryptoHash", "encrypt", "dateShift", "generalize",
                 "perturb", "substitute", "cleanText"]


@given(st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
       .filter(lambda name: name not in _METHOD_NAMES))
@settings(max_examples=40, deadline=None)
def test_any_unknown_method_is_refused(method: str) -> None:
    with pytest.raises(PolicyError, match="rule bad: field method"):
        parse_policy(f"name: t\nrules:\n  - {{id: bad, path: Patient.name, method: {method}}}\n")


@given(st.text(alphabet=string.ascii_letters + "[]()/ -#.", min_size=1, max_size=20)
       .filter(lambda p: not __import__("re").fullmatch(
           r"(?:[A-Z][A-Za-z0-9]*|\*)(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\*))+", p)))
@settings(max_examples=60, deadline=None)
def test_any_malformed_path_is_refused(path: str) -> None:
    quoted = path.replace("'", "''")
    with pytest.raises(PolicyError, match="rule bad"):
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
