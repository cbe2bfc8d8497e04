"""Synthetic data generator: FHIR, DICOM and notes with a PHI ground-truth manifest."""
