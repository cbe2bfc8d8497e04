"""HL7 v2 RAS^O17 (pharmacy administration) -> FHIR R4 MedicationAdministration.

A pump or eMAR sends one RAS^O17 per administration record: ORC (order), RXA (what was given)
and RXR (route). One MedicationAdministration per RXA:

- RXA-5 administered code (CWE ``code^text^system``): RxNorm when the system is ``RXNORM``
  (HL7 table 0396) or ``RXN``; other systems are kept as given;
- RXA-3 start date/time -> ``effectiveDateTime`` (``effectivePeriod`` when RXA-4 gives an
  end); RXA-6 / RXA-7 the amount and its unit: for a continuous infusion the running rate, a
  unit per time such as ``ug/kg/min`` or ``mL/h`` (``dosage.rateQuantity``), else a dose
  (``dosage.dose``);
- RXA-20 completion status: ``CP`` (complete) -> completed, ``PA`` (partially administered:
  still running) -> in-progress, ``RE`` / ``NA`` -> not-done; RXA-21 action ``D`` (delete) ->
  entered-in-error; RXR-1 route -> ``dosage.route``.

Ids are ``<ORC-3 filler order or ORC-2 placer order>-rxa-<RXA-2>``, else derived from the
message key. Errors are ``HL7Error`` naming the segment and field, never a value.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any

from clinflow.ehr.hl7.parser import HL7Error, Message, Segment
from clinflow.ehr.hl7.values import hl7_time

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
_RXNORM_NAMES = frozenset({"RXNORM", "RXN", RXNORM})
_STATUS = {"CP": "completed", "PA": "in-progress", "RE": "not-done", "NA": "not-done"}
_RATE_SUFFIXES = ("/min", "/h", "/hr")


def _is_rate(unit: str) -> bool:
    return unit.replace(" ", "").lower().endswith(_RATE_SUFFIXES)


def _status(rxa: Segment) -> str:
    if rxa.value(21).upper() == "D":
        return "entered-in-error"
    code = rxa.value(20).upper() or "CP"
    status = _STATUS.get(code)
    if status is None:
        raise HL7Error("completion status not CP, PA, RE or NA", f"{rxa.where}-20")
    return status


def _quantity(rxa: Segment) -> tuple[str, dict[str, Any]]:
    """``("rateQuantity" | "dose", Quantity)`` from RXA-6 / RXA-7."""
    raw = rxa.value(6)
    try:
        amount = float(raw)
    except ValueError as exc:
        raise HL7Error("administered amount is not a number", f"{rxa.where}-6") from exc
    unit = rxa.value(7)
    if not unit:
        raise HL7Error("administered units missing", f"{rxa.where}-7")
    number: int | float = int(amount) if amount.is_integer() and "." not in raw else amount
    quantity = {"value": number, "unit": unit, "system": UCUM, "code": unit}
    return ("rateQuantity" if _is_rate(unit) else "dose"), quantity


def medication_administrations(
    message: Message,
    tz: timezone,
    subject: dict[str, str],
    encounter: dict[str, str] | None,
    key: str,
) -> list[dict[str, Any]]:
    """One MedicationAdministration per RXA of a RAS^O17."""
    rxas = message.require("RXA", "RAS^O17")
    orc = message.first("ORC")
    stem = (orc.value(3) or orc.value(2)) if orc is not None else ""
    rxr = message.first("RXR")
    out: list[dict[str, Any]] = []
    for number, rxa in enumerate(rxas, start=1):
        code, text, system = rxa.value(5, 1), rxa.value(5, 2), rxa.value(5, 3)
        if not code:
            raise HL7Error("administered code missing", f"{rxa.where}-5")
        if not rxa.value(3):
            raise HL7Error("administration start date/time missing", f"{rxa.where}-3")
        coding: dict[str, str] = {
            "system": RXNORM if system.upper() in _RXNORM_NAMES else system,
            "code": code,
        }
        if text:
            coding["display"] = text
        sub_id = rxa.value(2) or str(number)
        resource: dict[str, Any] = {
            "resourceType": "MedicationAdministration",
            "id": f"{stem}-rxa-{sub_id}" if stem else f"hl7-{key}-rxa-{sub_id}",
            "status": _status(rxa),
            "medicationCodeableConcept": {"coding": [coding]},
            "subject": subject,
        }
        if encounter is not None:
            resource["context"] = encounter
        start = hl7_time(rxa.value(3), tz, f"{rxa.where}-3")
        if rxa.value(4):
            end = hl7_time(rxa.value(4), tz, f"{rxa.where}-4")
            resource["effectivePeriod"] = {"start": start, "end": end}
        else:
            resource["effectiveDateTime"] = start
        kind, quantity = _quantity(rxa)
        dosage: dict[str, Any] = {kind: quantity}
        if rxr is not None and rxr.value(1):
            route = {"code": rxr.value(1, 1)}
            if rxr.value(1, 2):
                route["display"] = rxr.value(1, 2)
            dosage["route"] = {"coding": [route]}
        resource["dosage"] = dosage
        out.append(resource)
    return out
