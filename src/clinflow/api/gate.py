"""The access gate in front of every clinflow HTTP app (audit API, consent, scoring).

Pure ASGI, so it runs before the framework reads or parses anything:

1. the route is matched against the app's own routes and its rule looked up in
   ``clinflow.api.access`` (a route without a rule is denied);
2. the bearer token is checked from the headers alone; a missing or invalid token answers
   401 *without reading the body*, and each client address has a token bucket of such
   refusals (then 429) whose AuditEvents are coalesced per window (ADR 0081);
3. role and patient scope (``{patient}`` in the path of a ``Scope.PATH`` route) -> 403;
4. the body is read here, at most the route's limit (Content-Length first, then the bytes
   actually streamed, so chunked bodies are bounded too) -> 413, and replayed to the app;
   a ``streamed`` route (STOW-RS) gets the body as it arrives, counted against its limit
   (past it the route's receive raises and the gate answers 413);
5. the call is audited with the caller's principal after the response, also when the app
   raised (recorded as a 500, then re-raised).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinflow.api.access import Rule, app_routes, rule_for
from clinflow.api.access import Scope as PatientScope
from clinflow.api.auth import Authenticator, Principal, Role
from clinflow.api.settings import Limits
from clinflow.asgi import send_json
from clinflow.audit import events as audit_events
from clinflow.errors import ClinflowError
from clinflow.interfaces import AuditSink
from clinflow.patient_ids import PSEUDONYM_RE

DENY = Rule()  # a route missing from the access table: no role may call it
AUDIT_UNAVAILABLE = "audit trail unavailable: response not released, retry later"
_log = logging.getLogger("clinflow.api")
MAX_CLIENTS = 10_000  # per-client state kept for refusals (bounded memory under a flood)


class BodyTooLarge(Exception):
    """The request body exceeds the route's limit."""


