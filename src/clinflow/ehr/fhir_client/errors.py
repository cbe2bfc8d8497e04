"""Errors of the FHIR REST and Bulk Data clients.

    ClinflowError
    └── FhirClientError          a request failed: method, PHI-free URL, what went wrong
        ├── FhirHttpError        the server answered an unexpected status (``status``)
        └── FhirOutcomeError     the server answered an OperationOutcome (in a 200 body too)

Messages name the method, the URL path with resource ids masked and the query's parameter
names only (``safe_url``), the status and the OperationOutcome's issue severities and codes;
never a query value, a response body or an issue's ``diagnostics`` (servers echo the request
there, identifiers included). httpx errors are wrapped where they enter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clinflow.errors import ClinflowError


class FhirClientError(ClinflowError):
    """A FHIR request failed; ``where`` is ``METHOD safe-url``."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"FHIR {where}: {problem}")


class FhirHttpError(FhirClientError):
    """The server answered ``status`` where another was expected."""

    def __init__(self, where: str, status: int, outcome: str = "") -> None:
        self.status = status
        detail = f" ({outcome})" if outcome else ""
        super().__init__(where, f"HTTP {status}{detail}")


class FhirOutcomeError(FhirClientError):
    """The server answered an OperationOutcome instead of data (some servers do so with 200)."""

    def __init__(self, where: str, outcome: str, status: int = 200) -> None:
        self.status = status
        self.outcome = outcome
        super().__init__(where, f"OperationOutcome with HTTP {status}: {outcome or 'no issues'}")


def outcome_summary(document: Mapping[str, Any] | object, limit: int = 5) -> str:
    """``severity/code`` of an OperationOutcome's issues (``error/not-found, warning/...``);
    '' when ``document`` is not one. Never ``diagnostics`` or ``details`` text."""
    if not isinstance(document, Mapping) or document.get("resourceType") != "OperationOutcome":
        return ""
    issues = document.get("issue")
    parts = []
    for issue in issues if isinstance(issues, list) else ():
        if not isinstance(issue, Mapping):
            continue
        severity, code = issue.get("severity"), issue.get("code")
        parts.append(f"{_token(severity)}/{_token(code)}")
    more = f" (+{len(parts) - limit} more)" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def _token(value: object) -> str:
    """A FHIR code as printed in an error: letters, digits and ``-`` only, at most 32."""
    if not isinstance(value, str):
        return "?"
    kept = "".join(
        char for char in value[:32] if char.isascii() and (char.isalnum() or char == "-")
    )
    return kept or "?"
