"""PID (+ PD1, NK1) -> FHIR R4 Patient and PV1 -> Encounter, as the generator writes them.

The MRN is the PID-3 repetition typed MR (or MRN, or the vendor's type) and becomes an
identifier typed MR; a PI repetition is the Patient's id (else one derived from vendor and
MRN); PID-18 the account (AN), PID-19 the SSN (SS). An A40's MRG-1 (the prior record) becomes
``Patient.link`` of type ``replaces`` (``merge_link``). PV1-19 is the Encounter's id, PV1-44/45
its period (an A03 must carry PV1-45; a PV1-45 makes it ``finished``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timezone
from typing import Any

from clinflow.ehr.hl7.parser import HL7Error, Message, Segment
from clinflow.ehr.hl7.profiles import VendorProfile
from clinflow.ehr.hl7.values import hl7_time

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
GENDER = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}
PATIENT_CLASS = {
    "I": ("IMP", "inpatient encounter"),
    "E": ("EMER", "emergency"),
    "O": ("AMB", "ambulatory"),
}
LOCATION_TYPES = {"ICU": "Intensive care unit stay", "ED": "Emergency department visit"}


PATIENT_CACHE_SIZE = 1024
# (vendor, delimiters, PID, NK1s, PD1 fields) -> Patient: a monitor repeats a patient's PID in
# every ORU, so it is mapped once; the resource is shared between messages: read-only.
_patients: dict[tuple[Any, ...], dict[str, Any]] = {}


def patient_resource(pid: Segment, message: Message, profile: VendorProfile) -> dict[str, Any]:
    """The Patient of PID (+ NK1 contacts, PD1 facility); raises ``HL7Error`` naming the field."""
    nk1s = message.all("NK1")
    pd1 = message.first("PD1")
    enc = pid.enc  # its delimiters (hashing the dataclass itself costs a Python call)
    key = (
        profile.vendor, enc.component, enc.repetition, enc.escape, enc.subcomponent,
        tuple(pid.fields), tuple(tuple(n.fields) for n in nk1s),
        tuple(pd1.fields) if pd1 is not None else None,
    )  # fmt: skip
    found = _patients.get(key)
    if found is None:
        found = _build_patient(pid, nk1s, pd1, profile)
        if len(_patients) >= PATIENT_CACHE_SIZE:
            del _patients[next(iter(_patients))]  # the oldest
        _patients[key] = found
    return found


def _cx_ids(segment: Segment, field: int) -> Iterator[tuple[str, str]]:
    """(id, identifier type code) of each non-empty CX repetition of ``segment``-``field``."""
    for rep in segment.repetitions(field):
        comps = [subs[0] for subs in rep]
        if comps[0]:
            yield comps[0], comps[4] if len(comps) > 4 else ""


def _build_patient(
    pid: Segment, nk1s: list[Segment], pd1: Segment | None, profile: VendorProfile
) -> dict[str, Any]:
    where = pid.where
    identifiers: list[dict[str, Any]] = []
    patient_id = mrn = ""
    mrn_type = profile.mrn_type
    for value, id_type in _cx_ids(pid, 3):
        if id_type == "PI":
            patient_id = patient_id or value
            continue
        code = "MR" if id_type in ("MR", "MRN") or id_type == mrn_type else id_type
        if code == "MR" and not mrn:
            mrn = value
        identifiers.append(_identifier(code, value))
    if not mrn:
        raise HL7Error("no medical record number (PID-3 with type MR)", f"{where}-3")
    if pid.has(18):
        identifiers.append(_identifier("AN", pid.value(18)))
    if pid.has(19):
        identifiers.append(_identifier("SS", pid.value(19)))
    if not patient_id:
        patient_id = "hl7-" + hashlib.sha256(f"{profile.vendor}\x00{mrn}".encode()).hexdigest()[:24]
    resource: dict[str, Any] = {"resourceType": "Patient", "id": patient_id}
    extensions = [
        ext
        for ext in (_omb_of(pid, 10, "us-core-race"), _omb_of(pid, 22, "us-core-ethnicity"))
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
    contacts = [_contact(nk1) for nk1 in nk1s]
    if contacts:
        resource["contact"] = contacts
    if pd1 is not None and pd1.has(3):
        resource["managingOrganization"] = {"display": pd1.value(3)}
    return resource


def merge_link(mrg: Segment, profile: VendorProfile) -> dict[str, Any]:
    """MRG (ADT^A40) -> a FHIR R4 ``Patient.link`` entry of type ``replaces``: the surviving
    patient (PID) replaces the prior one. The prior record's MRN (MRG-1 typed MR) is the
    Reference's identifier (ingest pseudonymizes it; de-identification drops it); its id is a
    PI repetition of MRG-1, else derived from vendor and MRN as for PID."""
    where = mrg.where
    mrn = prior_id = ""
    mrn_types = {profile.mrn_type, "MR", "MRN"}
    for value, id_type in _cx_ids(mrg, 1):
        if id_type == "PI":
            prior_id = prior_id or value
        elif id_type in mrn_types:
            mrn = mrn or value
    if not mrn:
        raise HL7Error("no prior medical record number (MRG-1 with type MR)", f"{where}-1")
    if not prior_id:
        prior_id = "hl7-" + hashlib.sha256(f"{profile.vendor}\x00{mrn}".encode()).hexdigest()[:24]
    return {
        "other": {"reference": f"Patient/{prior_id}", "identifier": _identifier("MR", mrn)},
        "type": "replaces",
    }


_IDENTIFIER_TYPES: dict[str, tuple[dict[str, Any], str]] = {}  # code -> (type, system), shared


def _identifier(code: str, value: str) -> dict[str, Any]:
    known = _IDENTIFIER_TYPES.get(code)
    if known is None:
        known = (
            {"coding": [{"system": V2_0203, "code": code}]},
            IDENTIFIER_SYSTEMS.get(code, f"urn:clinflow:hl7v2:{code}"),
        )
        if len(_IDENTIFIER_TYPES) < 256:
            _IDENTIFIER_TYPES[code] = known
    return {"type": known[0], "system": known[1], "value": value}


_OMB_CACHE: dict[tuple[str, ...], dict[str, Any] | None] = {}


def _omb_of(pid: Segment, field: int, name: str) -> dict[str, Any] | None:
    """The race / ethnicity extension of a PID field; built once per value and delimiters
    (a few codes repeat across every patient) and shared: read-only."""
    enc = pid.enc
    key = (name, pid.raw(field), enc.component, enc.repetition, enc.escape, enc.subcomponent)
    try:
        return _OMB_CACHE[key]
    except KeyError:
        pass
    found = _omb(name, pid.components(field))
    if len(_OMB_CACHE) < 1024:
        _OMB_CACHE[key] = found
    return found


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


def encounter_reference(pv1: Segment | None) -> dict[str, str] | None:
    visit = _visit_id(pv1)
    return {"reference": f"Encounter/{visit}"} if visit else None


def encounter_resource(
    pv1: Segment, event: str, subject: dict[str, str], tz: timezone
) -> dict[str, Any]:
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
