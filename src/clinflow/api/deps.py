"""Dependencies as ``Annotated`` aliases: the log, the token store, the calling principal."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import State

from clinflow.api.auth import Principal, Role, TokenStore
from clinflow.api.errors import Forbidden, Unauthenticated
from clinflow.api.settings import Settings
from clinflow.audit.log import AuditLog

_bearer = HTTPBearer(auto_error=False, description="Token from `clinflow audit token create`.")
_open_lock = threading.Lock()


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_log(request: Request) -> AuditLog:
    """The app's AuditLog, opened on first use (closed by the app's lifespan)."""
    return open_log(request.app.state)


def open_log(state: State) -> AuditLog:
    """The AuditLog held in an app's ``state``, opened on first use."""
    with _open_lock:
        if state.log is None:
            settings: Settings = state.settings
            state.log = AuditLog.open(
                settings.data_dir,
                dsn=settings.dsn,
                origin=settings.origin,
                table_prefix=settings.table_prefix,
                batch_wait=settings.batch_wait,
            )
        log: AuditLog = state.log
    return log


def get_tokens(request: Request) -> TokenStore:
    tokens: TokenStore = request.app.state.tokens
    return tokens


def current_principal(
    request: Request,
    tokens: Annotated[TokenStore, Depends(get_tokens)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal the access gate authenticated (or, without a gate, from the header)."""
    checked: Principal | None = getattr(request.state, "principal", None)
    if checked is not None:
        return checked
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    principal = tokens.authenticate(credentials.credentials)
    if principal is None:
        raise Unauthenticated("invalid or revoked bearer token")
    request.state.principal = principal
    return principal


def _roles(*allowed: Role) -> object:
    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role.value} may not use this endpoint")
        return principal

    return check


AuditLogDep = Annotated[AuditLog, Depends(get_log)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AnyPrincipal = Annotated[Principal, Depends(current_principal)]
# May read entry contents: everyone but machine (service) tokens; patients only their own.
ContentReader = Annotated[
    Principal, Depends(_roles(Role.AUDITOR, Role.PRIVACY_OFFICER, Role.PATIENT))
]
