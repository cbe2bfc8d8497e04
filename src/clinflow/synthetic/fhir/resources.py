"""FHIR resources for one patient (R5 or R4B), serialized once, with their PHI entries.

Every resource is a plain dict serialized with orjson exactly once; the same JSON text goes
into the patient's transaction Bundle and into the Bulk Data ndjson file of its type. Each
planted identifier is recorded as a ``PhiEntry`` whose location is
``ResourceType/id#path`` (see ``clinflow.synthetic.manifest``). References are relative
(``Patient/<id>``); Bundle ``fullUrl``s are absolute under ``BASE_URL`` so they resolve.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import orjson

from clinflow.synthetic.manifest import PhiEntry, PhiKind, Subject
from clinflow.synthetic.model import Patient
from clinflow.synthetic.notes import NOTE_TYPES, NoteBuilder
from clinflow.synthetic.population import ETHNICITY_DISPLAY, RACE_DISPLAY

BASE_URL = "https://clinflow.example/fhir"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
OMB = "urn:oid:2.16.840.1.113883.6.238"
_ENTRY = (
    '{"fullUrl":"' + BASE_URL + '/%s/%s","resource":%s,"request":{"method":"PUT","url":"%s/%s"}}'
)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def bundle_entry(kind: str, rid: str, text: str) -> str:
    """A transaction Bundle entry (PUT ``kind/rid``) around serialized resource ``text``."""
    return _ENTRY % (kind, rid, text, kind, rid)


def transaction_bundle(bundle_id: str, entries: Iterable[str]) -> bytes:
    """A transaction Bundle from entries made by ``bundle_entry`` (or pre-joined blocks)."""
    head = f'{{"resourceType":"Bundle","id":"{bundle_id}","type":"transaction","entry":['
    return (head + ",".join(entries) + "]}").encode()


class ResourceBlock(Protocol):
    """Resources of one type serialized together, ``ids`` in the order of ``lines``."""

    @property
    def ids(self) -> Sequence[str]: ...

    @property
    def lines(self) -> str:  # newline-joined resources (ndjson)
        ...

    @property
    def entries(self) -> str:  # the same as comma-joined Bundle entries
        ...


@dataclass(slots=True)
class PatientFhir:
    """One patient's serialized resources, Bundle entries and manifest entries.

    ``clinflow.synthetic.stream`` subclasses it to hand each resource out as it is added
    instead of collecting a Bundle; builders only call ``add``, ``add_block`` and ``plant``.
    """

    patient: Patient
    version: str
    bundle_file: str
    lines: dict[str, list[str]] = field(default_factory=dict)
    entries: list[str] = field(default_factory=list)
    phi: list[PhiEntry] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # resources added, by type

    def add(self, resource: dict[str, object]) -> str:
        """Serialize ``resource`` once; keep it for ndjson and the Bundle. Returns its id."""
        kind, rid = str(resource["resourceType"]), str(resource["id"])
        text = orjson.dumps(resource).decode()
        self.lines.setdefault(kind, []).append(text)
        self.entries.append(bundle_entry(kind, rid, text))
        self.counts[kind] += 1
        return rid

    def add_block(self, kind: str, block: ResourceBlock) -> None:
        """Resources serialized together (the vital-sign templates make these)."""
        self.lines.setdefault(kind, []).append(block.lines)
        self.entries.append(block.entries)
        self.counts[kind] += len(block.ids)

    def plant(
        self, ref: str, path: str, value: str, kind: PhiKind, subject: Subject, detail: str = ""
    ) -> None:
        self.phi.append(
            PhiEntry(
                value=value,
                kind=kind,
                subject=subject,
                patient=self.patient.mrn,
                file=self.bundle_file,
                location=f"{ref}#{path}",
                detail=detail,
            )
        )

    def bundle(self) -> bytes:
        return transaction_bundle(f"bundle-{self.patient.fhir_id}", self.entries)


def fhir_coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    """A FHIR Coding (system, code and, when given, display)."""
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def fhir_identifier(type_code: str, system: str, value: str) -> dict[str, object]:
    """A FHIR Identifier typed with a v2-0203 code (MR, SS, AN, PLAC, ACSN, ...)."""
    return {"type": {"coding": [fhir_coding(V2_0203, type_code)]}, "system": system, "value": value}


def patient_resource(out: PatientFhir) -> None:
    p = out.patient
    ref = f"Patient/{p.fhir_id}"
    name = {
        "use": "official",
        "text": p.person.full_name,
        "family": p.person.family,
        "given": list(p.person.given),
    }
    contacts = []
    for relative in p.relatives:
        contacts.append(
            {
                "relationship": [{"coding": [fhir_coding(ROLE_CODE, relative.relationship)]}],
                "name": {"family": relative.person.family, "given": list(relative.person.given)},
                "telecom": [{"system": "phone", "value": relative.person.phone}],
            }
        )
    resource: dict[str, object] = {
        "resourceType": "Patient",
        "id": p.fhir_id,
        "extension": [
            {
                "url": f"{US_CORE}/us-core-race",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": fhir_coding(OMB, p.race, RACE_DISPLAY[p.race]),
                    },
                    {"url": "text", "valueString": RACE_DISPLAY[p.race]},
                ],
            },
            {
                "url": f"{US_CORE}/us-core-ethnicity",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": fhir_coding(
                            OMB, p.ethnicity, ETHNICITY_DISPLAY[p.ethnicity]
                        ),
                    },
                    {"url": "text", "valueString": ETHNICITY_DISPLAY[p.ethnicity]},
                ],
            },
        ],
        "identifier": [
            fhir_identifier("MR", f"{BASE_URL}/sid/mrn", p.mrn),
            fhir_identifier("SS", "http://hl7.org/fhir/sid/us-ssn", p.ssn),
            fhir_identifier("MB", f"{BASE_URL}/sid/health-plan-member", p.health_plan_id),
            fhir_identifier("AN", f"{BASE_URL}/sid/account", p.account_number),
        ],
        "name": [name],
        "telecom": [
            {"system": "phone", "value": p.person.phone, "use": "home"},
            {"system": "email", "value": p.email},
        ],
        "gender": p.sex,
        "birthDate": p.birth_date.isoformat(),
        "address": [
            {
                "use": "home",
                "line": [p.address.line],
                "city": p.address.city,
                "state": p.address.state,
                "postalCode": p.address.postal_code,
            }
        ],
        "contact": contacts,
        "managingOrganization": {"display": p.institution.name},
    }
    out.add(resource)
    pat = Subject.PATIENT
    for position, (value, kind) in enumerate(
        (
            (p.mrn, PhiKind.MRN),
            (p.ssn, PhiKind.SSN),
            (p.health_plan_id, PhiKind.HEALTH_PLAN),
            (p.account_number, PhiKind.ACCOUNT),
        )
    ):
        out.plant(ref, f"identifier[{position}].value", value, kind, pat)
    out.plant(ref, "name[0].text", p.person.full_name, PhiKind.NAME, pat)
    out.plant(ref, "name[0].family", p.person.family, PhiKind.NAME, pat)
    for position, given in enumerate(p.person.given):
        out.plant(ref, f"name[0].given[{position}]", given, PhiKind.NAME, pat)
    out.plant(ref, "telecom[0].value", p.person.phone, PhiKind.PHONE, pat)
    out.plant(ref, "telecom[1].value", p.email, PhiKind.EMAIL, pat)
    age = p.age_at(p.admitted_at.date())
    detail = "birth_date; age over 89" if age > 89 else "birth_date"
    out.plant(ref, "birthDate", p.birth_date.isoformat(), PhiKind.DATE, pat, detail)
    out.plant(ref, "address[0].line[0]", p.address.line, PhiKind.GEOGRAPHIC, pat, "street")
    out.plant(ref, "address[0].city", p.address.city, PhiKind.GEOGRAPHIC, pat, "city")
    out.plant(ref, "address[0].postalCode", p.address.postal_code, PhiKind.GEOGRAPHIC, pat, "zip")
    for position, relative in enumerate(p.relatives):
        detail = f"relative:{relative.relationship}"
        rel = Subject.RELATIVE
        out.plant(
            ref,
            f"contact[{position}].name.family",
            relative.person.family,
            PhiKind.NAME,
            rel,
            detail,
        )
        for g_pos, given in enumerate(relative.person.given):
            out.plant(
                ref, f"contact[{position}].name.given[{g_pos}]", given, PhiKind.NAME, rel, detail
            )
        out.plant(
            ref,
            f"contact[{position}].telecom[0].value",
            relative.person.phone,
            PhiKind.PHONE,
            rel,
            detail,
        )
    out.plant(
        ref,
        "managingOrganization.display",
        p.institution.name,
        PhiKind.INSTITUTION,
        Subject.INSTITUTION,
    )


def encounter_resource(out: PatientFhir, encounter_id: str, ended: datetime) -> None:
    p = out.patient
    icu = p.extra.get("encounter_class") == "ICU"
    act = (
        fhir_coding(ACT_CODE, "IMP", "inpatient encounter")
        if icu
        else fhir_coding(ACT_CODE, "EMER", "emergency")
    )
    period = {"start": iso(p.admitted_at), "end": iso(ended)}
    attending = p.clinicians[0].person
    who = f"{attending.prefix} {attending.full_name}"
    resource: dict[str, object] = {
        "resourceType": "Encounter",
        "id": encounter_id,
        "subject": {"reference": f"Patient/{p.fhir_id}"},
        "serviceProvider": {"display": p.institution.name},
        "type": [{"text": "Intensive care unit stay" if icu else "Emergency department visit"}],
    }
    if out.version == "R5":
        resource |= {
            "status": "completed",
            "class": [{"coding": [act]}],
            "actualPeriod": period,
            "participant": [{"actor": {"display": who}}],
        }
        period_path, who_path = "actualPeriod", "participant[0].actor.display"
    else:
        resource |= {
            "status": "finished",
            "class": act,
            "period": period,
            "participant": [{"individual": {"display": who}}],
        }
        period_path, who_path = "period", "participant[0].individual.display"
    out.add(resource)
    ref = f"Encounter/{encounter_id}"
    out.plant(
        ref, f"{period_path}.start", period["start"], PhiKind.DATE, Subject.PATIENT, "admission"
    )
    out.plant(ref, f"{period_path}.end", period["end"], PhiKind.DATE, Subject.PATIENT, "discharge")
    out.plant(ref, who_path, who, PhiKind.NAME, Subject.CLINICIAN, "clinician:attending")
    out.plant(
        ref, "serviceProvider.display", p.institution.name, PhiKind.INSTITUTION, Subject.INSTITUTION
    )


def consent_resource(
    out: PatientFhir,
    consent_id: str,
    purpose: str,
    permit: bool,
    signed: datetime,
    status: str = "active",
) -> None:
    """One R4B Consent for one purpose; ``status="inactive"`` is its withdrawal (an update)."""
    p = out.patient
    decision = "permit" if permit else "deny"
    category = [{"coding": [fhir_coding("http://loinc.org", "59284-0", "Consent Document")]}]
    purpose_coding = fhir_coding(ACT_REASON, purpose)
    resource: dict[str, object] = {
        "resourceType": "Consent",
        "id": consent_id,
        "status": status,
        "category": category,
    }
    if out.version == "R5":
        raise ValueError("R5 consents are written per patient by consent_resource_r5")
    scope = "research" if purpose == "HRESCH" else "patient-privacy"
    resource |= {
        "scope": {
            "coding": [fhir_coding("http://terminology.hl7.org/CodeSystem/consentscope", scope)]
        },
        "patient": {"reference": f"Patient/{p.fhir_id}"},
        "dateTime": iso(signed),
        "policyRule": {"coding": [fhir_coding(ACT_CODE, "OPTIN" if permit else "OPTOUT")]},
        "provision": {"type": decision, "purpose": [purpose_coding]},
    }
    date_path, date_value = "dateTime", iso(signed)
    out.add(resource)
    out.plant(
        f"Consent/{consent_id}",
        date_path,
        date_value,
        PhiKind.DATE,
        Subject.PATIENT,
        "consent date",
    )


def consent_resource_r5(
    out: PatientFhir,
    consent_id: str,
    permitted: Sequence[str],
    signed: datetime,
    status: str = "active",
) -> None:
    """One R5 Consent: base ``decision: deny``, a permit exception per opted-in purpose."""
    p = out.patient
    resource: dict[str, object] = {
        "resourceType": "Consent",
        "id": consent_id,
        "status": status,
        "category": [{"coding": [fhir_coding("http://loinc.org", "59284-0", "Consent Document")]}],
        "subject": {"reference": f"Patient/{p.fhir_id}"},
        "date": signed.date().isoformat(),
        "decision": "deny",
    }
    if permitted:
        resource["provision"] = [
            {"purpose": [fhir_coding(ACT_REASON, purpose)]} for purpose in permitted
        ]
    out.add(resource)
    out.plant(
        f"Consent/{consent_id}",
        "date",
        signed.date().isoformat(),
        PhiKind.DATE,
        Subject.PATIENT,
        "consent date",
    )


def document_reference(
    out: PatientFhir,
    doc_id: str,
    encounter_id: str,
    type_code: str,
    note: NoteBuilder,
    written: datetime,
) -> None:
    p = out.patient
    text = note.build()
    author = p.clinicians[0].person if type_code != "34746-8" else p.clinicians[1].person
    author_name = f"{author.prefix} {author.full_name}" if author.prefix else author.full_name
    resource: dict[str, object] = {
        "resourceType": "DocumentReference",
        "id": doc_id,
        "status": "current",
        "docStatus": "final",
        "type": {
            "coding": [fhir_coding("http://loinc.org", type_code, dict(NOTE_TYPES)[type_code])]
        },
        "subject": {"reference": f"Patient/{p.fhir_id}"},
        "date": iso(written),
        "author": [{"display": author_name}],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "language": "en",
                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                }
            }
        ],
    }
    if out.version == "R5":
        resource["context"] = [{"reference": f"Encounter/{encounter_id}"}]
    else:
        resource["context"] = {"encounter": [{"reference": f"Encounter/{encounter_id}"}]}
    out.add(resource)
    ref = f"DocumentReference/{doc_id}"
    out.plant(ref, "date", iso(written), PhiKind.DATE, Subject.PATIENT, "note date")
    out.plant(ref, "author[0].display", author_name, PhiKind.NAME, Subject.CLINICIAN, "note author")
    for span in note.spans:
        out.plant(
            ref,
            f"content[0].attachment.data@{span.start}-{span.end}",
            span.value,
            span.kind,
            span.subject,
            span.detail,
        )
