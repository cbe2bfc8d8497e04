"""HL7 v2 ADT and ORU^R01 messages -> FHIR R4 resources (one transaction Bundle each).

- ADT^A01 (admit), A02 (transfer), A03 (discharge), A04 (register), A08 (update): Patient
  from PID (+ NK1 contacts, PD1 primary facility) and Encounter from PV1 (visit number PV1-19
  is the Encounter id, PV1-44/45 the period, A03 and a PV1-45 make it ``finished``).
- ORU^R01: Patient from PID and one Observation per OBX, vital signs with the generator's
  LOINC/UCUM codes (``clinflow.ehr.hl7.vitals``): systolic and diastolic OBX of one OBR
  become one blood-pressure panel. Observation ids are ``<OBR-3>-<vital key>`` (the
  generator puts its id stem in OBR-3), else derived from the message key.

A vendor profile (``clinflow.ehr.hl7.profiles``) turns local codes and units into canonical
ones and says the time zone of timestamps without an offset. ``validate_and_map`` checks what
the mapping relies on and raises ``HL7Error`` naming segment and field (``OBX[3]-5``), never a
value; ``ack_code`` tells the MLLP listener whether an error is a reject (AR: not a message
we take) or an error in content (AE).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import orjson

from clinflow.ehr.hl7 import vitals as v
from clinflow.ehr.hl7.parser import HL7Error, Message, Segment, parse
from clinflow.ehr.hl7.profiles import VendorProfile, profile_for

BASE_URL = "https://clinflow.example/fhir"  # the generator's base (synthetic.fhir.resources)
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
OMB = "urn:oid:2.16.840.1.113883.6.238"
IDENTIFIER_SYSTEMS = {
    "MR": f"{BASE_URL}/sid/mrn",
    "MRN": f"{BASE_URL}/sid/mrn",
    "SS": "http://hl7.org/fhir/sid/us-ssn",
    "MB": f"{BASE_URL}/sid/health-plan-member",
    "AN": f"{BASE_URL}/sid/account",
}
ADT_EVENTS = frozenset({"A01", "A02", "A03", "A04", "A08"})
SUPPORTED = frozenset({"ORU^R01", *(f"ADT^{event}" for event in ADT_EVENTS)})
GENDER = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}
PATIENT_CLASS = {
    "I": ("IMP", "inpatient encounter"),
    "E": ("EMER", "emergency"),
    "O": ("AMB", "ambulatory"),
}
LOCATION_TYPES = {"ICU": "Intensive care unit stay", "ED": "Emergency department visit"}
RESULT_STATUS = {"F": "final", "C": "amended", "P": "preliminary", "R": "preliminary",
                 "W": "entered-in-error", "X": "cancelled", "I": "registered"}  # fmt: skip
NUMERIC_TYPES = frozenset({"NM", "SN"})
CODED_TYPES = frozenset({"CWE", "CE", "CNE"})
TEXT_TYPES = frozenset({"ST", "TX", "FT"})
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$")


# ---------------------------------------------------------------------------- small readers


def hl7_time(text: str, tz: timezone, where: str) -> str:
    """An HL7 DTM as FHIR dateTime in UTC (``2024-03-01T08:00:00Z``); date-only stays a date.
    A timestamp without an offset is read in the profile's zone ``tz``."""
    converted = _fhir_time(text, tz)
    if converted is None:
        raise HL7Error("not a valid HL7 date/time (YYYYMMDD[HHMM[SS]][+ZZZZ])", where)
    return converted


