"""URLs of a FHIR server: PHI-free names for errors and locations, paging links.

- ``safe_url``: the path with resource ids masked (``/fhir/Patient/{id}/$everything``) and
  the query's parameter names only (``/fhir/Observation?patient&_count``). Query values and
  logical ids can be identifiers (``identifier=MRN``, ``Patient/<id>``); what names a request
  in an error, a log line, a quarantine location or an audit entry is this form.
- ``system_name``: the server as named in ingest AuditEvents (``fhir:`` / ``bulk:`` + scheme,
  host, port and base path; never credentials, query or fragment).
- ``next_link``: the ``link[relation=next]`` of a Bundle, resolved against the page's own URL
  (servers send absolute, path-absolute and query-only relative links), or None. Never
  raises on any JSON; only http(s) links on the page's origin are followed: a link to another
  origin would carry the bearer token elsewhere (a proxied server that advertises its
  internal address is a known quirk; it is refused with a clear error, not followed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urljoin, urlsplit, urlunsplit

_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_SCHEMES = ("http", "https")
ID_MASK = "{id}"


class LinkError(ValueError):
    """A ``next`` link that cannot be followed (another origin, not http(s))."""


def _split(url: str) -> SplitResult:
    return urlsplit(url.strip())


def safe_url(url: str) -> str:
    """``/base/Type/{id}/...?name1&name2``: path with ids masked, parameter names only."""
    try:
        parts = _split(url)
    except ValueError:
        return "(unparseable URL)"
    segments = parts.path.split("/")
    masked = []
    after_type = False
    for segment in segments:
        if after_type and segment and not segment.startswith(("$", "_")):
            masked.append(ID_MASK)
            after_type = False
            continue
        masked.append(segment)
        after_type = bool(_RESOURCE_TYPE.match(segment))
    path = "/".join(masked)
    names = []
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if name not in names:
            names.append(name)
    printable = "".join(char if char.isprintable() else "?" for char in path)
    return printable + ("?" + "&".join(names) if names else "")


def system_name(kind: str, url: str) -> str:
    """``kind:scheme://host[:port]/path`` of a server (no credentials, query or fragment)."""
    parts = _split(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{kind}:{urlunsplit((parts.scheme, host + port, parts.path.rstrip('/'), '', ''))}"


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    parts = _split(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def same_origin(url: str, other: str) -> bool:
    try:
        return origin(url) == origin(other)
    except ValueError:
        return False


def next_link(bundle: Mapping[str, Any] | object, page_url: str) -> str | None:
    """The absolute URL of the Bundle's ``next`` page, None when there is none.

    Raises ``LinkError`` for a link that must not be followed (other origin, not http(s)).
    """
    if not isinstance(bundle, Mapping):
        return None
    links = bundle.get("link")
    for link in links if isinstance(links, list) else ():
        if not isinstance(link, Mapping):
            continue
        relation, target = link.get("relation"), link.get("url")
        if not isinstance(relation, str) or relation.strip().lower() != "next":
            continue
        if not isinstance(target, str) or not target.strip():
            continue
        try:
            resolved = urljoin(page_url, target.strip())
            parts = _split(resolved)
            same = parts.scheme.lower() in _SCHEMES and same_origin(resolved, page_url)
        except ValueError as exc:
            raise LinkError("next link is not a URL") from exc
        if not same:
            raise LinkError("next link leaves the server (another scheme, host or port)")
        return urlunsplit(parts._replace(fragment=""))
    return None
