"""FHIR Bulk Data ``$export`` client (HL7 FHIR Bulk Data Access IG, v2).

The flow, as the IG draws it:

1. kick-off: ``GET [base]/$export`` (or ``Patient/$export``, ``Group/<id>/$export``) with
   ``Accept: application/fhir+json`` and ``Prefer: respond-async``, ``_type`` and ``_since``
   as parameters → ``202 Accepted`` with ``Content-Location``: the status URL;
2. polling the status URL: ``202`` while in progress (``X-Progress`` text, ``Retry-After``
   seconds or date; without one we back off from ``poll_s`` up to ``max_poll_s``), ``429``
   (polled too often: wait as told, not counted as a failure), ``200`` with the manifest
   (``transactionTime``, ``requiresAccessToken``, ``output[]`` and ``error[]`` of
   ``{type, url}``), or a 4xx/5xx with an OperationOutcome: the export failed;
3. downloads: each ``output`` file (ndjson, ``Accept: application/fhir+ndjson``) streamed
   line by line, Patient then Consent files first (``ordering.arrival_rank``); ``error``
   files are ndjson OperationOutcomes, read and reported (``ExportStats.server_errors``);
4. ``DELETE`` of the status URL once done (the server may drop the files) or when the export
   is abandoned (cancelled, failed, too slow: ``max_wait_s``).

The bearer token goes with the downloads only when ``requiresAccessToken`` is true and the
file is on the kick-off's origin; a manifest naming another origin for a file that needs the
token is refused (the token is not handed to a third host).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import orjson

from clinflow.ehr.fhir_client.errors import FhirClientError, outcome_summary
from clinflow.ehr.fhir_client.http import (
    FHIR_JSON,
    FhirHttp,
    http_error,
    json_body,
    retry_after_seconds,
)
from clinflow.ehr.fhir_client.ordering import arrival_rank
from clinflow.ehr.fhir_client.urls import safe_url, same_origin
from clinflow.errors import ConfigError

NDJSON = "application/fhir+ndjson"
EXPORT_OPERATION = "$export"


@dataclass(frozen=True, slots=True)
class ExportFile:
    type: str
    url: str


@dataclass(frozen=True, slots=True)
class ExportManifest:
    transaction_time: str
    requires_access_token: bool
    output: tuple[ExportFile, ...]
    error: tuple[ExportFile, ...]


@dataclass(frozen=True, slots=True)
class ExportLine:
    """One ndjson line of an output file: its bytes and ``<safe file path>:<line>``."""

    payload: bytes
    location: str
    resource_type: str  # the manifest's type of the file


@dataclass(slots=True)
class ExportStats:
    polls: int = 0  # status requests (202s, 429s and the final answer)
    waited_s: float = 0.0  # total wait asked for between polls
    progress: str = ""  # the last X-Progress (printable, at most 80 characters)
    files: int = 0
    lines: int = 0
    server_errors: list[str] = field(default_factory=list)  # "<file>:<line>: severity/code"
    deleted: bool = False


def kickoff_url(url: str, types: Sequence[str] = (), since: str | None = None) -> str:
    """The kick-off URL: ``url`` (``$export`` appended unless it ends with it) with ``_type``
    and ``_since`` added to its own parameters."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("bulk export: expected an http(s) URL of the FHIR server")
    path = parts.path.rstrip("/")
    if not path.endswith(EXPORT_OPERATION):
        path = f"{path}/{EXPORT_OPERATION}"
    params = parse_qsl(parts.query, keep_blank_values=True)
    if types:
        params = [(k, v) for k, v in params if k != "_type"] + [("_type", ",".join(types))]
    if since is not None:
        try:
            datetime.fromisoformat(since)
        except ValueError as exc:
            raise ConfigError("bulk export: _since must be a FHIR instant") from exc
        params = [(k, v) for k, v in params if k != "_since"] + [("_since", since)]
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(params, safe=",$:"), ""))


def parse_manifest(document: object, status_url: str) -> ExportManifest:
    """The completion manifest; ``FhirClientError`` naming the field when it is not one."""
    where = f"GET {safe_url(status_url)}"
    if not isinstance(document, dict):
        raise FhirClientError(where, "export manifest is not a JSON object")

    def files(name: str) -> tuple[ExportFile, ...]:
        items = document.get(name, [])
        if not isinstance(items, list):
            raise FhirClientError(where, f"export manifest: {name} is not a list")
        found = []
        for index, item in enumerate(items):
            kind = item.get("type") if isinstance(item, dict) else None
            url = item.get("url") if isinstance(item, dict) else None
            if not isinstance(url, str) or not url:
                raise FhirClientError(where, f"export manifest: {name}[{index}].url missing")
            found.append(
                ExportFile(kind if isinstance(kind, str) else "", urljoin(status_url, url))
            )
        return tuple(found)

    return ExportManifest(
        transaction_time=str(document.get("transactionTime", "")),
        requires_access_token=document.get("requiresAccessToken") is True,
        output=files("output"),
        error=files("error"),
    )


