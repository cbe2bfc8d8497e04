"""Property: under the shipped Safe Harbor policy no planted identifier survives, whatever it
looks like, in the Patient or in a note about them."""

from __future__ import annotations

import base64
import string
from datetime import date

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.fhir.engine import build_fhir_deidentifier
from clinflow.deid.fhir.policy import load_policy
from clinflow.deid.pseudonym import Pseudonymizer

POLICY = load_policy("safe-harbor")
KEY = bytes(range(32))

word = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=1).flatmap(
    lambda first: st.text(alphabet=string.ascii_lowercase + "éöñ", min_size=4, max_size=10)
    .map(lambda rest: first + rest))


@given(
    given_name=word, family=word, city=word, street=word,
    mrn=st.from_regex(r"[0-9]{7,9}", fullmatch=True),
    ssn=st.from_regex(r"[1-8][0-9]{2}-[0-9]{2}-[0-9]{4}", fullmatch=True),
    phone=st.from_regex(r"\([2-9][0-9]{2}\) 555-01[0-9]{2}", fullmatch=True),
    birth=st.dates(min_value=date(1920, 1, 1), max_value=date(2020, 12, 31)),
)
@settings(max_examples=40, deadline=None)
def test_safe_harbor_removes_every_identifier(
    given_name: str, family: str, city: str, street: str, mrn: str, ssn: str, phone: str,
    birth: date,
) -> None:
    engine = build_fhir_deidentifier(Pseudonymizer(KEY), policy=POLICY, as_of=date(2026, 1, 1))
    email = f"{given_name.lower()}.{family.lower()}@example.org"
    patient = {
        "resourceType": "Patient", "id": "p-1",
        "identifier": [
            {"type": {"coding": [{"code": "MR"}]}, "value": mrn},
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn},
        ],
        "name": [{"family": family, "given": [given_name]}],
        "telecom": [{"system": "phone", "value": phone}, {"system": "email", "value": email}],
        "birthDate": birth.isoformat(),
        "address": [{"line": [f"12 {street} Street"], "city": city, "state": "MA",
                     "postalCode": "02139"}],
    }
    note = (f"{family.upper()}, {given_name} (MRN {mrn}, SSN {ssn}) born "
            f"{birth.month}/{birth.day}/{birth.year}, lives at 12 {street} Street, {city}. "
            f"Call {phone} or {email}. Mr. {family} agreed.")
    document = {
        "resourceType": "DocumentReference", "id": "d-1", "status": "current",
        "subject": {"reference": "Patient/p-1"},
        "content": [{"attachment": {"contentType": "text/plain",
                                    "data": base64.b64encode(note.encode()).decode()}}],
    }
    engine.index.add(patient)
    out_patient, _ = engine.deidentify_resource(patient)
    out_document, _ = engine.deidentify_resource(document)
    text = orjson.dumps([out_patient, out_document]).decode() + base64.b64decode(
        out_document["content"][0]["attachment"]["data"]).decode()
    for value in (given_name, family, city, street, mrn, ssn, phone, email,
                  birth.isoformat(), ssn.replace("-", "")):
        assert value.lower() not in text.lower(), value
