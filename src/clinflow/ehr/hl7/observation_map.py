"""ORU^R01 OBX -> FHIR R4 Observations: vital signs with the generator's LOINC codes and UCUM
units (``clinflow.ehr.hl7.vitals``), systolic and diastolic of one OBR as one blood-pressure
panel, other codes as laboratory Observations in the vendor's code system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clinflow.ehr.hl7 import vitals as v
from clinflow.ehr.hl7.parser import HL7Error, Message, Segment
from clinflow.ehr.hl7.profiles import UnitConversion, VendorProfile
from clinflow.ehr.hl7.values import fhir_time, hl7_number, hl7_time

RESULT_STATUS = {"F": "final", "C": "amended", "P": "preliminary", "R": "preliminary",
                 "W": "entered-in-error", "X": "cancelled", "I": "registered"}  # fmt: skip
NUMERIC_TYPES = frozenset({"NM", "SN"})
CODED_TYPES = frozenset({"CWE", "CE", "CNE"})
TEXT_TYPES = frozenset({"ST", "TX", "FT"})
# Constant parts are shared between resources (built once): mapped resources are read-only.
VITAL_CATEGORY = [{"coding": [{"system": v.OBSERVATION_CATEGORY, "code": "vital-signs"}]}]
LAB_CATEGORY = [{"coding": [{"system": v.OBSERVATION_CATEGORY, "code": "laboratory"}]}]


def observations(
    message: Message,
    profile: VendorProfile,
    subject: dict[str, str],
    encounter: dict[str, str] | None,
    key: str,
) -> list[dict[str, Any]]:
    message.require("OBR", "ORU^R01")
    out: list[dict[str, Any]] = []
    # OBX segments belong to the OBR before them
    group: list[Segment] = []
    current: Segment | None = None
    groups: list[tuple[Segment, list[Segment]]] = []
    for segment in message.segments:
        if segment.name == "OBR":
            if current is not None:
                groups.append((current, group))
            current, group = segment, []
        elif segment.name == "OBX":
            if current is None:
                raise HL7Error("OBX before any OBR", segment.where)
            group.append(segment)
    if current is not None:
        groups.append((current, group))
    if not any(obxs for _, obxs in groups):
        raise HL7Error("no OBX segment", "ORU^R01 OBX")
    tz = profile.tz
    has_encounter = encounter is not None
    for number, (obr, obxs) in enumerate(groups, start=1):
        stem = obr.value(3) or obr.value(2) or f"hl7-{key}-{number}"
        default_time = obr.value(7)
        bp: dict[str, tuple[int | float, str]] = {}
        bp_meta: tuple[str, str] | None = None
        for obx in obxs:
            fields = obx.fields
            plan_key = _plan_key(profile, fields)
            plan = _PLANS.get(plan_key)
            if plan is not None and plan.profile is profile:  # a numeric result seen before
                when_text = obx.value(14) or default_time
                if not when_text:
                    raise HL7Error(
                        "observation date/time missing (OBX-14 and OBR-7)", f"{obx.where}-14"
                    )
                when = fhir_time(when_text, tz)  # locations built only for an error
                if when is None:
                    when = hl7_time(when_text, tz, f"{obx.where}-14")  # raises
                text = obx.value(5)
                if not text:
                    raise HL7Error("observation value missing", f"{obx.where}-5")
                value = (
                    int(text)
                    if text.isdigit() and text.isascii()
                    else hl7_number(text, f"{obx.where}-5")
                )
                if plan.conversion is not None:
                    value = plan.conversion.to_ucum(value)
                if plan.bp:
                    bp[plan.code] = (value, plan.unit)
                    bp_meta = (when, plan.status)
                    continue
                resource: dict[str, Any] = {
                    "resourceType": "Observation",
                    "id": f"{stem}-{plan.suffix}",
                    "status": plan.status,
                    "category": plan.category,
                    "code": plan.concept,
                    "subject": subject,
                }
                if has_encounter:
                    resource["encounter"] = encounter
                resource["effectiveDateTime"] = when
                resource["valueQuantity"] = {
                    "value": value, "unit": plan.unit, "system": v.UCUM, "code": plan.unit
                }  # fmt: skip
                out.append(resource)
                continue
            where = obx.where
            local = obx.value(3)
            if not local:
                raise HL7Error("observation identifier missing", f"{where}-3")
            code = profile.canonical_code(local)
            status_code = obx.value(11) or "F"
            if status_code not in RESULT_STATUS:
                raise HL7Error("result status not in HL7 table 0085", f"{where}-11")
            when_text = obx.value(14) or default_time
            if not when_text:
                raise HL7Error("observation date/time missing (OBX-14 and OBR-7)", f"{where}-14")
            when = hl7_time(when_text, tz, f"{where}-14")
            value_type = obx.value(2)
            if code in (v.SYSTOLIC, v.DIASTOLIC):
                bp[code] = _quantity_value(obx, code, profile, value_type)
                bp_meta = (when, RESULT_STATUS[status_code])
                _remember(plan_key, profile, obx, code, RESULT_STATUS[status_code], None)
                continue
            vital = v.VITAL_BY_CODE.get(code)
            known = vital or v.LAB_BY_CODE.get(code)
            resource = {
                "resourceType": "Observation",
                "id": f"{stem}-{known.key}" if known else f"{stem}-{obx.value(1) or where}",
                "status": RESULT_STATUS[status_code],
                "category": VITAL_CATEGORY if vital else LAB_CATEGORY,
                "code": v.codeable(known.codings) if known else _local_code(obx, profile),
                "subject": subject,
            }
            if encounter is not None:
                resource["encounter"] = encounter
            resource["effectiveDateTime"] = when
            resource.update(_value(obx, code, profile, value_type, known))
            out.append(resource)
            if known is not None and "valueQuantity" in resource:
                _remember(plan_key, profile, obx, code, resource["status"], known)
        if bp:
            assert bp_meta is not None
            out.append(_bp_panel(stem, bp, bp_meta, subject, encounter))
    return out


# ---------------------------------------------------------------------------- plans
# What a numeric OBX of a known code maps to depends only on the sender's dialect and the raw
# OBX-2 (value type), OBX-3 (code), OBX-6 (unit) and OBX-11 (status): a feed repeats a handful
# of them. Once one has mapped, later ones skip the code, status, unit and concept lookups
# (the message's own value and time are still read and checked, with the same errors).


@dataclass(frozen=True, slots=True)
class _Plan:
    profile: VendorProfile  # held: the key's id(profile) cannot be reused while cached
    code: str
    status: str
    bp: bool  # a systolic / diastolic component of the blood-pressure panel
    suffix: str  # the Observation id's suffix (the vital's or lab's key)
    category: list[dict[str, Any]]
    concept: dict[str, Any]
    conversion: UnitConversion | None
    unit: str


PLAN_CACHE_SIZE = 4096
_PLANS: dict[tuple[int, str, str, str, str], _Plan] = {}


def _plan_key(profile: VendorProfile, fields: list[str]) -> tuple[int, str, str, str, str]:
    count = len(fields)
    return (
        id(profile),
        fields[2] if count > 2 else "",
        fields[3] if count > 3 else "",
        fields[6] if count > 6 else "",
        fields[11] if count > 11 else "",
    )


def _remember(
    plan_key: tuple[int, str, str, str, str],
    profile: VendorProfile,
    obx: Segment,
    code: str,
    status: str,
    known: v.Vital | None,
) -> None:
    """Keep the plan of a numeric OBX that has just mapped (its unit is known to be valid)."""
    conversion, unit = _unit_plan(obx, code, profile)
    if len(_PLANS) >= PLAN_CACHE_SIZE:
        del _PLANS[next(iter(_PLANS))]
    if known is None:  # a blood-pressure component: the panel is built per OBR
        _PLANS[plan_key] = _Plan(profile, code, status, True, "", [], {}, conversion, unit)
        return
    category = VITAL_CATEGORY if code in v.VITAL_BY_CODE else LAB_CATEGORY
    concept = v.codeable(known.codings)
    _PLANS[plan_key] = _Plan(
        profile, code, status, False, known.key, category, concept, conversion, unit
    )


def _local_code(obx: Segment, profile: VendorProfile) -> dict[str, Any]:
    comps = obx.components(3) + ["", "", ""]
    code = profile.canonical_code(comps[0])
    system = v.V2_SYSTEMS.get(comps[2], f"urn:clinflow:hl7v2:{profile.vendor}")
    coding = {"system": system, "code": code}
    if comps[1]:
        coding["display"] = comps[1]
    return {"coding": [coding]}


def _quantity_value(
    obx: Segment, code: str, profile: VendorProfile, value_type: str
) -> tuple[int | float, str]:
    where = obx.where
    if value_type not in NUMERIC_TYPES:
        raise HL7Error("numeric value type (NM) expected", f"{where}-2")
    text = obx.value(5)
    if not text:
        raise HL7Error("observation value missing", f"{where}-5")
    number = hl7_number(text, f"{where}-5")
    conversion, unit = _unit_plan(obx, code, profile)
    return (conversion.to_ucum(number) if conversion is not None else number), unit


def _unit_plan(
    obx: Segment, code: str, profile: VendorProfile
) -> tuple[UnitConversion | None, str]:
    """(the conversion to apply or None, the UCUM unit kept) for OBX-6 of ``code``; a unit
    neither expected nor converted by the dialect is an error naming OBX-6."""
    unit = obx.value(6)
    entry = profile.observations.get(obx.value(3))
    conversion = profile.units.get(unit)
    if entry is not None and entry.conversion is not None and unit == entry.unit:
        conversion = entry.conversion  # this code's own conversion (umol/L differs per analyte)
    if conversion is not None:
        return conversion, conversion.ucum
    expected = v.UNIT_OF_CODE.get(code)
    if expected is not None and unit != expected:
        raise HL7Error(
            "unit not known for this observation (no vendor conversion)", f"{obx.where}-6"
        )
    return None, unit


def _value(
    obx: Segment, code: str, profile: VendorProfile, value_type: str, vital: v.Vital | None
) -> dict[str, Any]:
    where = obx.where
    if value_type in CODED_TYPES:
        comps = obx.components(5) + [""] * 9
        if not comps[0]:
            raise HL7Error("coded value missing", f"{where}-5")
        coding = {"system": v.V2_SYSTEMS.get(comps[2], comps[2] or "urn:clinflow:local"),
                  "code": comps[0]}  # fmt: skip
        if comps[1]:
            coding["display"] = comps[1]
        concept: dict[str, Any] = {"coding": [coding]}
        if comps[8]:
            concept["text"] = comps[8]
        return {"valueCodeableConcept": concept}
    if value_type in TEXT_TYPES:
        return {"valueString": obx.value(5)}
    if vital is not None and vital.unit is None:
        raise HL7Error("coded value type (CWE) expected", f"{where}-2")
    number, unit = _quantity_value(obx, code, profile, value_type)
    return {"valueQuantity": {"value": number, "unit": unit, "system": v.UCUM, "code": unit}}


def _bp_panel(
    stem: str,
    bp: dict[str, tuple[int | float, str]],
    meta: tuple[str, str],
    subject: dict[str, str],
    encounter: dict[str, str] | None,
) -> dict[str, Any]:
    when, status = meta
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{stem}-bp",
        "status": status,
        "category": VITAL_CATEGORY,
        "code": v.codeable(v.BP_CODING),
        "subject": subject,
    }
    if encounter is not None:
        resource["encounter"] = encounter
    resource["effectiveDateTime"] = when
    resource["component"] = [
        {
            "code": v.codeable(v.BP_COMPONENTS[code]),
            "valueQuantity": {"value": value, "unit": unit, "system": v.UCUM, "code": unit},
        }
        for code in (v.SYSTOLIC, v.DIASTOLIC)
        if code in bp
        for value, unit in (bp[code],)
    ]
    return resource
