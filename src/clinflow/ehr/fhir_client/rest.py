"""FHIR R4 REST client: type searches and ``Patient/$everything``, every page.

Paging follows ``link[relation=next]`` (``urls.next_link``: absolute, path-absolute or
relative links, same origin only) and stops at a link it has already fetched (a server that
loops) or after ``max_pages``. Each resource is handed out once per traversal (a resource
repeated on two pages, as servers with unstable paging do, comes once).

Tolerated quirks (servers seen doing each):

- an OperationOutcome as the whole body of a 200 → ``FhirOutcomeError`` (not data);
- OperationOutcome entries in a searchset (``search.mode = outcome``) → skipped, counted in
  ``warnings`` with their issue codes;
- a Bundle without ``entry`` (an empty last page) or without ``total`` → fine;
- a single resource instead of a Bundle → that resource;
- resources with ``contained`` resources → handed out whole (the contained ones belong to it);
- an entry without a resource, or a resource without ``resourceType`` → handed out as is,
  flagged ``malformed``: ingest rejects and quarantines it with its location;
- a page that is not JSON → its bytes handed out, ``malformed``; paging of that search stops
  (there is no next link to read).

``Fetched.location`` names the request (``safe_url``), the page and the entry, never an id.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from clinflow.ehr.fhir_client.errors import FhirClientError, outcome_summary
from clinflow.ehr.fhir_client.http import FHIR_JSON, FhirHttp, http_error, json_body
from clinflow.ehr.fhir_client.urls import LinkError, next_link, safe_url


@dataclass(frozen=True, slots=True)
class Fetched:
    """One resource as fetched: its JSON bytes, where it came from, its type (None when it is
    not a resource at all: ``malformed``)."""

    payload: bytes
    location: str
    resource_type: str | None
    malformed: bool = False


@dataclass(slots=True)
class RestStats:
    pages: int = 0
    resources: int = 0
    repeated: int = 0  # the same resource again on a later page of one traversal
    malformed: int = 0
    warnings: list[str] = field(default_factory=list)  # PHI-free, one line each


class FhirRestClient:
    """Searches and ``$everything`` against ``base_url`` (e.g. ``http://host/fhir``)."""

    def __init__(self, base_url: str, http: FhirHttp, *, max_pages: int = 10_000) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.max_pages = max_pages
        self.stats = RestStats()

    def search_url(self, resource_type: str, params: Mapping[str, str] | None = None) -> str:
        query = f"?{urlencode(dict(params))}" if params else ""
        return f"{self.base_url}/{quote(resource_type, safe='')}{query}"

    def everything_url(self, patient_id: str, params: Mapping[str, str] | None = None) -> str:
        query = f"?{urlencode(dict(params))}" if params else ""
        return f"{self.base_url}/Patient/{quote(patient_id, safe='')}/$everything{query}"

    async def search(
        self, resource_type: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[Fetched]:
        """Every resource a search finds, over all its pages."""
        async for item in self.resources(self.search_url(resource_type, params)):
            yield item

    async def everything(
        self, patient_id: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[Fetched]:
        """Every resource of ``Patient/<id>/$everything``, over all its pages."""
        async for item in self.resources(self.everything_url(patient_id, params)):
            yield item

    async def resources(self, url: str) -> AsyncIterator[Fetched]:
        """The resources of the searchset at ``url`` and of every next page."""
        seen: set[bytes] = set()
        async for page, document, body in self.pages(url):
            where = f"{safe_url(url)} page {page}"
            if document is None:
                self.stats.malformed += 1
                yield Fetched(body, where, None, malformed=True)
                continue
            for item in self._page_resources(document, where):
                digest = hashlib.sha256(item.payload).digest()
                if digest in seen:
                    self.stats.repeated += 1
                    continue
                seen.add(digest)
                self.stats.resources += 1
                self.stats.malformed += item.malformed
                yield item

    async def pages(self, url: str) -> AsyncIterator[tuple[int, dict[str, Any] | None, bytes]]:
        """(page number, parsed body or None when not a JSON object, raw body) of each page."""
        visited: set[str] = set()
        current: str | None = url
        page = 0
        while current is not None:
            if current in visited:
                self.stats.warnings.append(f"{safe_url(url)}: paging loop at page {page + 1}")
                return
            if page >= self.max_pages:
                self.stats.warnings.append(f"{safe_url(url)}: stopped after {page} pages")
                return
            visited.add(current)
            page += 1
            where = f"GET {safe_url(current)}"
            response = await self.http.request("GET", current, accept=FHIR_JSON)
            if response.status_code != 200:
                raise http_error(where, response)
            self.stats.pages += 1
            try:
                document = json_body(response)
            except orjson.JSONDecodeError:
                document = None
            if not isinstance(document, dict):
                self.stats.warnings.append(f"{where} page {page}: not a JSON object")
                yield page, None, response.content
                return
            summary = outcome_summary(document)
            if summary or document.get("resourceType") == "OperationOutcome":
                raise http_error(where, response)
            yield page, document, response.content
            try:
                current = next_link(document, current)
            except LinkError as exc:
                raise FhirClientError(where, str(exc)) from exc

    def _page_resources(self, document: dict[str, Any], where: str) -> list[Fetched]:
        if document.get("resourceType") != "Bundle":
            kind = document.get("resourceType")
            if isinstance(kind, str):
                return [Fetched(orjson.dumps(document), where, kind)]
            return [Fetched(orjson.dumps(document), where, None, malformed=True)]
        entries = document.get("entry")
        found = []
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            at = f"{where} entry[{index}]"
            resource = entry.get("resource") if isinstance(entry, dict) else None
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            mode = entry.get("search", {}) if isinstance(entry, dict) else {}
            is_outcome = kind == "OperationOutcome" or (
                isinstance(mode, dict) and mode.get("mode") == "outcome"
            )
            if is_outcome:
                self.stats.warnings.append(f"{at}: {outcome_summary(resource) or 'outcome'}")
                continue
            if isinstance(kind, str) and kind:
                found.append(Fetched(orjson.dumps(resource), at, kind))
            else:
                found.append(Fetched(orjson.dumps(entry), at, None, malformed=True))
        return found
