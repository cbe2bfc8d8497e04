"""Hand-written FHIR fixtures: a Synthea-style R4 transaction bundle, an R4B and an R5 resource.

All identifiers are synthetic. ``PHI`` lists every identifying value planted below, so tests
can check none survives de-identification.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

PATIENT_UUID = "urn:uuid:5cbc121b-cd71-4428-b8b7-31e53eba8184"
ENCOUNTER_UUID = "urn:uuid:0b1b0a51-8c3e-4f0b-9d8e-4dc7c2b0a6a1"
MRN = "a2b5c8d1-0e3f-4a6b-9c2d-5e8f1a4b7c0d"
NOTE = (
    "Antonia30 Hagenes547 is an 92 year-old woman (MRN a2b5c8d1-0e3f-4a6b-9c2d-5e8f1a4b7c0d) "
    "seen on 2019-03-04. Contact her at 555-317-4421 or antonia.hagenes@example.com. "
    "Lives at 742 Kuhn Mill Suite 58, Springfield. Daughter Maribel Hagenes visited. "
    "SSN 999-52-7788 on file. Seen by Dr. Ramon Kshlerin."
)

PHI = [
    "Antonia30", "Hagenes547", MRN, "999-52-7788", "S99952778", "X12345678X",
    "555-317-4421", "antonia.hagenes@example.com", "742 Kuhn Mill Suite 58", "Springfield",
    "01105", "1927-06-14", "Maribel", "2019-03-04", "2019-03-04T10:12:00-05:00",
    "Kshlerin", "Hagenes547 Rd", "Springfield General",
]


def r4_synthea_bundle() -> dict[str, Any]:
    patient = {
        "resourceType": "Patient",
        "id": "5cbc121b-cd71-4428-b8b7-31e53eba8184",
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"],
                 "lastUpdated": "2019-03-05T10:00:00Z"},
        "text": {"status": "generated",
                 "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Antonia30 Hagenes547</div>"},
        "extension": [
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
             "extension": [{"url": "ombCategory", "valueCoding": {
                 "system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3",
                 "display": "White"}}, {"url": "text", "valueString": "White"}]},
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
             "valueString": "Hagenes547 Rd"},
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
             "valueAddress": {"city": "Springfield", "state": "MA", "country": "US"}},
        ],
        "identifier": [
            {"system": "https://github.com/synthetichealth/synthea", "value": MRN},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                  "code": "MR", "display": "Medical Record Number"}]},
             "system": "http://hospital.smarthealthit.org", "value": MRN},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                  "code": "SS"}]},
             "system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-52-7788"},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                  "code": "DL"}]},
             "system": "urn:oid:2.16.840.1.113883.4.3.25", "value": "S99952778"},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                  "code": "PPN"}]},
             "system": "http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber",
             "value": "X12345678X"},
        ],
        "name": [{"use": "official", "family": "Hagenes547", "given": ["Antonia30"],
                  "prefix": ["Mrs."]}],
        "telecom": [{"system": "phone", "value": "555-317-4421", "use": "home"},
                    {"system": "email", "value": "antonia.hagenes@example.com"}],
        "gender": "female",
        "birthDate": "1927-06-14",
        "address": [{"line": ["742 Kuhn Mill Suite 58"], "city": "Springfield", "state": "MA",
                     "postalCode": "01105", "country": "US",
                     "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/geolocation",
                                    "extension": [{"url": "latitude", "valueDecimal": 42.1},
                                                  {"url": "longitude", "valueDecimal": -72.5}]}]}],
        "maritalStatus": {"coding": [{"system":
                                      "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                                      "code": "W"}]},
        "contact": [{"name": {"family": "Hagenes547", "given": ["Maribel"]},
                     "telecom": [{"system": "phone", "value": "555-317-4422"}]}],
        "multipleBirthBoolean": False,
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47",
                                                    "code": "en-US"}]}}],
    }
    encounter = {
        "resourceType": "Encounter",
        "id": "0b1b0a51-8c3e-4f0b-9d8e-4dc7c2b0a6a1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003"}]}],
        "subject": {"reference": PATIENT_UUID, "display": "Mrs. Antonia30 Hagenes547"},
        "participant": [{"individual": {
            "reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999939",
            "display": "Dr. Ramon Kshlerin"}}],
        "period": {"start": "2019-03-04T10:12:00-05:00", "end": "2019-03-04T10:27:00-05:00"},
        "serviceProvider": {"display": "Springfield General"},
        "contained": [{"resourceType": "Location", "id": "loc1", "name": "Springfield General",
                       "address": {"city": "Springfield"}}],
        "location": [{"location": {"reference": "#loc1"}}],
    }
    observation = {
        "resourceType": "Observation",
        "id": "7f1a5b2c-3d4e-4f60-8a1b-2c3d4e5f6a7b",
        "status": "final",
        "category": [{"coding": [{"system":
                                  "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4",
                             "display": "Heart rate"}]},
        "subject": {"reference": PATIENT_UUID},
        "encounter": {"reference": ENCOUNTER_UUID},
        "effectiveDateTime": "2019-03-04T10:12:00-05:00",
        "issued": "2019-03-04T10:12:00.000-05:00",
        "valueQuantity": {"value": 88, "unit": "/min", "system": "http://unitsofmeasure.org",
                          "code": "/min"},
        "note": [{"text": "Called 555-317-4421 to discuss with Antonia30."}],
    }
    document = {
        "resourceType": "DocumentReference",
        "id": "d0c5e1f2-0a1b-4c2d-8e3f-4a5b6c7d8e9f",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "34117-2"}]},
        "subject": {"reference": PATIENT_UUID},
        "date": "2019-03-04T10:12:00-05:00",
        "author": [{"display": "Dr. Ramon Kshlerin"}],
        "content": [{"attachment": {"contentType": "text/plain",
                                    "data": base64.b64encode(NOTE.encode()).decode(),
                                    "url": "https://ehr.example.org/notes/123"}}],
        "context": {"encounter": [{"reference": ENCOUNTER_UUID}],
                    "period": {"start": "2019-03-04T10:12:00-05:00"}},
    }
    entries = []
    for resource, full_url in ((patient, PATIENT_UUID), (encounter, ENCOUNTER_UUID),
                               (observation, f"urn:uuid:{observation['id']}"),
                               (document, f"urn:uuid:{document['id']}")):
        entries.append({"fullUrl": full_url, "resource": resource,
                        "request": {"method": "POST", "url": resource["resourceType"]}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def r5_patient_bundle() -> dict[str, Any]:
    """A small R5 collection bundle: Patient + Observation + Consent (generator style)."""
    patient = {
        "resourceType": "Patient", "id": "pat-1",
        "identifier": [{"type": {"coding": [{"system":
                                             "http://terminology.hl7.org/CodeSystem/v2-0203",
                                             "code": "MR"}]},
                        "system": "https://clinflow.example/fhir/sid/mrn", "value": "33144716"}],
        "name": [{"family": "Schäfer", "given": ["Wei"]}],
        "telecom": [{"system": "phone", "value": "(312) 555-0196"}],
        "gender": "male", "birthDate": "1961-08-08",
        "address": [{"line": ["9522 Chestnut Boulevard"], "city": "Ashland", "state": "KY",
                     "postalCode": "03601"}],
    }
    observation = {
        "resourceType": "Observation", "id": "obs-1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "9279-1"}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": "2026-01-05T09:45:00Z",
        "valueQuantity": {"value": 18, "unit": "/min", "system": "http://unitsofmeasure.org",
                          "code": "/min"},
    }
    consent = {
        "resourceType": "Consent", "id": "c-1", "status": "active",
        "subject": {"reference": "Patient/pat-1"}, "date": "2026-01-05", "decision": "permit",
        "provision": [{"period": {"start": "2026-01-05"},
                       "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                    "code": "TREAT"}]}],
    }
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "https://clinflow.example/fhir/Patient/pat-1", "resource": patient},
        {"fullUrl": "https://clinflow.example/fhir/Observation/obs-1", "resource": observation},
        {"fullUrl": "https://clinflow.example/fhir/Consent/c-1", "resource": consent},
    ]}


def r4b_consent() -> dict[str, Any]:
    """R4B Consent (provision.type, patient, scope): the R5 model rejects it, R4B accepts."""
    return {
        "resourceType": "Consent", "id": "c-r4b", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/pat-1"},
        "dateTime": "2026-01-05T08:00:00Z",
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                   "code": "OPTIN"}]},
        "provision": {"type": "permit", "purpose": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}]},
    }


def clone(value: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(value)
