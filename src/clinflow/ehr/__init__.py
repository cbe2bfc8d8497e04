"""EHR front doors: how hospital systems hand data over, as they really do.

- ``clinflow.ehr.hl7``: HL7 v2 messages (ADT, ORU) over MLLP or from files.
- ``clinflow.ehr.fhir_client``: FHIR R4 REST (search, ``Patient/$everything``) and Bulk Data
  ``$export`` clients.

A capability package: it never imports the runtime, CLI or API at module scope; the runtime
wraps these clients as sources of ``clinflow run``.
"""
