"""ORU^R01 laboratory results: a lab system's local codes and SI units become the LOINC codes
and UCUM units clinflow keeps (per-analyte conversions), in local time; unknown units refused."""

from __future__ import annotations

import pytest

from clinflow.ehr.hl7.fhir_map import validate_and_map
from clinflow.ehr.hl7.parser import HL7Error

LAB = (
    "MSH|^~\\&|CASCADELIS|CORE-LAB|CLINFLOW|CLINFLOW|20260105063000||ORU^R01|L0001|P|2.4\r"
    "PID|1||55501234^^^CASCADE^MR||Quist^Ona||19610304|F\r"
    + "|".join(["PV1", "1", "I", "ICU", *[""] * 15, "pat-9-enc"])
    + "\r"
    "ORC|RE|ORD1|FIL1\r"
    "OBR|1|ORD1|LAB-77|80048^Chemistry^L|||20260105060000\r"
    "ZLR|1|ANALYZER-3\r"
    "OBX|1|NM|LACT^Lactate^L||3.4|mmol/L|0.5-2.2|H|||F|||20260105061500\r"
    "NTE|1||Repeat advised\\.br\\Called to ward \\T\\ charted\r"
    "OBX|2|NM|CREAT^Creatinine^L||176.8|umol/L|||||F|||20260105061500\r"
    "OBX|3|NM|WBC^White cell count^L||14.2|K/uL|||||F|||20260105061500\r"
    "OBX|4|NM|PLT^Platelet count^L||95|K/uL|||||F|||20260105061500\r"
    "OBX|5|NM|TBIL^Bilirubin total^L||34.2|umol/L|||||F|||20260105061500\r"
)


def test_lab_results_map_to_loinc_and_ucum() -> None:
    mapped = validate_and_map(LAB)
    labs = {
        r["code"]["coding"][0]["code"]: r
        for r in mapped.resources
        if r["resourceType"] == "Observation"
    }
    values = {
        code: (r["valueQuantity"]["value"], r["valueQuantity"]["code"]) for code, r in labs.items()
    }
    assert values == {
        "2524-7": (3.4, "mmol/L"),
        "2160-0": (2.0, "mg/dL"),  # 176.8 umol/L / 88.4
        "6690-2": (14.2, "10*3/uL"),
        "777-3": (95, "10*3/uL"),
        "1975-2": (2.0, "mg/dL"),  # 34.2 umol/L / 17.1
    }
    for resource in labs.values():
        assert resource["category"][0]["coding"][0]["code"] == "laboratory"
        assert resource["effectiveDateTime"] == "2026-01-05T14:15:00Z"  # 06:15 Pacific
        assert resource["code"]["coding"][0]["system"] == "http://loinc.org"
        assert resource["encounter"] == {"reference": "Encounter/pat-9-enc"}
    assert labs["2524-7"]["id"] == "LAB-77-lactate"
    assert mapped.sender == "CASCADELIS/CORE-LAB" and mapped.vendor == "cascade-lab"


def test_standard_units_from_another_sender_pass_unchanged() -> None:
    text = LAB.replace("CASCADELIS", "OTHERLIS").replace("CREAT^Creatinine^L||176.8|umol/L",
                                                         "2160-0^^LN||2.0|mg/dL")  # fmt: skip
    text = "\r".join(s for s in text.split("\r") if not s.startswith("OBX|") or "2160-0" in s)
    mapped = validate_and_map(text)
    (creatinine,) = [r for r in mapped.resources if r["resourceType"] == "Observation"]
    assert creatinine["valueQuantity"] == {
        "value": 2.0, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("||176.8|umol/L|", "||176.8|mg%|"), "OBX[2]-6"),
        (("||95|K/uL|", "||many|K/uL|"), "OBX[4]-5"),
        (("|20260105061500\rNTE", "|20261305061500\rNTE"), "OBX[1]-14"),
    ],
)
def test_bad_lab_values_are_refused_naming_the_field(change: tuple[str, str], where: str) -> None:
    with pytest.raises(HL7Error) as caught:
        validate_and_map(LAB.replace(*change))
    assert caught.value.location == where
    assert "Quist" not in str(caught.value) and "55501234" not in str(caught.value)
