"""The dashboard's page shells and static files: public, and free of data.

A shell is the frame of a view (navigation, forms, empty panels); the browser fills it by
calling the authenticated fragments (``fragments.py``) with the token it holds for this tab.
A shell shows nothing about any patient or the log, so it needs no token (like ``/docs``);
everything with data goes through the access gate and is audited (docs/adr/0101).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from clinflow.api.dashboard.templating import render, static_file
from clinflow.audit.events import EventCode

router = APIRouter(prefix="/dashboard", include_in_schema=False)

VIEWS = {
    "pipeline": "Pipeline",
    "patient": "Patient",
    "audit": "Audit log",
    "consent": "Consent",
    "replays": "Replay reports",
}


def _shell(view: str) -> HTMLResponse:
    return render(f"{view}.html", view=view, views=VIEWS, codes=[c.value for c in EventCode])


@router.get("")
def login_page() -> HTMLResponse:
    """Sign in with an API token (`clinflow audit token create --role ...`)."""
    return render("login.html", view="login", views=VIEWS)


@router.get("/pipeline")
def pipeline_page() -> HTMLResponse:
    return _shell("pipeline")


@router.get("/patient")
def patient_page() -> HTMLResponse:
    return _shell("patient")


@router.get("/audit")
def audit_page() -> HTMLResponse:
    return _shell("audit")


@router.get("/consent")
def consent_page() -> HTMLResponse:
    return _shell("consent")


@router.get("/replays")
def replays_page() -> HTMLResponse:
    return _shell("replays")


@router.get("/static/dashboard.js")
def dashboard_js() -> Response:
    return static_file("dashboard.js")


@router.get("/static/proof.js")
def proof_js() -> Response:
    return static_file("proof.js")


@router.get("/static/dashboard.css")
def dashboard_css() -> Response:
    return static_file("dashboard.css")