@lru_cache(maxsize=8192)  # a message's OBX share a time; monitors chart on a grid
def _fhir_time(text: str, tz: timezone) -> str | None:
    match = _DTM.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, _fraction, offset = match.groups()
    try:
        if hour is None:
            if month is None or day is None:
                return year if month is None else f"{year}-{month}"
            return datetime(int(year), int(month), int(day)).date().isoformat()
        zone = tz
        if offset:
            sign = -1 if offset[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        moment = datetime(int(year), int(month or 1), int(day or 1), int(hour),
                          int(minute or 0), int(second or 0), tzinfo=zone)  # fmt: skip
    except ValueError:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(text: str, where: str) -> int | float:
    if not _NUMBER.match(text):
        raise HL7Error("numeric value expected", where)
    return int(text) if _INTEGER.match(text) else float(text)


def message_key(sender: str, control_id: str, data: bytes | str) -> str:
    """The idempotency key of a message: MSH-3/4 + MSH-10, or its content when MSH-10 is
    missing (a resend of the same bytes is then the same message)."""
    if control_id:
        material = f"hl7v2\x00{sender}\x00{control_id}".encode()
    else:
        material = b"hl7v2-content\x00" + (data.encode() if isinstance(data, str) else data)
    return hashlib.sha256(material).hexdigest()[:32]


# ---------------------------------------------------------------------------- result


@dataclass(slots=True)
class MappedMessage:
    """One message mapped: what it was and the FHIR resources it became."""

    message_type: str  # "ORU^R01", "ADT^A01", ...
    control_id: str  # MSH-10, "" when missing
    sender: str  # "MSH-3.1/MSH-4.1": the sending application and facility (no PHI)
    key: str  # message_key: the duplicate filter's key and the Bundle id
    sent_at: str  # MSH-7 as FHIR dateTime
    vendor: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    message: Message | None = None  # the parsed message (the listener answers from it)

    def bundle(self) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "id": f"hl7-{self.key}",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"{BASE_URL}/{r['resourceType']}/{r['id']}",
                    "resource": r,
                    "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                }
                for r in self.resources
            ],
        }

    def bundle_bytes(self) -> bytes:
        return orjson.dumps(self.bundle())


def ack_code(error: HL7Error) -> str:
    """``AR`` when the message itself is not one we take (no MSH, bad delimiters,
    unsupported type or version), ``AE`` for an error in its content."""
    location = error.location
    return "AR" if location.startswith(("MSH", "segment 1")) else "AE"


# ---------------------------------------------------------------------------- mapping


def validate_and_map(
    data: str | bytes | Message, profile: VendorProfile | None = None
) -> MappedMessage:
    """Parse (unless given a ``Message``), validate and map one message."""
    message = data if isinstance(data, Message) else parse(data)
    msh = message.msh
    kind, event = msh.value(9, 1), msh.value(9, 2)
    message_type = f"{kind}^{event}"
    if not kind:
        raise HL7Error("message type missing", "MSH-9")
    if message_type not in SUPPORTED:
        raise HL7Error("unsupported message type (ADT^A01/A02/A03/A04/A08, ORU^R01)", "MSH-9")
    version = msh.value(12)
    if not version.startswith("2."):
        raise HL7Error("version missing or not 2.x", "MSH-12")
    application, facility = msh.value(3), msh.value(4)
    if profile is None:
        profile = profile_for(application)
    control_id = msh.value(10)
    if not control_id and profile.control_id == "required":
        raise HL7Error("message control id missing", "MSH-10")
    if not msh.has(7):
        raise HL7Error("message date/time missing", "MSH-7")
    tz = profile.tz
    sent_at = hl7_time(msh.value(7), tz, "MSH-7")
    sender = f"{application}/{facility}"
    if control_id:
        key = message_key(sender, control_id, b"")
    else:  # the content is the key: the bytes as sent, or the message as parsed
        key = message_key(sender, "", data if not isinstance(data, Message) else message.encode())
    mapped = MappedMessage(message_type, control_id, sender, key, sent_at, profile.vendor)
    mapped.message = message
    pid = message.first("PID")
    if pid is None:
        raise HL7Error("PID segment missing", f"{message_type} PID")
    patient = _patient(pid, message, profile)
    mapped.resources.append(patient)
    subject = {"reference": f"Patient/{patient['id']}"}
    pv1 = message.first("PV1")
    if kind == "ADT":
        if pv1 is None:
            raise HL7Error("PV1 segment missing", f"{message_type} PV1")
        mapped.resources.append(_encounter(pv1, event, subject, tz))
    else:
        encounter = _encounter_reference(pv1)
        mapped.resources.extend(_observations(message, profile, subject, encounter, mapped.key))
    return mapped


