"""Synthetic FHIR resources (R5/R4B): patients, vitals, imaging studies, notes as Bundles/ndjson."""
