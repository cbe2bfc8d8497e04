"""Identifiers found by their own structure (clinflow.deid.text.checked_ids): DEA, NPI, VIN,
ISBT 128 unit numbers and GS1 UDIs. Every number here is invented (check digits computed by
the test, or published specimen values of the standards)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clinflow.deid.text.checked_ids import (
    checked_identifiers,
    dea_valid,
    gtin_valid,
    luhn_valid,
    npi_valid,
    vin_check_valid,
)


def _dea(prefix: str, six: str) -> str:
    d = [int(c) for c in six]
    check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
    return f"{prefix}{six}{check}"


def _npi(nine: str) -> str:
    for last in "0123456789":
        if luhn_valid("80840" + nine + last):
            return nine + last
    raise AssertionError("no Luhn digit")


def _gtin(thirteen: str) -> str:
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(thirteen)))
    return thirteen + str((10 - total % 10) % 10)


def _found(text: str) -> list[str]:
    return [text[s:e] for s, e in checked_identifiers(text)]


SIX = st.text(alphabet="0123456789", min_size=6, max_size=6)
NINE = st.text(alphabet="0123456789", min_size=9, max_size=9)


@given(SIX, st.sampled_from(["AB", "BK", "FM", "MZ", "G9"]))
def test_a_dea_number_with_its_check_digit_is_found(six: str, prefix: str) -> None:
    number = _dea(prefix, six)
    assert dea_valid(number)
    assert _found(f"Prescriber DEA {number}, refills 0") == [number]
    assert _found(f"signed {number}.") == [number]


@given(SIX, st.sampled_from(["AB", "FM"]), st.integers(1, 9))
def test_a_dea_number_with_a_wrong_check_digit_is_not(six: str, prefix: str, bump: int) -> None:
    good = _dea(prefix, six)
    bad = good[:-1] + str((int(good[-1]) + bump) % 10)
    assert not dea_valid(bad)
    assert bad not in _found(f"ref {bad} on file")


@given(NINE)
def test_a_labelled_npi_is_found_only_with_its_luhn_digit(nine: str) -> None:
    npi = _npi(nine)
    assert npi_valid(npi)
    assert _found(f"Ordering NPI: {npi}") == [npi]
    wrong = npi[:-1] + str((int(npi[-1]) + 1) % 10)
    assert not npi_valid(wrong)
    assert _found(f"Ordering NPI: {wrong}") == []


def test_published_specimen_values_pass() -> None:
    assert npi_valid("1234567893")  # the CMS specimen NPI
    assert vin_check_valid("1M8GDM9AXKP042788")  # the NHTSA specimen VIN
    assert gtin_valid("00012345678905")


def test_vins_by_check_digit_or_label() -> None:
    text = "Pt's car (VIN 1M8GDM9AXKP042788) towed; trailer VIN: 4T1BF1FK0CU512345 too"
    assert _found(text) == ["1M8GDM9AXKP042788", "4T1BF1FK0CU512345"]
    # the check digit alone finds it; a 17-character code with a wrong one needs the label
    assert _found("vehicle 1M8GDM9AXKP042788 released") == ["1M8GDM9AXKP042788"]
    assert _found("vehicle 1M8GDM9A1KP042788 released") == []
    # seventeen digits (a bank reference) or letters only are no VIN
    assert _found("ref 12345678901234567") == []


def test_isbt_unit_numbers() -> None:
    assert _found("Unit W1234 70 412233 K, O neg, hung 1410") == ["W1234 70 412233 K"]
    assert _found("PRBC unit X8812 91 000412 issued") == ["X8812 91 000412"]
    # written without spaces it needs a blood word nearby
    assert _found("Blood unit T558179000041 transfused") == ["T558179000041"]
    assert _found("Order Q1234 reference T558179000041") == []


def test_gs1_udi_strings() -> None:
    gtin = _gtin("0081234567890")
    text = f"Implant UDI: (01){gtin}(17)290331(10)LT4471(21)SN88120, lot on sticker"
    assert _found(text) == [f"(01){gtin}(17)290331(10)LT4471(21)SN88120"]
    wrong = gtin[:-1] + str((int(gtin[-1]) + 3) % 10)
    assert _found(f"UDI (01){wrong}(10)LT4471") == []


def test_ordinary_text_has_no_checked_ids() -> None:
    text = (
        "Na 138, K 4.1, Cr 1.02. Metoprolol 25 mg BID. ECG 2025-11-02 NSR. "
        "Dose 1234567 IU? no. Platelets 212000. Call back in 2 weeks."
    )
    assert _found(text) == []