def _patient(pid: Segment, message: Message, profile: VendorProfile) -> dict[str, Any]:
    where = pid.where
    identifiers: list[dict[str, Any]] = []
    patient_id = ""
    mrn_types = {profile.mrn_type, "MR", "MRN"}
    for rep in pid.repetitions(3):
        comps = [subs[0] for subs in rep]
        value = comps[0]
        id_type = comps[4] if len(comps) > 4 else ""
        if not value:
            continue
        if id_type == "PI":
            patient_id = patient_id or value
            continue
        code = "MR" if id_type in mrn_types else id_type
        identifiers.append(_identifier(code, value))
    if not any(i["type"]["coding"][0]["code"] == "MR" for i in identifiers):
        raise HL7Error("no medical record number (PID-3 with type MR)", f"{where}-3")
    mrn = next(i["value"] for i in identifiers if i["type"]["coding"][0]["code"] == "MR")
    if pid.has(18):
        identifiers.append(_identifier("AN", pid.value(18)))
    if pid.has(19):
        identifiers.append(_identifier("SS", pid.value(19)))
    if not patient_id:
        patient_id = "hl7-" + hashlib.sha256(f"{profile.vendor}\x00{mrn}".encode()).hexdigest()[:24]
    resource: dict[str, Any] = {"resourceType": "Patient", "id": patient_id}
    extensions = [
        ext
        for ext in (
            _omb("us-core-race", pid.components(10)),
            _omb("us-core-ethnicity", pid.components(22)),
        )
        if ext is not None
    ]
    if extensions:
        resource["extension"] = extensions
    resource["identifier"] = identifiers
    names = [_name(rep) for rep in pid.repetitions(5) if rep and rep[0][0]]
    if names:
        resource["name"] = names
    telecom = [t for rep in pid.repetitions(13) if (t := _telecom(rep, "home")) is not None]
    if telecom:
        resource["telecom"] = telecom
    sex = pid.value(8)
    if sex:
        if sex not in GENDER:
            raise HL7Error("administrative sex not in HL7 table 0001", f"{where}-8")
        resource["gender"] = GENDER[sex]
    if pid.has(7):
        resource["birthDate"] = hl7_time(pid.value(7)[:8], profile.tz, f"{where}-7")
    addresses = [_address(rep) for rep in pid.repetitions(11) if any(c[0] for c in rep)]
    if addresses:
        resource["address"] = addresses
    contacts = [_contact(nk1) for nk1 in message.all("NK1")]
    if contacts:
        resource["contact"] = contacts
    pd1 = message.first("PD1")
    if pd1 is not None and pd1.has(3):
        resource["managingOrganization"] = {"display": pd1.value(3)}
    return resource


def _identifier(code: str, value: str) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": V2_0203, "code": code}]},
        "system": IDENTIFIER_SYSTEMS.get(code, f"urn:clinflow:hl7v2:{code}"),
        "value": value,
    }


def _omb(name: str, comps: list[str]) -> dict[str, Any] | None:
    if not comps or not comps[0]:
        return None
    display = comps[1] if len(comps) > 1 else ""
    coding = {"system": OMB, "code": comps[0]}
    if display:
        coding["display"] = display
    parts: list[dict[str, Any]] = [{"url": "ombCategory", "valueCoding": coding}]
    if display:
        parts.append({"url": "text", "valueString": display})
    return {"url": f"{US_CORE}/{name}", "extension": parts}


def _name(rep: list[list[str]]) -> dict[str, Any]:
    comps = [subs[0] for subs in rep] + [""] * 7
    family, first, middle, _suffix, _prefix, _degree, name_type = comps[:7]
    given = [first] if first else []
    if middle:
        given.extend(middle.split(" "))
    name: dict[str, Any] = {"use": "official" if name_type in ("L", "") else "usual"}
    name["text"] = " ".join((*given, family)).strip()
    if family:
        name["family"] = family
    if given:
        name["given"] = given
    return name


def _telecom(rep: list[list[str]], use: str) -> dict[str, Any] | None:
    comps = [subs[0] for subs in rep] + [""] * 4
    number, _use_code, equipment, email = comps[:4]
    if equipment == "Internet" or (email and not number):
        return {"system": "email", "value": email} if email else None
    if not number:
        return None
    return {"system": "phone", "value": number, "use": use}


def _address(rep: list[list[str]]) -> dict[str, Any]:
    comps = [subs[0] for subs in rep] + [""] * 7
    street, _other, city, state, postal, country, address_type = comps[:7]
    address: dict[str, Any] = {"use": "home" if address_type in ("H", "") else "work"}
    if street:
        address["line"] = [street]
    for key, value in (("city", city), ("state", state), ("postalCode", postal),
                       ("country", country)):  # fmt: skip
        if value:
            address[key] = value
    return address