class TokenBuckets:
    """One token bucket per client address: ``rate`` tokens/s up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float) -> bool:
        with self._lock:
            tokens, stamp = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if len(self._buckets) >= MAX_CLIENTS and client not in self._buckets:
                self._buckets.clear()  # a flood from many addresses: start over, stay bounded
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return False
            self._buckets[client] = (tokens - 1.0, now)
            return True


@dataclass(slots=True)
class _Window:
    start: float
    method: str
    path: str
    status: int
    repeats: int = 0  # refusals after the first one (which is audited at once)


@dataclass(slots=True)
class RefusalLedger:
    """Coalesces the AuditEvents of unauthenticated refusals: per client and window, the first
    refusal is audited at once, the rest as one event with their count when the window ends
    (at the next refusal or sweep after it, or at shutdown)."""

    window: float
    _open: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(
        self, client: str, method: str, path: str, status: int, now: float
    ) -> list[tuple[str, _Window, int]]:
        """Record one refusal; return (client, window, count) events to write now."""
        out: list[tuple[str, _Window, int]] = []
        with self._lock:
            current = self._open.get(client)
            if current is not None and now - current.start < self.window:
                current.repeats += 1
                current.method, current.path, current.status = method, path, status
                return out
            if current is not None and current.repeats:
                out.append((client, current, current.repeats))
            if len(self._open) >= MAX_CLIENTS:
                out.extend(self._drain(lambda w: True))
            fresh = _Window(now, method, path, status)
            self._open[client] = fresh
            out.append((client, fresh, 1))
        return out

    def sweep(self, now: float) -> list[tuple[str, _Window, int]]:
        """Close the windows that ended; return their coalesced events."""
        with self._lock:
            return self._drain(lambda w: now - w.start >= self.window)

    def flush(self) -> list[tuple[str, _Window, int]]:
        with self._lock:
            return self._drain(lambda w: True)

    def _drain(self, done: Callable[[_Window], bool]) -> list[tuple[str, _Window, int]]:
        closed = [(c, w) for c, w in self._open.items() if done(w)]
        for client, _ in closed:
            del self._open[client]
        return [(c, w, w.repeats) for c, w in closed if w.repeats]


_Compiled = tuple["re.Pattern[str]", dict[str, Convertor[Any]], frozenset[str], str]


def _compile(template: str) -> tuple[re.Pattern[str], dict[str, Convertor[Any]]]:
    regex, _format, convertors = compile_path(template)
    return regex, convertors


@dataclass(eq=False, repr=False)  # one per app, compared by identity
class GateControl:
    """What a gate needs, shared by the app that owns it (which flushes it at shutdown)."""

    app_name: str
    routes: Callable[[], list[BaseRoute]]
    authenticator: Authenticator
    limits: Limits
    audit: Callable[[], AuditSink | None]
    source: str = "clinflow/api"
    buckets: TokenBuckets = field(init=False)
    refusals: RefusalLedger = field(init=False)
    _next_sweep: float = field(default=0.0, init=False)
    _compiled: list[_Compiled] = field(default_factory=list, init=False)
    _compiled_for: int = field(default=-1, init=False)

    def __post_init__(self) -> None:
        self.buckets = TokenBuckets(self.limits.refused_per_second, self.limits.refused_burst)
        self.refusals = RefusalLedger(self.limits.refusal_window_s)

    def compiled(self) -> list[_Compiled]:
        """The app's routes as (regex, convertors, methods, template), rebuilt when the app's
        route list changes length (routes are declared before serving; this catches a late
        ``include_router`` or route, so no route escapes the table)."""
        routes = self.routes()
        if len(routes) != self._compiled_for:
            self._compiled = [
                (*_compile(template), methods, template) for template, methods in app_routes(routes)
            ]
            self._compiled_for = len(routes)
        return self._compiled

    def match(self, scope: Scope) -> tuple[Rule, str, dict[str, Any]] | None:
        """(rule, route template, path params) of the route this request reaches, or None when
        no route does (the app answers 404/405 without reading the body). A route missing
        from the access table gets ``DENY``."""
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        method = scope["method"]
        for regex, convertors, methods, template in self.compiled():
            found = regex.match(path)
            if found is None or (methods and method not in methods):
                continue
            params = {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
            return rule_for(self.app_name, method, template) or DENY, template, params
        return None

    def write(self, events: list[dict[str, Any]]) -> None:
        """Append events to the app's audit sink (blocking: call from a worker thread)."""
        if not events:
            return
        sink = self.audit()
        if sink is None:
            return
        for event in events:
            sink.append(event)

    async def write_quietly(self, events: list[dict[str, Any]]) -> None:
        """``write`` off the loop; an unavailable log is logged (no PHI), not raised: these
        records describe refusals already answered."""
        if not events:
            return
        try:
            await run_in_threadpool(self.write, events)
        except ClinflowError as exc:
            _log.warning("audit of refused calls failed (%s)", type(exc).__name__)

    def coalesced(self, windows: list[tuple[str, _Window, int]]) -> list[dict[str, Any]]:
        return [
            audit_events.api_query(
                agent="anonymous",
                role="none",
                method=w.method,
                path=w.path[:200],
                status_code=w.status,
                client=client,
                count=count,
                source=self.source,
            )
            for client, w, count in windows
        ]

    def due(self, now: float) -> list[tuple[str, _Window, int]]:
        if now < self._next_sweep:
            return []
        self._next_sweep = now + max(self.limits.refusal_window_s / 4, 0.05)
        return self.refusals.sweep(now)

    def flush(self) -> None:
        """Write the coalesced refusals still open (app shutdown)."""
        try:
            self.write(self.coalesced(self.refusals.flush()))
        except ClinflowError as exc:
            _log.warning("audit of refused calls failed at shutdown (%s)", type(exc).__name__)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or raise BodyTooLarge past ``limit`` bytes; None if the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def refusal(message: str) -> dict[str, str]:
    """The small JSON body of a refusal (the same ``detail`` key as the apps' errors)."""
    return {"detail": message}


