"""Synthetic DICOM: studies, modalities, pixels with burned-in text, planted PHI, test corpora."""