def _contact(nk1: Segment) -> dict[str, Any]:
    name_comps = nk1.components(2) + ["", "", ""]
    family, first, middle = name_comps[:3]
    given = [first] if first else []
    if middle:
        given.extend(middle.split(" "))
    contact: dict[str, Any] = {}
    relationship = nk1.value(3)
    if relationship:
        contact["relationship"] = [{"coding": [{"system": ROLE_CODE, "code": relationship}]}]
    contact["name"] = {"family": family, "given": given}
    phones = [t for rep in nk1.repetitions(5) if (t := _telecom(rep, "home")) is not None]
    if phones:
        contact["telecom"] = [{k: t[k] for k in ("system", "value")} for t in phones]
    return contact


def _visit_id(pv1: Segment | None) -> str:
    return pv1.value(19) if pv1 is not None else ""


def _encounter_reference(pv1: Segment | None) -> dict[str, str] | None:
    visit = _visit_id(pv1)
    return {"reference": f"Encounter/{visit}"} if visit else None


def _encounter(pv1: Segment, event: str, subject: dict[str, str], tz: timezone) -> dict[str, Any]:
    where = pv1.where
    visit = pv1.value(19)
    if not visit:
        raise HL7Error("visit number missing", f"{where}-19")
    patient_class = pv1.value(2)
    if patient_class not in PATIENT_CLASS:
        raise HL7Error("patient class not I, E or O", f"{where}-2")
    code, display = PATIENT_CLASS[patient_class]
    period: dict[str, str] = {}
    if pv1.has(44):
        period["start"] = hl7_time(pv1.value(44), tz, f"{where}-44")
    if pv1.has(45):
        period["end"] = hl7_time(pv1.value(45), tz, f"{where}-45")
    if event == "A03" and "end" not in period:
        raise HL7Error("discharge date/time missing in a discharge (A03)", f"{where}-45")
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": visit,
        "status": "finished" if "end" in period else "in-progress",
        "class": {"system": ACT_CODE, "code": code, "display": display},
        "subject": subject,
    }
    point_of_care = pv1.value(3)
    if point_of_care:
        resource["type"] = [{"text": LOCATION_TYPES.get(point_of_care, point_of_care)}]
        resource["location"] = [{"location": {"display": point_of_care}}]
    if period:
        resource["period"] = period
    doctor = pv1.components(7) + [""] * 6
    if doctor[1]:
        given = " ".join(part for part in (doctor[2], doctor[3]) if part)
        who = " ".join(part for part in (doctor[5], given, doctor[1]) if part)
        resource["participant"] = [{"individual": {"display": who}}]
    if pv1.has(39):
        resource["serviceProvider"] = {"display": pv1.value(39)}
    return resource


# ---------------------------------------------------------------------------- observations


def _observations(
    message: Message,
    profile: VendorProfile,
    subject: dict[str, str],
    encounter: dict[str, str] | None,
    key: str,
) -> list[dict[str, Any]]:
    obrs = message.all("OBR")
    if not obrs:
        raise HL7Error("OBR segment missing", "ORU^R01 OBR")
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
    for number, (obr, obxs) in enumerate(groups, start=1):
        stem = obr.value(3) or obr.value(2) or f"hl7-{key}-{number}"
        default_time = obr.value(7)
        bp: dict[str, tuple[int | float, str]] = {}
        bp_meta: tuple[str, str] | None = None
        for obx in obxs:
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
                continue
            vital = v.VITAL_BY_CODE.get(code)
            resource: dict[str, Any] = {
                "resourceType": "Observation",
                "id": f"{stem}-{vital.key}" if vital else f"{stem}-{obx.value(1) or where}",
                "status": RESULT_STATUS[status_code],
                "category": [_category("vital-signs" if vital else "laboratory")],
                "code": v.codeable(vital.codings) if vital else _local_code(obx, profile),
                "subject": subject,
            }
            if encounter is not None:
                resource["encounter"] = encounter
            resource["effectiveDateTime"] = when
            resource.update(_value(obx, code, profile, value_type, vital))
            out.append(resource)
        if bp:
            assert bp_meta is not None
            out.append(_bp_panel(stem, bp, bp_meta, subject, encounter))
    return out


def _category(code: str) -> dict[str, Any]:
    return {"coding": [{"system": v.OBSERVATION_CATEGORY, "code": code}]}


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
    number = _number(text, f"{where}-5")
    unit = obx.value(6)
    conversion = profile.units.get(unit)
    if conversion is not None:
        return conversion.to_ucum(number), conversion.ucum
    expected = v.UNIT_OF_CODE.get(code)
    if expected is not None and unit != expected:
        raise HL7Error("unit not known for this observation (no vendor conversion)", f"{where}-6")
    return number, unit


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
        "category": [_category("vital-signs")],
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
