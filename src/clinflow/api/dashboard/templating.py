"""The dashboard's Jinja2 environment (templates shipped in the package, autoescaped) and its
static files (a fixed list: nothing else under the package is served)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

STATIC = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "proof.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("clinflow.api.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """An HTML response from ``template`` (every value escaped unless marked safe)."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


@lru_cache(maxsize=len(STATIC))
def _static_bytes(name: str) -> bytes:
    return files("clinflow.api.dashboard").joinpath("static", name).read_bytes()


def static_file(name: str) -> Response:
    """One of the ``STATIC`` files (a KeyError for anything else: callers pass constants)."""
    return Response(_static_bytes(name), media_type=STATIC[name])
