"""DICOM de-identification per PS3.15 Annex E: profile, actions, engine, batch, CLI."""
