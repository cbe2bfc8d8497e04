"""The browser dashboard served by the audit-query app (``clinflow serve api|all``, at
``/dashboard``): live pipeline, patient view, audit search with in-page proof verification,
consent revocation with its receipt, replay reports. docs/adr/0101.

Page shells and static files are public and hold no data (``pages``); every fragment with data
is a gated, audited route (``fragments``); ``headers`` adds the security headers.
"""

from __future__ import annotations

from fastapi import FastAPI

from clinflow.api.dashboard import fragments, pages
from clinflow.api.dashboard.headers import DashboardHeaders


def install(app: FastAPI) -> None:
    """Mount the dashboard on ``app`` (call after the access gate is added)."""
    app.include_router(pages.router)
    app.include_router(fragments.router)
    app.add_middleware(DashboardHeaders)
