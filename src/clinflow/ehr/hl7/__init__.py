"""HL7 v2: a parser, the mapping to FHIR R4 with vendor dialects, an emitter for the
synthetic cohort and an MLLP listener (a source of the streaming runtime)."""
