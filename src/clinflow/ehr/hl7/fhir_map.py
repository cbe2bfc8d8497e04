"""HL7 v2 ADT and ORU^R01 messages -> FHIR R4 resources (one transaction Bundle each).

- ADT^A01 (admit), A02 (transfer), A03 (discharge), A04 (register), A08 (update): Patient
  from PID (+ NK1 contacts, PD1 primary facility) and Encounter from PV1 (visit number PV1-19
  is the Encounter id, PV1-44/45 the period, A03 and a PV1-45 make it ``finished``).
- ADT^A28 (add person information): the Patient from PID alone (no visit; PV1 ignored).
- ADT^A40 (merge patient): the surviving Patient from PID with ``link`` type ``replaces``
  naming the prior record of MRG-1 (its MRN as the Reference's identifier); ingest records
  the merge (``clinflow.patient_merges``, ADR 0102).
- ORU^R01: Patient from PID and one Observation per OBX, vital signs with the generator's
  LOINC/UCUM codes (``clinflow.ehr.hl7.vitals``): systolic and diastolic OBX of one OBR
  become one blood-pressure panel. Observation ids are ``<OBR-3>-<vital key>`` (the
  generator puts its id stem in OBR-3), else derived from the message key.
- RAS^O17: Patient from PID and one MedicationAdministration per RXA (pump and eMAR records;
  ``clinflow.ehr.hl7.medication_map``).

A vendor profile (``clinflow.ehr.hl7.profiles``) turns local codes and units into canonical
ones and says the time zone of timestamps without an offset. ``validate_and_map`` checks what
the mapping relies on and raises ``HL7Error`` naming segment and field (``OBX[3]-5``), never a
value; ``ack_code`` tells the MLLP listener whether an error is a reject (AR: not a message
we take) or an error in content (AE).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from clinflow.ehr.hl7.medication_map import medication_administrations
from clinflow.ehr.hl7.observation_map import observations
from clinflow.ehr.hl7.parser import HL7Error, Message, parse
from clinflow.ehr.hl7.patient_map import (
    BASE_URL,
    encounter_reference,
    encounter_resource,
    merge_link,
    patient_resource,
)
from clinflow.ehr.hl7.profiles import VendorProfile, profile_for
from clinflow.ehr.hl7.values import hl7_time

ADT_EVENTS = frozenset({"A01", "A02", "A03", "A04", "A08", "A28", "A40"})
MERGE_EVENT = "A40"
PERSON_EVENTS = frozenset({"A28"})  # person information only: no visit
SUPPORTED = frozenset({"ORU^R01", "RAS^O17", *(f"ADT^{event}" for event in ADT_EVENTS)})


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
        raise HL7Error(
            "unsupported message type (ADT^A01/A02/A03/A04/A08/A28/A40, ORU^R01, RAS^O17)",
            "MSH-9",
        )
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
    pid = message.require("PID", message_type)[0]
    patient = patient_resource(pid, message, profile)
    if kind == "ADT" and event == MERGE_EVENT:  # the surviving Patient, replacing MRG-1's
        mrg = message.require("MRG", message_type)[0]
        mapped.resources.append({**patient, "link": [merge_link(mrg, profile)]})
        return mapped  # PV1 is optional in an A40 and says nothing about the merge
    mapped.resources.append(patient)
    if kind == "ADT" and event in PERSON_EVENTS:
        return mapped
    subject = {"reference": f"Patient/{patient['id']}"}
    if kind == "ADT":
        pv1 = message.require("PV1", message_type)[0]
        mapped.resources.append(encounter_resource(pv1, event, subject, tz))
    elif kind == "RAS":  # pharmacy/pump administration records (clinflow.ehr.hl7.medication_map)
        encounter = encounter_reference(message.first("PV1"))
        mapped.resources.extend(
            medication_administrations(message, tz, subject, encounter, mapped.key)
        )
    else:
        encounter = encounter_reference(message.first("PV1"))
        mapped.resources.extend(observations(message, profile, subject, encounter, mapped.key))
    return mapped
