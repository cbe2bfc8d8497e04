"""The dashboard's page shells and static files: public, and free of data.

A shell is the frame of a view (navigation, forms, empty panels); the browser fills it by
calling the authenticated fragments (``fragments.py``) with the token it holds for this tab.
A shell shows nothing about any patient or the log, so it needs no token (like ``/docs``);
everything with data goes through the access gate and is audited (docs/adr/0101).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from clinflow.api.dashboard.templating import STATIC, render, static_file
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


def _view_page(view: str) -> Callable[[], HTMLResponse]:
    def page() -> HTMLResponse:
        return _shell(view)

    return page


def _static_page(name: str) -> Callable[[], Response]:
    def page() -> Response:
        return static_file(name)

    return page


# One public GET route per view and per static file, each path named in the access table
# (``api/access.py``): no path parameter, so nothing but these is served.
for _view in VIEWS:
    router.add_api_route(f"/{_view}", _view_page(_view), methods=["GET"], name=f"{_view}_page")
for _name in STATIC:
    router.add_api_route(f"/static/{_name}", _static_page(_name), methods=["GET"], name=_name)
