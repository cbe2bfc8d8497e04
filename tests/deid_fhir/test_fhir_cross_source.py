"""One patient, one pseudonym and one date offset across FHIR, DICOM and free text."""

from __future__ import annotations

from datetime import date, timedelta

from pydicom.dataset import Dataset

from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.deid.dicom.profile import compile_policy
from clinflow.deid.fhir.engine import FhirDeidentifier
from clinflow.deid.fhir.policy import load_policy
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.text.engine import TextDeidentifier

from . import helpers

KEY = bytes(range(32))
MRN = "33144716"


def test_same_pseudonym_and_offset_in_fhir_dicom_and_notes() -> None:
    pseudonymizer = Pseudonymizer(KEY)
    offset = pseudonymizer.date_offset_days(MRN)
    expected_date = date(2026, 1, 5) + timedelta(days=offset)

    engine = FhirDeidentifier(load_policy(), pseudonymizer)
    bundle = helpers.r5_patient_bundle()
    patient, observation = (e["resource"] for e in bundle["entry"][:2])
    engine.index.add(patient)
    fhir_patient, _ = engine.deidentify_resource(patient)
    fhir_observation, _ = engine.deidentify_resource(observation)

    ds = Dataset()
    ds.PatientID = MRN
    ds.PatientName = "Schäfer^Wei"
    ds.StudyDate = "20260105"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality = "CT"
    dicom = DicomDeidentifier(compile_policy(None, ["retain_long_modified_dates"]), pseudonymizer)
    result = dicom.deidentify_dataset(ds, "test.dcm")

    study = {
        "resourceType": "ImagingStudy", "id": "img-1", "status": "available",
        "subject": {"reference": "Patient/pat-1"},
        "identifier": [{"system": "urn:dicom:uid",
                        "value": "urn:oid:1.2.826.0.1.3680043.8.498.1"}],
        "series": [{"uid": "1.2.826.0.1.3680043.8.498.3", "modality": {"code": "CT"},
                    "instance": [{"uid": "1.2.826.0.1.3680043.8.498.2",
                                  "sopClass": {"code": "urn:oid:1.2.840.10008.5.1.4.1.1.2"}}]}],
    }
    fhir_study, _ = engine.deidentify_resource(study)

    note = TextDeidentifier(pseudonymizer).deidentify("Seen on 2026-01-05.", MRN).text

    assert fhir_patient["id"] == result.patient_pseudonym == pseudonymizer.patient_pseudonym(MRN)
    assert fhir_observation["subject"]["reference"] == f"Patient/{result.patient_pseudonym}"
    assert fhir_observation["effectiveDateTime"].startswith(expected_date.isoformat())
    assert ds.StudyDate == expected_date.strftime("%Y%m%d")
    assert note == f"Seen on {expected_date.isoformat()}."
    assert fhir_study["identifier"][0]["value"] == f"urn:oid:{ds.StudyInstanceUID}"
    assert fhir_study["series"][0]["instance"][0]["uid"] == ds.SOPInstanceUID