class AccessGate:
    """ASGI middleware applying ``GateControl`` to every HTTP request of ``app``."""

    def __init__(self, app: ASGIApp, control: GateControl) -> None:
        self.app = app
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        control = self.control
        now = time.monotonic()
        ended = control.due(now)
        if ended:
            await control.write_quietly(control.coalesced(ended))
        found = control.match(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        rule, template, params = found
        default = control.limits.max_streamed_bytes if rule.streamed else None
        limit = rule.max_body or default or control.limits.max_body_bytes
        if rule.audit_template:  # the path holds identifiers (a study UID): not in the log
            scope.setdefault("state", {})["audit_path"] = template
        if rule.public:
            await self._forward(scope, receive, send, limit, None, rule, params)
            return
        token = _bearer(scope)
        principal = control.authenticator.authenticate(token) if token else None
        if principal is None:
            await self._unauthenticated(scope, send, now, template)
            return
        scope.setdefault("state", {})["principal"] = principal
        denied = _denied(rule, principal, params)
        if denied is not None:
            await send_json(send, 403, refusal(denied))
            await self._audit_quietly(scope, principal, 403, params, rule)
            return
        await self._forward(scope, receive, send, limit, principal, rule, params)

    async def _unauthenticated(self, scope: Scope, send: Send, now: float, template: str) -> None:
        """401 (or 429 past the client's bucket), audited coalesced under the route template:
        an anonymous caller's path (which may hold anything typed) never enters the log."""
        control = self.control
        client = (scope.get("client") or ("unknown", 0))[0]
        if control.buckets.take(client, now):
            status, message = 401, "missing, invalid or revoked bearer token"
            headers = [(b"www-authenticate", b"Bearer")]
        else:
            status, message = 429, "too many unauthenticated requests from this address"
            headers = [(b"retry-after", b"1")]
        await send_json(send, status, refusal(message), headers=headers)
        windows = control.refusals.note(client, scope["method"], template, status, now)
        await control.write_quietly(control.coalesced(windows))

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        principal: Principal | None,
        rule: Rule,
        params: dict[str, Any],
    ) -> None:
        declared = _content_length(scope)
        try:
            if declared is not None and (declared < 0 or declared > limit):
                raise BodyTooLarge
            body = None if rule.streamed else await read_body(receive, limit)
        except BodyTooLarge:
            await self._too_large(scope, send, limit, principal, params, rule)
            return
        if body is None and not rule.streamed:
            return
        replayed = False
        counted = 0

        async def replay() -> Message:
            nonlocal replayed, counted
            if body is None:  # streamed: pass the body on as it arrives, bounded
                message = await receive()
                counted += len(message.get("body", b""))
                if counted > limit:
                    raise BodyTooLarge
                return message
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        # An audited call's response is held until its AuditEvent is durable: no disclosure
        # without its record (a failed append answers 503 and releases nothing).
        held: list[Message] | None = [] if principal is not None and rule.audited else None

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            if held is None:
                await send(message)
            else:
                held.append(message)

        try:
            await self.app(scope, replay, capture)
        except BodyTooLarge:  # a streamed body past its limit (its route cleaned up)
            await self._too_large(scope, send, limit, principal, params, rule)
            return
        except Exception:
            if principal is not None:
                await self._audit_quietly(scope, principal, 500, params, rule)
            for message in held or ():  # the inner app's own 500, if it wrote one
                await send(message)
            raise
        if held is not None and principal is not None:
            try:
                await self._audit(scope, principal, status, params, rule, refused=status >= 400)
            except ClinflowError as exc:
                _log.warning("audit append failed (%s): response withheld", type(exc).__name__)
                await send_json(send, 503, refusal(AUDIT_UNAVAILABLE))
                return
            for message in held:
                await send(message)
        elif principal is not None and status in (401, 403, 413):
            await self._audit_quietly(scope, principal, status, params, rule)

    async def _too_large(
        self,
        scope: Scope,
        send: Send,
        limit: int,
        principal: Principal | None,
        params: dict[str, Any],
        rule: Rule,
    ) -> None:
        await send_json(send, 413, refusal(f"request body exceeds {limit} bytes"))
        if principal is not None:
            await self._audit_quietly(scope, principal, 413, params, rule)

    async def _audit_quietly(
        self, scope: Scope, principal: Principal, status: int, params: dict[str, Any], rule: Rule
    ) -> None:
        """Audit a refusal or failure whose response is already decided; an unavailable log
        is logged (no PHI), not raised over the answer."""
        try:
            await self._audit(scope, principal, status, params, rule, refused=True)
        except ClinflowError as exc:
            _log.warning("audit of a refused or failed call failed (%s)", type(exc).__name__)

    async def _audit(
        self,
        scope: Scope,
        principal: Principal,
        status: int,
        params: dict[str, Any],
        rule: Rule,
        *,
        refused: bool,
    ) -> None:
        state = scope.get("state", {})
        event = audit_events.api_query(
            agent=principal.agent,
            role=principal.role.value,
            method=scope["method"],
            path=str(state.get("audit_path") or scope["path"])[:200],
            query=scope.get("query_string", b"").decode("latin-1")[:1000],
            status_code=status,
            patient=_indexed_patient(principal, state, params, rule, refused),
            result_count=state.get("result_count"),
            source=self.control.source,
        )
        await run_in_threadpool(self.control.write, [event])


def _denied(rule: Rule, principal: Principal, params: dict[str, Any]) -> str | None:
    if principal.role not in rule.roles:
        return f"role {principal.role.value} may not use this endpoint"
    if (
        principal.role is Role.PATIENT
        and rule.scope is PatientScope.PATH
        and params.get("patient") != principal.patient
    ):
        return "this token is scoped to another patient"
    return None


def _indexed_patient(
    principal: Principal, state: dict[str, Any], params: dict[str, Any], rule: Rule, refused: bool
) -> str | None:
    """The patient an api-query event is indexed under (its accounting shows the access).

    A patient token's calls are always indexed under its own patient: a refused probe of
    another patient's entry disclosed nothing about that patient. Other callers: the patient
    the route reports it served (``request.state.audit_patient``), else the ``{patient}`` of a
    successful patient-scoped route; refusals of other callers are indexed under nobody.
    """
    if principal.role is Role.PATIENT:
        return principal.patient
    if refused:
        return None
    patient = state.get("audit_patient")
    if patient is None and rule.scope is PatientScope.PATH:
        patient = params.get("patient")
    return patient if isinstance(patient, str) and PSEUDONYM_RE.match(patient) else None
