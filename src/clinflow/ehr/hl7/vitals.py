"""The canonical vital signs of an HL7 v2 feed and the FHIR code each becomes.

The same codes and UCUM units the synthetic generator writes (``clinflow.synthetic.fhir.vitals``,
FHIR vital-signs profile, /work/shared/REFERENCE.md): heart rate 8867-4 ``/min``,
respiratory rate 9279-1 ``/min``, SpO2 2708-6 / 59408-5 ``%``, systolic 8480-6 and diastolic
8462-4 ``mm[Hg]`` (one blood-pressure panel 85354-9 in FHIR, two OBX in v2, as monitors send
them), body temperature 8310-5 ``Cel``, inhaled O2 flow 3151-8 ``L/min`` and ACVPU (SNOMED CT
1104441000000107, NHS NEWS2 FHIR guidance). The round-trip test checks these against the
generator's own output. Laboratory results (lactate 2524-7 ``mmol/L`` as in REFERENCE.md,
creatinine 2160-0 and total bilirubin 1975-2 ``mg/dL``, leukocytes 6690-2 and platelets 777-3
``10*3/uL``; lactate in blood 32693-4, creatinine 14682-9 and bilirubin 14631-6 in ``umol/L``)
map the same way with category ``laboratory``; ICU scoring reads them
(``clinflow.scoring.sofa``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
BP_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
ACVPU = "1104441000000107"

# v2 coding-system names (HL7 table 0396) <-> FHIR system URIs
V2_SYSTEMS = {"LN": LOINC, "SCT": SNOMED, "SNM": SNOMED, "UCUM": UCUM}
FHIR_SYSTEMS = {LOINC: "LN", SNOMED: "SCT"}


@dataclass(frozen=True, slots=True)
class Vital:
    """One vital sign: the key the generator uses in Observation ids, its FHIR codings, the
    UCUM unit (None for coded values) and the v2 code the generator sends in OBX-3."""

    key: str
    codings: tuple[tuple[str, str, str], ...]  # (system, code, display)
    unit: str | None
    v2_code: str
    v2_system: str = "LN"


def _loinc(key: str, code: str, display: str, unit: str) -> Vital:
    """A measurement with one LOINC coding, sent in v2 under that same code."""
    return Vital(key, ((LOINC, code, display),), unit, code)


VITALS: tuple[Vital, ...] = (
    _loinc("hr", "8867-4", "Heart rate", "/min"),
    _loinc("rr", "9279-1", "Respiratory rate", "/min"),
    Vital("spo2", ((LOINC, "2708-6", "Oxygen saturation"), (LOINC, "59408-5", "")), "%", "59408-5"),
    _loinc("temp", "8310-5", "Body temperature", "Cel"),
    Vital(
        "acvpu",
        ((SNOMED, ACVPU, "ACVPU (Alert Confusion Voice Pain Unresponsive) scale"),),
        None,
        ACVPU,
        "SCT",
    ),
    _loinc("o2", "3151-8", "Inhaled oxygen flow rate", "L/min"),
)
BP_CODING = ((LOINC, BP_PANEL, "Blood pressure panel"),)
BP_COMPONENTS = {
    SYSTOLIC: ((LOINC, SYSTOLIC, "Systolic blood pressure"),),
    DIASTOLIC: ((LOINC, DIASTOLIC, "Diastolic blood pressure"),),
}
BP_UNIT = "mm[Hg]"

# Laboratory results a deterioration score reads (SOFA-style components): LOINC, UCUM.
LABS: tuple[Vital, ...] = (
    _loinc("lactate", "2524-7", "Lactate [Moles/volume] in Serum or Plasma", "mmol/L"),
    _loinc("creatinine", "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL"),
    _loinc("wbc", "6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL"),
    _loinc("platelets", "777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL"),
    _loinc("bilirubin", "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL"),
    # the same analytes as other senders code them: lactate in whole blood (point of care,
    # blood gas analysers), creatinine and bilirubin in SI (moles/volume) units
    _loinc("lactate-blood", "32693-4", "Lactate [Moles/volume] in Blood", "mmol/L"),
    _loinc("creatinine-si", "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L"),
    _loinc(
        "bilirubin-si", "14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma", "umol/L"
    ),
)

# canonical OBX-3 code -> the vital it is (both SpO2 codes are the same vital)
VITAL_BY_CODE: dict[str, Vital] = {code: v for v in VITALS for _, code, _ in v.codings}
LAB_BY_CODE: dict[str, Vital] = {code: lab for lab in LABS for _, code, _ in lab.codings}
# units a canonical code accepts without a vendor conversion
UNIT_OF_CODE: dict[str, str] = {
    **{code: v.unit for code, v in VITAL_BY_CODE.items() if v.unit is not None},
    **{code: lab.unit for code, lab in LAB_BY_CODE.items() if lab.unit is not None},
    SYSTOLIC: BP_UNIT,
    DIASTOLIC: BP_UNIT,
}


@cache
def codeable(codings: tuple[tuple[str, str, str], ...]) -> dict[str, object]:
    """A CodeableConcept as the generator writes it (display only where it has one); built
    once per code and shared: read-only."""
    return {
        "coding": [
            {"system": s, "code": c, "display": d} if d else {"system": s, "code": c}
            for s, c, d in codings
        ]
    }
