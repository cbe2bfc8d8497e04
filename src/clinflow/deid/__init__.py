"""De-identification: DICOM (PS3.15 Annex E), FHIR (declarative rules), free text."""
