"""FHIR in and out: vital-sign Observations → readings, scores → RiskAssessment.

Inputs follow the FHIR vital-signs profile (US Core / R4-R5 ``Observation``): LOINC 9279-1
respiratory rate, 2708-6 or 59408-5 SpO2, 85354-9 BP panel with component 8480-6 systolic (or
a bare 8480-6), 8867-4 heart rate, 8310-5 body temperature in ``Cel`` or ``[degF]``, 3151-8
inhaled oxygen flow (> 0 L/min means on supplemental oxygen), 9269-2 GCS total, and ACVPU as
SNOMED CT 1104441000000107 with the level as the value (NHS NEWS2 FHIR guidance).

Laboratory results the SOFA-style lab components read (``clinflow.scoring.sofa``): lactate
2524-7 (serum/plasma) or 32693-4 (blood), creatinine 2160-0 (mass) or 14682-9 (moles), total
bilirubin 1975-2 (mass) or 14631-6 (moles), platelets 777-3, leukocytes 6690-2. A lab result
must say its unit; it is converted to one canonical unit per analyte (lactate mmol/L,
creatinine and bilirubin mg/dL, counts 10^3/uL): µmol/L creatinine / 88.4, µmol/L bilirubin
/ 17.1, lactate mg/dL / 9.008, 10^9/L = 10^3/uL, /uL / 1000. An unknown unit is refused.

Parsing is a plain-dict fast path (no fhir.resources model per reading: this is the scoring hot
path); outputs are validated against fhir.resources R5 in the tests. Errors are
``InputRejected`` naming the location (``entry[2].resource.valueQuantity.code``), never the
value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from clinflow.errors import InputRejected
from clinflow.scoring.vitals import (
    Consciousness,
    Parameter,
    Reading,
    fahrenheit_to_celsius,
)

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ACVPU_CODE = "1104441000000107"
NEWS2_TOTAL_CODE = "1104051000000101"
SYSTOLIC_CODE = "8480-6"
DIASTOLIC_CODE = "8462-4"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
BP_PANEL_CODE = "85354-9"

# LOINC code → parameter for single-valued vital signs (FHIR vital-signs profile).
LOINC_PARAMETERS: dict[str, Parameter] = {
    "9279-1": Parameter.RESPIRATORY_RATE,
    "2708-6": Parameter.SPO2,
    "59408-5": Parameter.SPO2,
    "8867-4": Parameter.HEART_RATE,
    "8310-5": Parameter.TEMPERATURE,
    "3151-8": Parameter.SUPPLEMENTAL_OXYGEN,
    "9269-2": Parameter.GCS,
    SYSTOLIC_CODE: Parameter.SYSTOLIC_BP,
}
# LOINC code -> laboratory parameter (SOFA-style components, lactate, leukocytes).
LAB_LOINC_PARAMETERS: dict[str, Parameter] = {
    "2524-7": Parameter.LACTATE,  # Lactate [Moles/volume] in Serum or Plasma
    "32693-4": Parameter.LACTATE,  # Lactate [Moles/volume] in Blood
    "2160-0": Parameter.CREATININE,  # Creatinine [Mass/volume] in Serum or Plasma
    "14682-9": Parameter.CREATININE,  # Creatinine [Moles/volume] in Serum or Plasma
    "777-3": Parameter.PLATELETS,  # Platelets [#/volume] in Blood by Automated count
    "1975-2": Parameter.BILIRUBIN,  # Bilirubin.total [Mass/volume] in Serum or Plasma
    "14631-6": Parameter.BILIRUBIN,  # Bilirubin.total [Moles/volume] in Serum or Plasma
    "6690-2": Parameter.WBC,  # Leukocytes [#/volume] in Blood by Automated count
}
# BP panel components read only inside a panel (MAP for the SOFA cardiovascular component).
_PANEL_ONLY_PARAMETERS: dict[str, Parameter] = {DIASTOLIC_CODE: Parameter.DIASTOLIC_BP}
# RxNorm ingredient -> vasoactive infusion (SOFA cardiovascular component).
RXNORM_VASOACTIVE: dict[str, Parameter] = {
    "7512": Parameter.NOREPINEPHRINE,
    "3992": Parameter.EPINEPHRINE,
    "3628": Parameter.DOPAMINE,
    "3616": Parameter.DOBUTAMINE,
}
# Dose-rate unit (micro sign as u, "mcg" as ug, case folded) -> factor to mcg/kg/min.
DOSE_RATE_FACTORS: dict[str, float] = {
    "ug/kg/min": 1.0,
    "ug/kg/h": 1 / 60,
    "mg/kg/min": 1000.0,
    "mg/kg/h": 1000 / 60,
    "ng/kg/min": 0.001,
}
_GIVEN_STATUS = frozenset({"in-progress", "completed"})
_COUNT_UNITS = {"10*3/ul": 1.0, "10^3/ul": 1.0, "10*9/l": 1.0, "10^9/l": 1.0, "k/ul": 1.0,
                "/ul": 0.001, "/mm3": 0.001, "{cells}/ul": 0.001}  # fmt: skip
# Per analyte: unit (micro sign as u, case folded) -> factor to the canonical unit.
LAB_UNIT_FACTORS: dict[Parameter, dict[str, float]] = {
    Parameter.LACTATE: {"mmol/l": 1.0, "mg/dl": 1 / 9.008},  # lactate 90.08 g/mol
    Parameter.CREATININE: {"mg/dl": 1.0, "umol/l": 1 / 88.4},  # 1 mg/dL = 88.4 umol/L
    Parameter.BILIRUBIN: {"mg/dl": 1.0, "umol/l": 1 / 17.1},  # 1 mg/dL = 17.1 umol/L
    Parameter.PLATELETS: _COUNT_UNITS,
    Parameter.WBC: _COUNT_UNITS,
}
# ACVPU values. The letter (``text``) or the words win; SNOMED finding codes are a fallback
# (sources disagree on some of them, so only unambiguous ones are listed).
_ACVPU_SNOMED_VALUES = {
    "248234008": Consciousness.ALERT,  # Mentally alert
    "1104081000000107": Consciousness.CONFUSION,  # New confusion
    "300202002": Consciousness.VOICE,  # Responds to voice
    "422768004": Consciousness.UNRESPONSIVE,  # Unresponsive
}
_ACVPU_WORDS = (
    ("unrespons", Consciousness.UNRESPONSIVE),
    ("pain", Consciousness.PAIN),
    ("voice", Consciousness.VOICE),
    ("confus", Consciousness.CONFUSION),
    ("alert", Consciousness.ALERT),
)
_UNITS: dict[Parameter, frozenset[str]] = {
    Parameter.RESPIRATORY_RATE: frozenset({"/min", "{breaths}/min", "breaths/min"}),
    Parameter.HEART_RATE: frozenset({"/min", "{beats}/min", "beats/min"}),
    Parameter.SPO2: frozenset({"%"}),
    Parameter.SYSTOLIC_BP: frozenset({"mm[Hg]", "mmHg"}),
    Parameter.DIASTOLIC_BP: frozenset({"mm[Hg]", "mmHg"}),
    Parameter.SUPPLEMENTAL_OXYGEN: frozenset({"L/min", "l/min"}),
    Parameter.GCS: frozenset({"{score}", "1", ""}),
}
_CELSIUS = frozenset({"Cel", "°C", "C"})
_FAHRENHEIT = frozenset({"[degF]", "°F", "F"})
_UNUSABLE_STATUS = frozenset({"entered-in-error", "cancelled", "registered"})


def observations_from_body(
    body: Any, location: str = "body"
) -> list[tuple[str, Mapping[str, Any]]]:
    """The Observations of a Bundle or JSON array, each with its location for error messages."""
    if isinstance(body, dict):
        if body.get("resourceType") in ("Observation", "MedicationAdministration"):
            return [(location, body)]
        if body.get("resourceType") != "Bundle":
            raise InputRejected("expected a Bundle, an Observation or an array", location)
        entries = body.get("entry") or []
        if not isinstance(entries, list):
            raise InputRejected("Bundle.entry must be an array", f"{location}.entry")
        out: list[tuple[str, Mapping[str, Any]]] = []
        for index, entry in enumerate(entries):
            where = f"{location}.entry[{index}].resource"
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                raise InputRejected("entry has no resource", where)
            out.append((where, resource))
        return out
    if isinstance(body, list):
        return [(f"{location}[{i}]", r) for i, r in enumerate(body)]
    raise InputRejected("expected a Bundle, an Observation or an array", location)


def _codings(concept: Any) -> Iterator[tuple[str, str]]:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or ():
            if isinstance(coding, dict):
                yield str(coding.get("system", "")), str(coding.get("code", ""))


@lru_cache(maxsize=65_536)
def _parse_instant(raw: str) -> datetime | None:
    """ISO 8601 date-time with zone, or None (cached: charting times repeat across vitals)."""
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _time(resource: Mapping[str, Any], where: str) -> datetime:
    raw = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    if raw is None:
        raise InputRejected("Observation has no effectiveDateTime", f"{where}.effectiveDateTime")
    when = _parse_instant(str(raw))
    if when is None:
        raise InputRejected(
            "not an ISO 8601 date-time with a time zone", f"{where}.effectiveDateTime"
        )
    return when


def _quantity(holder: Mapping[str, Any], parameter: Parameter, where: str) -> float:
    quantity = holder.get("valueQuantity")
    if not isinstance(quantity, dict) or "value" not in quantity:
        raise InputRejected("valueQuantity with a value is required", f"{where}.valueQuantity")
    value = quantity["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputRejected("valueQuantity.value must be a number", f"{where}.valueQuantity.value")
    unit = str(quantity.get("code") or quantity.get("unit") or "")
    number = float(value)
    factors = LAB_UNIT_FACTORS.get(parameter)
    if factors is not None:
        factor = _lab_factor(factors, unit, parameter, where)
        # converted values to 3 decimals: 176.8 umol/L is 2.0 mg/dL, not 1.9999999999999998
        return number if factor == 1.0 else round(number * factor, 3)
    if parameter is Parameter.TEMPERATURE:
        if unit in _FAHRENHEIT:
            return fahrenheit_to_celsius(number)
        if unit in _CELSIUS:
            return number
        raise InputRejected("temperature unit must be Cel or [degF]", f"{where}.valueQuantity.code")
    allowed = _UNITS.get(parameter)
    if allowed is not None and unit and unit not in allowed:
        raise InputRejected(f"unexpected unit for {parameter.value}", f"{where}.valueQuantity.code")
    return number


@lru_cache(maxsize=256)
def _folded_unit(unit: str) -> str:
    return unit.replace("\u00b5", "u").replace("\u03bc", "u").replace(" ", "").lower()


def _lab_factor(factors: dict[str, float], unit: str, parameter: Parameter, where: str) -> float:
    """Factor from ``unit`` to the analyte's canonical unit; a lab result without a unit, or
    with one we cannot convert, is refused (creatinine 2.0 and 176.8 differ by the unit)."""
    if not unit:
        raise InputRejected(
            f"a unit is required for {parameter.value}", f"{where}.valueQuantity.code"
        )
    factor = factors.get(_folded_unit(unit))
    if factor is None:
        raise InputRejected(f"unexpected unit for {parameter.value}", f"{where}.valueQuantity.code")
    return factor


def _acvpu(resource: Mapping[str, Any], where: str) -> Consciousness:
    concept = resource.get("valueCodeableConcept")
    texts: list[str] = []
    codes: list[str] = []
    if isinstance(concept, dict):
        texts.append(str(concept.get("text", "")))
        for coding in concept.get("coding") or ():
            if isinstance(coding, dict):
                codes.append(str(coding.get("code", "")))
                texts.append(str(coding.get("display", "")))
    if isinstance(resource.get("valueString"), str):
        texts.insert(0, resource["valueString"])
    for text in (*texts, *codes):
        stripped = text.strip()
        if len(stripped) == 1 and stripped.upper() in "ACVPU":
            return Consciousness(stripped.upper())
    for text in texts:
        lowered = text.lower()
        for word, level in _ACVPU_WORDS:
            if word in lowered:
                return level
    for code in codes:
        if code in _ACVPU_SNOMED_VALUES:
            return _ACVPU_SNOMED_VALUES[code]
    raise InputRejected("ACVPU value not recognised", f"{where}.valueCodeableConcept")


def parse_observation(resource: Mapping[str, Any], where: str = "Observation") -> list[Reading]:
    """Readings in one vital-sign or laboratory Observation (a BP panel yields its systolic
    component).

    Observations that are not vital signs or lab results used by the scores raise
    ``InputRejected``; entered-in-error or cancelled ones yield nothing.
    """
    if resource.get("resourceType") != "Observation":
        raise InputRejected("only Observation resources are accepted", f"{where}.resourceType")
    if resource.get("status") in _UNUSABLE_STATUS:
        return []
    source_id = str(resource.get("id") or "")
    if not source_id:
        raise InputRejected("Observation.id is required (lineage)", f"{where}.id")
    codes = list(_codings(resource.get("code")))
    when = _time(resource, where)
    for system, code in codes:
        if system == LOINC and code in LOINC_PARAMETERS:
            parameter = LOINC_PARAMETERS[code]
            value = _quantity(resource, parameter, where)
            if parameter is Parameter.SUPPLEMENTAL_OXYGEN:
                return [Reading(parameter, value > 0, when, source_id)]
            return [Reading(parameter, value, when, source_id)]
        if system == LOINC and code in (BP_PANEL_CODE, "85353-1"):
            return _components(resource, when, source_id, where)
        if system == SNOMED and code == ACVPU_CODE:
            return [Reading(Parameter.CONSCIOUSNESS, _acvpu(resource, where), when, source_id)]
        if system == LOINC and code in LAB_LOINC_PARAMETERS:
            parameter = LAB_LOINC_PARAMETERS[code]
            return [Reading(parameter, _quantity(resource, parameter, where), when, source_id)]
    raise InputRejected(
        "Observation code is not a vital sign or lab result used by this endpoint",
        f"{where}.code",
    )


def is_scored_observation(resource: Mapping[str, Any]) -> bool:
    """Whether an Observation carries a code the ICU scoring reads (a vital sign, the BP
    panel, ACVPU or one of the lab results): what a pipeline routes to the ICU endpoint."""
    if resource.get("resourceType") != "Observation":
        return False
    for system, code in _codings(resource.get("code")):
        if system == LOINC and (
            code in LOINC_PARAMETERS
            or code in LAB_LOINC_PARAMETERS
            or code in (BP_PANEL_CODE, "85353-1")
        ):
            return True
        if system == SNOMED and code == ACVPU_CODE:
            return True
    return False


def medication_codings(resource: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The medication codings of a MedicationAdministration: R4 ``medicationCodeableConcept``
    or R5 ``medication.concept`` (a CodeableReference)."""
    yield from _codings(resource.get("medicationCodeableConcept"))
    medication = resource.get("medication")
    if isinstance(medication, dict):
        yield from _codings(medication.get("concept"))


