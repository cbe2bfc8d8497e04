"""One MRN rule and one pseudonym pattern for ingest, consent, de-identification and the APIs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.consent.api import PSEUDONYM_PATTERN as CONSENT_API_PATTERN
from clinflow.deid.fhir.index import PatientIndex
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.patient_ids import PSEUDONYM_RE, patient_mrn


def _patient(code: str, value: str = "MRN-001") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "871-01-7483"},
            {"type": {"coding": [{"code": code}]}, "value": value},
        ],
    }


@pytest.mark.parametrize("code", ["MR", "MRN"])
def test_mr_and_mrn_type_codes_are_one_rule_everywhere(code: str) -> None:
    patient = _patient(code)
    assert patient_mrn(patient) == "MRN-001"
    index = PatientIndex()
    index.add(patient)
    assert index.patient_keys["p1"] == "MRN-001"  # the FHIR de-identifier keys by the same MRN


def test_other_identifier_types_are_not_an_mrn() -> None:
    assert patient_mrn(_patient("SS")) is None
    assert patient_mrn(_patient("MR", value="")) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@given(identifier=json_values)
def test_malformed_identifiers_never_raise(identifier: Any) -> None:
    result = patient_mrn({"identifier": identifier})
    assert result is None or isinstance(result, str)


def test_pseudonyms_match_the_one_pattern() -> None:
    pseudonym = Pseudonymizer(b"k" * 32).patient_pseudonym("MRN-001")
    assert PSEUDONYM_RE.match(pseudonym)
    assert CONSENT_API_PATTERN == PSEUDONYM_RE.pattern
    for not_a_pseudonym in ("MRN-001", "PT-XYZ", "pt-0123456789", "Antonia Hagenes", "871-01-7483"):
        assert not PSEUDONYM_RE.match(not_a_pseudonym)
