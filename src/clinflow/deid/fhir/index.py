"""The patient index built in a first pass over the input: ids, fullUrls, known identifiers.

Bulk ndjson puts Patients and Observations in different files, so an Observation that only
says ``Patient/123`` needs the MRN (the patient key) from the Patient resource read earlier.
The index also gathers each patient's own identifiers (names, MRN, SSN, phone, address,
relatives, clinicians named in the record) for the text de-identifier's known-identifier
recognizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clinflow.deid.text.known import PERSON_RESOURCES, KnownIdentifiers
from clinflow.patient_ids import patient_mrn


class PatientIndex:
    """Patient id -> patient key (MRN), fullUrl -> (type, id), patient key -> identifiers."""

    def __init__(self) -> None:
        self.patient_keys: dict[str, str] = {}
        self.full_urls: dict[str, tuple[str, str]] = {}
        self.known: dict[str, KnownIdentifiers] = {}

    def has_patient(self, patient_id: str) -> bool:
        return patient_id in self.patient_keys

    def patient_key_for(self, patient_id: str, resource: dict[str, Any] | None = None) -> str:
        """MRN of the patient; a Patient without MRN is keyed by its logical id."""
        key = self.patient_keys.get(patient_id)
        if key is None:
            if resource is not None:
                key = self.add_patient(resource)
            else:
                key = f"Patient/{patient_id}"
        return key

    def patient_id_of_reference(self, reference: str) -> str | None:
        if reference.startswith("urn:uuid:"):
            target = self.full_urls.get(reference)
            return target[1] if target and target[0] == "Patient" else None
        if "Patient/" in reference:
            patient_id = reference.rsplit("Patient/", 1)[1].split("/", 1)[0]
            return patient_id if patient_id in self.patient_keys else None
        return None

    def add_patient(self, patient: dict[str, Any]) -> str:
        patient_id = str(patient.get("id", ""))
        key = patient_mrn(patient) or f"Patient/{patient_id}"
        self.patient_keys[patient_id] = key
        known = self.known.setdefault(key, KnownIdentifiers())
        try:
            known.add_from_patient(patient)
        except (TypeError, AttributeError, ValueError):
            pass  # a malformed name/address/telecom (fuzzing: ``address: true``): the allow-list
            # still removes it; only the text de-identifier's hint for this patient is partial
        return key

    def add(self, resource: dict[str, Any], full_url: str | None = None) -> None:
        """Index one resource seen in the first pass."""
        resource_type = resource.get("resourceType")
        resource_id = resource.get("id")
        if isinstance(resource_type, str) and full_url and isinstance(resource_id, str):
            self.full_urls[full_url] = (resource_type, resource_id)
        elif isinstance(resource_type, str) and full_url and resource_type == "Patient":
            self.full_urls[full_url] = (resource_type, full_url.rsplit(":", 1)[-1])
        if resource_type == "Patient":
            if not isinstance(resource_id, str) and full_url:
                resource["id"] = full_url.rsplit(":", 1)[-1]
            self.add_patient(resource)

    def add_all(self, resources: Iterable[tuple[dict[str, Any], str | None]]) -> None:
        """The first pass over (resource, fullUrl) pairs: every resource is indexed, then the
        displays of the patients' other records are read (their Patients are known by then)."""
        deferred: list[dict[str, Any]] = []
        people = KnownIdentifiers()  # Practitioners etc.: not tied to one patient
        for resource, full_url in resources:
            if not isinstance(resource.get("resourceType"), str):
                continue  # not a resource (fuzzing found a list here): the second pass rejects it
            self.add(resource, full_url)
            if resource.get("resourceType") in PERSON_RESOURCES:
                try:
                    people.add_person(resource)
                except (TypeError, AttributeError, ValueError):
                    pass  # malformed (this pass runs before validation): see add_patient
            if resource.get("resourceType") not in ("Observation", "Patient"):
                deferred.append(resource)
        for resource in deferred:
            self.add_displays(resource)
        if people.values:
            for known in self.known.values():
                known.merge(people)

    def add_displays(self, resource: dict[str, Any]) -> None:
        """Collect names of people and places a patient's record mentions (second pass)."""
        subject = resource.get("subject") or resource.get("patient")
        ref = subject.get("reference") if isinstance(subject, dict) else None
        patient_id = self.patient_id_of_reference(ref) if isinstance(ref, str) else None
        key = self.patient_keys.get(patient_id) if patient_id is not None else None
        if key is None:  # no such patient, or a Patient the first pass could not read
            return
        known = self.known.setdefault(key, KnownIdentifiers())
        known.add_from_resource(resource)
