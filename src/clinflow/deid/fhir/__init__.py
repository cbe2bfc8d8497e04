"""FHIR de-identification by declarative rules: policy, methods, engine, file I/O, CLI."""
