"""One surrogate generator for FHIR name parts and free text: consistent, never the original."""

from __future__ import annotations

import importlib

from hypothesis import given
from hypothesis import strategies as st

import clinflow.deid
from clinflow.deid.fhir.methods import Substitute
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.surrogates import SURROGATE_FAMILY, SURROGATE_GIVEN, surrogate_name
from clinflow.deid.text.engine import TextDeidentifier
from clinflow.deid.text.known import KnownIdentifiers

KEY = b"k" * 32
TITLES = {"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "nurse", "rn", "np"}
# a leading title ("Dr X") is kept as a title, not replaced as a given name
names = st.from_regex(r"[A-Z][a-z]{1,12}", fullmatch=True).filter(lambda n: n.lower() not in TITLES)


class _Ctx:
    def __init__(self, pseudonymizer: Pseudonymizer, patient_key: str) -> None:
        self.pseudonymizer = pseudonymizer
        self.patient_key = patient_key


def test_fhir_name_parts_and_text_share_one_surrogate() -> None:
    pseudonymizer = Pseudonymizer(KEY)
    ctx = _Ctx(pseudonymizer, "PT-1")
    patient = {"name": [{"family": "Hagenes547", "given": ["Antonia30"]}]}
    given = Substitute({"surrogate": "given"}).operate("Antonia30", ctx)  # type: ignore[arg-type]
    family = Substitute({"surrogate": "family"}).operate("Hagenes547", ctx)  # type: ignore[arg-type]
    known = KnownIdentifiers()
    known.add_from_patient(patient)
    note = TextDeidentifier(pseudonymizer).deidentify("Seen: Antonia Hagenes.", "PT-1", known).text
    assert f"{given} {family}" in note
    assert "Hagenes" not in note and "Antonia" not in note


def test_shape_is_kept() -> None:
    pseudonymizer = Pseudonymizer(KEY)
    plain = surrogate_name(pseudonymizer, "PT-1", "Antonia Hagenes")
    inverted = surrogate_name(pseudonymizer, "PT-1", "HAGENES, Antonia")
    titled = surrogate_name(pseudonymizer, "PT-1", "Dr. Antonia Hagenes")
    fake_given, fake_family = plain.split()
    assert inverted == f"{fake_family.upper()}, {fake_given}"
    assert titled == f"Dr. {plain}"
    assert surrogate_name(pseudonymizer, "PT-1", "Hagenes") == fake_family


@given(given_name=names, family_name=names, scope=st.text(max_size=8))
def test_surrogate_is_deterministic_keyed_and_never_the_original(
    given_name: str, family_name: str, scope: str
) -> None:
    pseudonymizer = Pseudonymizer(KEY)
    original = f"{given_name} {family_name}"
    fake = surrogate_name(pseudonymizer, scope, original)
    assert fake == surrogate_name(pseudonymizer, scope, original.upper().title())
    fake_given, fake_family = fake.split()
    assert fake_given in SURROGATE_GIVEN and fake_family in SURROGATE_FAMILY
    assert fake_given.casefold() != given_name.casefold()
    assert fake_family.casefold() != family_name.casefold()


def test_surrogate_in_own_list_is_not_kept() -> None:
    pseudonymizer = Pseudonymizer(KEY)
    for name in SURROGATE_GIVEN:
        assert surrogate_name(pseudonymizer, "PT-1", name, "given") != name
    for name in SURROGATE_FAMILY:
        assert surrogate_name(pseudonymizer, "PT-1", name, "family") != name


def test_public_api_resolves() -> None:
    for name in clinflow.deid.__all__:
        assert getattr(clinflow.deid, name) is not None, name
    assert sorted(dir(clinflow.deid)) == sorted(clinflow.deid.__all__)
    assert sorted(clinflow.deid._EXPORTS) == clinflow.deid.__all__
    importlib.reload(clinflow.deid)
