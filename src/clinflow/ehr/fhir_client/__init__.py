"""FHIR R4 REST and Bulk Data ``$export`` clients (httpx, asyncio).

``FhirHttp`` holds one server's connection, token, timeouts and retry policy;
``FhirRestClient`` pages through searches and ``Patient/$everything``; ``BulkExportClient``
runs one export from kick-off to cleanup. The runtime wraps both as sources of
``clinflow run --source fhir:URL|bulk:URL`` (``clinflow.runtime.fhir_sources``).
"""

from clinflow.ehr.fhir_client.bulk import (
    BulkExportClient,
    ExportFile,
    ExportLine,
    ExportManifest,
    ExportStats,
    kickoff_url,
    parse_manifest,
)
from clinflow.ehr.fhir_client.errors import (
    FhirClientError,
    FhirHttpError,
    FhirOutcomeError,
    outcome_summary,
)
from clinflow.ehr.fhir_client.http import (
    TOKEN_ENV,
    TOKEN_FILE_ENV,
    FhirHttp,
    HttpStats,
    RetryPolicy,
    bearer_token,
    retry_after_seconds,
)
from clinflow.ehr.fhir_client.ordering import FIRST_TYPES, arrival_rank
from clinflow.ehr.fhir_client.rest import Fetched, FhirRestClient, RestStats
from clinflow.ehr.fhir_client.urls import LinkError, next_link, safe_url, system_name

__all__ = [
    "FIRST_TYPES",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "BulkExportClient",
    "ExportFile",
    "ExportLine",
    "ExportManifest",
    "ExportStats",
    "Fetched",
    "FhirClientError",
    "FhirHttp",
    "FhirHttpError",
    "FhirOutcomeError",
    "FhirRestClient",
    "HttpStats",
    "LinkError",
    "RestStats",
    "RetryPolicy",
    "arrival_rank",
    "bearer_token",
    "kickoff_url",
    "next_link",
    "outcome_summary",
    "parse_manifest",
    "retry_after_seconds",
    "safe_url",
    "system_name",
]
