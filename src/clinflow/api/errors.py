"""API-level errors (still ``ClinflowError``s) and the one handler mapping them to HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

# The clinflow hierarchy, qualified here so the table below shows which errors are the core's
# and which (NotFound, Unauthenticated, Forbidden, BadParameter) the API adds to it.
from clinflow import errors as core


class NotFound(core.ClinflowError):
    """The requested entry or checkpoint does not exist (or is outside the caller's scope)."""


class Unauthenticated(core.ClinflowError):
    """No valid bearer token."""


class Forbidden(core.ClinflowError):
    """The token's role or patient scope does not allow this request."""


class BadParameter(core.ConfigError):
    """A request parameter is invalid; the message names it."""

    def __init__(self, parameter: str, problem: str) -> None:
        self.parameter = parameter
        super().__init__(f"parameter '{parameter}': {problem}")


STATUS: list[tuple[type[core.ClinflowError], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (core.ConsentDenied, 403),
    (NotFound, 404),
    (BadParameter, 422),
    (core.ConfigError, 422),
    (core.InputRejected, 422),
    (core.AuditIntegrityError, 409),
    (core.KeyError_, 503),
    (core.AuditUnavailable, 503),
]


def status_for(exc: core.ClinflowError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] in ("query", "path", "header", "body"):
        return f"{parts[0]} parameter '{'.'.join(parts[1:])}'"
    return ".".join(parts)


def install(app: FastAPI) -> None:
    """Register the single ClinflowError handler and a clearer 422 for validation errors."""

    @app.exception_handler(core.ClinflowError)
    async def clinflow_error(request: Request, exc: core.ClinflowError) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        detail = str(exc) if status < 500 else "internal error"
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{_location(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)