class BulkExportClient:
    """One export: ``lines()`` runs it from kick-off to cleanup and yields every ndjson line."""

    def __init__(
        self,
        url: str,
        http: FhirHttp,
        *,
        types: Sequence[str] = (),
        since: str | None = None,
        poll_s: float = 2.0,
        max_poll_s: float = 60.0,
        max_wait_s: float = 6 * 3600.0,
    ) -> None:
        self.url = kickoff_url(url, types, since)
        self.http = http
        self.poll_s = poll_s
        self.max_poll_s = max_poll_s
        self.max_wait_s = max_wait_s
        self.stats = ExportStats()
        self.manifest: ExportManifest | None = None

    async def kickoff(self) -> str:
        """Start the export; the status URL."""
        where = f"GET {safe_url(self.url)}"
        response = await self.http.request(
            "GET", self.url, accept=FHIR_JSON, headers={"Prefer": "respond-async"}
        )
        if response.status_code != 202:
            raise http_error(where, response)
        location = str(response.headers.get("Content-Location") or "")
        if not location:
            raise FhirClientError(where, "202 without Content-Location (no status URL)")
        return urljoin(self.url, location)

    async def wait(self, status_url: str) -> ExportManifest:
        """Poll until the manifest (200) or a failure."""
        where = f"GET {safe_url(status_url)}"
        backoff = self.poll_s
        while True:
            response = await self.http.request(
                "GET", status_url, accept="application/json", retry_statuses=frozenset({503})
            )
            self.stats.polls += 1
            if response.status_code == 200:
                try:
                    document = json_body(response)
                except orjson.JSONDecodeError as exc:
                    raise FhirClientError(where, "export manifest is not JSON") from exc
                return parse_manifest(document, status_url)
            if response.status_code not in (202, 429):
                raise http_error(where, response)
            progress = response.headers.get("X-Progress", "")
            self.stats.progress = "".join(c for c in progress[:80] if c.isprintable())
            asked = self._retry_after(response.headers.get("Retry-After"))
            wait = asked if asked is not None else backoff
            if asked is None:
                backoff = min(backoff * 1.5, self.max_poll_s)
            if self.stats.waited_s + wait > self.max_wait_s:
                raise FhirClientError(where, f"export not done after {self.max_wait_s:.0f} s")
            self.stats.waited_s += wait
            await self.http.sleep(wait)

    def _retry_after(self, value: str | None) -> float | None:
        asked = retry_after_seconds(value)
        return None if asked is None else min(asked, self.max_poll_s)

    async def file_lines(
        self, file: ExportFile, manifest: ExportManifest
    ) -> AsyncIterator[ExportLine]:
        """The lines of one output file, streamed."""
        use_token = manifest.requires_access_token
        if use_token and not same_origin(file.url, self.url):
            raise FhirClientError(
                f"GET {safe_url(file.url)}", "file needs the access token but is on another origin"
            )
        path = safe_url(file.url)
        self.stats.files += 1
        async for number, line in self.http.stream_lines(
            file.url, accept=NDJSON, use_token=use_token
        ):
            self.stats.lines += 1
            yield ExportLine(line, f"{path}:{number}", file.type)

    async def read_errors(self, manifest: ExportManifest) -> None:
        """Read the ``error`` files into ``stats.server_errors`` (issue codes only)."""
        for file in manifest.error:
            path = safe_url(file.url)
            use_token = manifest.requires_access_token and same_origin(file.url, self.url)
            async for number, line in self.http.stream_lines(
                file.url, accept=NDJSON, use_token=use_token
            ):
                try:
                    summary = outcome_summary(orjson.loads(line))
                except orjson.JSONDecodeError:
                    summary = "not JSON"
                self.stats.server_errors.append(
                    f"{path}:{number}: {summary or 'not an OperationOutcome'}"
                )

    async def delete(self, status_url: str) -> None:
        """Tell the server it may drop the export (best effort: a failure is not an error)."""
        with contextlib.suppress(FhirClientError):
            response = await self.http.request("DELETE", status_url, accept="application/json")
            self.stats.deleted = response.status_code in (200, 202, 204)

    async def lines(self) -> AsyncGenerator[ExportLine, None]:
        """Run the export: kick-off, poll, stream every output line (Patient, then Consent
        files first), read the error files, DELETE. Cancelled or failed after kick-off: DELETE
        too."""
        status_url = await self.kickoff()
        try:
            manifest = self.manifest = await self.wait(status_url)
            ordered = sorted(manifest.output, key=lambda file: arrival_rank(file.type))
            for file in ordered:
                async for line in self.file_lines(file, manifest):
                    yield line
            await self.read_errors(manifest)
        finally:
            await asyncio.shield(self.delete(status_url))