def is_scored_medication(resource: Mapping[str, Any]) -> bool:
    """Whether a MedicationAdministration is a vasoactive infusion the ICU scoring reads."""
    if resource.get("resourceType") != "MedicationAdministration":
        return False
    return any(s == RXNORM and c in RXNORM_VASOACTIVE for s, c in medication_codings(resource))


def _administration_time(resource: Mapping[str, Any], where: str) -> datetime:
    """effective[x] (R4) or occurence[x] (R5): the date-time, or the start of the period."""
    for prefix in ("effective", "occurence"):
        raw = resource.get(f"{prefix}DateTime")
        field_name = f"{prefix}DateTime"
        if raw is None:
            period = resource.get(f"{prefix}Period")
            raw = period.get("start") if isinstance(period, dict) else None
            field_name = f"{prefix}Period.start"
        if raw is not None:
            when = _parse_instant(str(raw))
            if when is None:
                raise InputRejected(
                    "not an ISO 8601 date-time with a time zone", f"{where}.{field_name}"
                )
            return when
    raise InputRejected(
        "MedicationAdministration has no effectiveDateTime or effectivePeriod.start",
        f"{where}.effective[x]",
    )


def _dose_rate(resource: Mapping[str, Any], where: str) -> float:
    """``dosage.rateQuantity`` in mcg/kg/min; a missing or unknown unit is refused."""
    dosage = resource.get("dosage")
    rate = dosage.get("rateQuantity") if isinstance(dosage, dict) else None
    location = f"{where}.dosage.rateQuantity"
    if not isinstance(rate, dict) or "value" not in rate:
        raise InputRejected("dosage.rateQuantity with a value is required", location)
    value = rate["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InputRejected("dose rate must be a non-negative number", f"{location}.value")
    unit = str(rate.get("code") or rate.get("unit") or "")
    if not unit:
        raise InputRejected("a unit is required for the dose rate", f"{location}.code")
    factor = DOSE_RATE_FACTORS.get(_folded_unit(unit).replace("mcg", "ug"))
    if factor is None:
        raise InputRejected("unexpected unit for the dose rate (weight-based rate required)",
                            f"{location}.code")  # fmt: skip
    return float(value) if factor == 1.0 else round(float(value) * factor, 4)


def parse_medication_administration(
    resource: Mapping[str, Any], where: str = "MedicationAdministration"
) -> list[Reading]:
    """The dose rate of one vasoactive infusion (norepinephrine, epinephrine, dopamine,
    dobutamine by RxNorm ingredient) as a reading in mcg/kg/min. Only ``in-progress`` and
    ``completed`` administrations count; any other status yields nothing."""
    if resource.get("resourceType") != "MedicationAdministration":
        raise InputRejected(
            "only MedicationAdministration resources are accepted", f"{where}.resourceType"
        )
    if resource.get("status") not in _GIVEN_STATUS:
        return []
    source_id = str(resource.get("id") or "")
    if not source_id:
        raise InputRejected("MedicationAdministration.id is required (lineage)", f"{where}.id")
    for system, code in medication_codings(resource):
        if system == RXNORM and code in RXNORM_VASOACTIVE:
            parameter = RXNORM_VASOACTIVE[code]
            when = _administration_time(resource, where)
            return [Reading(parameter, _dose_rate(resource, where), when, source_id)]
    raise InputRejected(
        "medication is not a vasoactive infusion used by this endpoint", f"{where}.medication"
    )


def parse_resource(resource: Mapping[str, Any], where: str = "resource") -> list[Reading]:
    """Readings in an Observation or a vasoactive MedicationAdministration."""
    if resource.get("resourceType") == "MedicationAdministration":
        return parse_medication_administration(resource, where)
    return parse_observation(resource, where)


def _components(
    resource: Mapping[str, Any], when: datetime, source_id: str, where: str
) -> list[Reading]:
    readings: list[Reading] = []
    for index, component in enumerate(resource.get("component") or ()):
        if not isinstance(component, dict):
            continue
        for system, code in _codings(component.get("code")):
            parameter = (
                LOINC_PARAMETERS.get(code) or _PANEL_ONLY_PARAMETERS.get(code)
                if system == LOINC
                else None
            )
            if parameter is not None and parameter is not Parameter.SUPPLEMENTAL_OXYGEN:
                value = _quantity(component, parameter, f"{where}.component[{index}]")
                readings.append(Reading(parameter, value, when, source_id))
                break
    if not readings:
        raise InputRejected("panel has no scorable component", f"{where}.component")
    return readings


def parse_observations(body: Any) -> list[Reading]:
    """All readings in a Bundle / array / single Observation, in time order."""
    readings: list[Reading] = []
    for where, resource in observations_from_body(body):
        readings.extend(parse_resource(resource, where))
    readings.sort(key=lambda r: r.time)
    return readings


def latest_by_parameter(readings: Iterable[Reading]) -> dict[Parameter, Reading]:
    """The most recent reading of each parameter (ties: the later one in input order)."""
    latest: dict[Parameter, Reading] = {}
    for reading in readings:
        current = latest.get(reading.parameter)
        if current is None or reading.time >= current.time:
            latest[reading.parameter] = reading
    return latest
