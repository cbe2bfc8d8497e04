"""Security headers on every dashboard response, the gate's own refusals included.

Installed outside the access gate (added after it, so it wraps it): a 401/403 the gate answers
for a dashboard path carries the same headers as a page.

- ``Content-Security-Policy``: scripts only from this origin (no inline script, no eval), no
  plug-ins, no framing by anyone (``frame-ancestors 'none'``), forms and fetches to this origin
  only. Inline *style* attributes are allowed: the replay report (shown in a sandboxed frame
  without scripts) carries its own ``<style>``.
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (older browsers),
  ``Referrer-Policy: no-referrer``, ``Cross-Origin-Opener-Policy: same-origin``,
  ``Permissions-Policy`` denying sensors.
- ``Cache-Control: no-store`` on everything under ``/dashboard`` (pages and fragments with data
  must not stay in a shared or back-button cache; the static files are small).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/dashboard"

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), usb=(), payment=()",
    "cache-control": "no-store",
}


class DashboardHeaders:
    """ASGI middleware: ``HEADERS`` on every HTTP response whose path is under ``PREFIX``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
