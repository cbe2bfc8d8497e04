"""FHIR servers as sources of ``clinflow run``: ``--source fhir:URL`` and ``--source bulk:URL``.

- ``FhirRestSource`` polls a FHIR R4 server over REST. Without ``types`` it lists the
  Patients (``Patient`` search, every page) and reads each one's ``Patient/<id>/$everything``
  (every page; the Patient handed out first, then its Consents: ``arrival_rank``); with
  ``types`` (``fhir:URL?_type=Patient,Observation``) it runs those type searches in that
  order, Patient and Consent first. ``once``: one pass; else a pass every ``poll_s`` seconds.
- ``BulkExportSource`` runs one Bulk Data ``$export`` (``bulk:URL``; ``_type``/``_since``
  from the URL's parameters) and streams its ndjson, one raw envelope per line.

Every resource (or line) becomes one RAW envelope exactly as a file or ndjson line of a
drop folder does (``sources.fhir_envelope``): same bytes, same content id, so a resource
already ingested from any source is dropped by the ledger (re-polling a server or running a
second export re-sends nothing downstream). Envelopes carry ``source_system`` (``fhir:`` /
``bulk:`` + the server's base URL), which ingest names in its AuditEvents, and a PHI-free
``path``: the request with ids masked and the page/entry, or the file path and line number.
A malformed entry, page or line is still handed out: ingest rejects it and the runtime
quarantines it under that location. A request that fails (status, OperationOutcome, paging
leaving the server) is recorded in ``stats.errors`` and logged, and the pass goes on with the
next search; a failed export ends the source with the same record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from clinflow.ehr.fhir_client import (
    BulkExportClient,
    Fetched,
    FhirClientError,
    FhirHttp,
    FhirRestClient,
    RetryPolicy,
    arrival_rank,
    bearer_token,
    system_name,
)
from clinflow.envelope import Envelope, TimedInput
from clinflow.errors import ConfigError
from clinflow.runtime.ingest import SOURCE_SYSTEM_ATTR
from clinflow.runtime.sources import Clock, Sleep, fhir_envelope

log = logging.getLogger("clinflow.sources")
Completed = Callable[[Iterable[str]], set[str]]
BATCH = 256  # resources handed to the ledger check (and out) at once


def parse_server_url(kind: str, text: str) -> tuple[str, list[str], str | None]:
    """(base URL without ``_type``/``_since``, types, since) of ``fhir:URL`` / ``bulk:URL``."""
    url = text.removeprefix(f"{kind}:")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--source {kind}:URL: expected an http(s) URL of a FHIR server")
    if parts.username or parts.password:
        raise ConfigError(f"--source {kind}:URL: no credentials in the URL (use the token env)")
    types: list[str] = []
    since = None
    kept = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "_type":
            types += [t.strip() for t in value.split(",") if t.strip()]
        elif name == "_since":
            since = value
        else:
            kept.append((name, value))
    if any(not t.isalnum() or not t[:1].isupper() for t in types):
        raise ConfigError(f"--source {kind}:URL: _type lists FHIR resource types")
    query = urlencode(kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")), types, since


@dataclass(slots=True)
class FhirSourceStats:
    """What a FHIR source did (the run report's ``fhir_source``)."""

    system: str
    passes: int = 0
    inputs: int = 0
    already_done: int = 0  # content ids the runtime had completed: not handed out again
    malformed: int = 0  # REST pages/entries that are not resources (ingest finds an export's)
    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0  # asked by Retry-After or backoff, export polling included
    pages: int = 0
    export_polls: int = 0
    export_files: int = 0
    server_errors: list[str] = field(default_factory=list)  # Bulk error files' issues
    warnings: list[str] = field(default_factory=list)  # paging loops, outcome entries
    errors: list[str] = field(default_factory=list)  # failed requests (PHI-free)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _ServerSource:
    kind = ""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        completed: Completed | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.url, self.types, self.since = parse_server_url(self.kind, url)
        self.system = system_name(self.kind, self.url)
        self.token = token if token is not None else bearer_token()
        self.timeout_s = timeout_s
        self.retry = retry
        self.completed = completed
        self.clock = clock
        self.sleep = sleep
        self.stats = FhirSourceStats(self.system)

    def _http(self) -> FhirHttp:
        return FhirHttp(
            self.url, token=self.token, timeout_s=self.timeout_s, retry=self.retry,
            sleep=self.sleep,
        )  # fmt: skip

    def _envelopes(self, items: list[tuple[bytes, str]], start: float) -> list[TimedInput]:
        now = datetime.now(UTC)
        envelopes = [self._envelope(payload, location, now) for payload, location in items]
        if self.completed is not None and envelopes:
            done = self.completed([e.message_id for e in envelopes])
            self.stats.already_done += sum(e.message_id in done for e in envelopes)
            envelopes = [e for e in envelopes if e.message_id not in done]
        self.stats.inputs += len(envelopes)
        at = max(0.0, self.clock() - start)
        return [TimedInput(at, envelope) for envelope in envelopes]

    def _envelope(self, payload: bytes, location: str, now: datetime) -> Envelope:
        raw = fhir_envelope(payload, location, now)
        return replace(raw, attributes={**raw.attributes, SOURCE_SYSTEM_ATTR: self.system})

    def _failed(self, exc: FhirClientError) -> None:
        self.stats.errors.append(str(exc))
        log.warning("%s: %s", self.system, exc)

    def _take(self, http: FhirHttp) -> None:
        self.stats.requests = http.stats.requests
        self.stats.retries = http.stats.retries
        self.stats.waited_s = round(http.stats.waited_s, 3)


class FhirRestSource(_ServerSource):
    """``fhir:URL``: searches or ``Patient/$everything`` of every patient, every page."""

    kind = "fhir"

    def __init__(
        self, url: str, *, once: bool = True, poll_s: float = 60.0, **options: Any
    ) -> None:
        super().__init__(url, **options)
        self.once = once
        self.poll_s = poll_s

    async def __aiter__(self) -> AsyncIterator[TimedInput]:
        start = self.clock()
        async with self._http() as http:
            base = urlsplit(self.url)._replace(query="").geturl()
            client = FhirRestClient(base, http)
            try:
                while True:
                    self.stats.passes += 1
                    batches = self._by_type(client) if self.types else self._everything(client)
                    async for batch in batches:
                        for item in self._envelopes(batch, start):
                            yield item
                    if self.once:
                        return
                    await self.sleep(self.poll_s)
            finally:
                self._take(http)
                self.stats.pages = client.stats.pages
                self.stats.malformed = client.stats.malformed
                self.stats.warnings = list(client.stats.warnings)

    def _params(self, own: dict[str, str]) -> dict[str, str]:
        """The URL's other parameters (``_count``, a server's own) with a search's own."""
        return {**dict(parse_qsl(urlsplit(self.url).query)), **own}

    async def _by_type(self, client: FhirRestClient) -> AsyncIterator[list[tuple[bytes, str]]]:
        ordered = sorted(self.types, key=arrival_rank)
        params = self._params({"_lastUpdated": f"ge{self.since}"} if self.since else {})
        for resource_type in ordered:
            batch: list[tuple[bytes, str]] = []
            try:
                async for fetched in client.search(resource_type, params):
                    batch.append((fetched.payload, fetched.location))
                    if len(batch) >= BATCH:
                        yield batch
                        batch = []
            except FhirClientError as exc:
                self._failed(exc)
            if batch:
                yield batch

    async def _everything(self, client: FhirRestClient) -> AsyncIterator[list[tuple[bytes, str]]]:
        patient_ids: list[str] = []
        try:
            async for fetched in client.search("Patient", self._params({})):
                patient_id = _id_of(fetched)
                if patient_id is not None and patient_id not in patient_ids:
                    patient_ids.append(patient_id)
                elif patient_id is None:  # not a Patient at all: ingest quarantines it
                    yield [(fetched.payload, fetched.location)]
        except FhirClientError as exc:
            self._failed(exc)
        params = {"_since": self.since} if self.since else None  # $everything's own
        for patient_id in patient_ids:
            record: list[Fetched] = []
            try:
                async for fetched in client.everything(patient_id, params):
                    record.append(fetched)
            except FhirClientError as exc:
                self._failed(exc)  # the pages read so far still go in
            # the Patient first (its data's references resolve through it at ingest), then
            # its Consents (the gate knows them before the data they govern)
            record.sort(key=lambda fetched: arrival_rank(fetched.resource_type))
            yield [(fetched.payload, fetched.location) for fetched in record]


def _id_of(fetched: Fetched) -> str | None:
    if fetched.resource_type != "Patient" or fetched.malformed:
        return None
    identifier = orjson.loads(fetched.payload).get("id")
    return identifier if isinstance(identifier, str) and identifier else None


class BulkExportSource(_ServerSource):
    """``bulk:URL``: one ``$export``, every ndjson line of its output files."""

    kind = "bulk"

    def __init__(self, url: str, *, poll_s: float = 2.0, **options: Any) -> None:
        super().__init__(url, **options)
        self.poll_s = poll_s
        self.export: BulkExportClient | None = None

    async def __aiter__(self) -> AsyncIterator[TimedInput]:
        start = self.clock()
        self.stats.passes = 1
        async with self._http() as http:
            export = self.export = BulkExportClient(
                self.url, http, types=self.types, since=self.since, poll_s=self.poll_s
            )
            batch: list[tuple[bytes, str]] = []
            lines = export.lines()
            try:
                async for line in lines:
                    batch.append((line.payload, line.location))
                    if len(batch) >= BATCH:
                        for item in self._envelopes(batch, start):
                            yield item
                        batch = []
            except FhirClientError as exc:
                self._failed(exc)
            finally:
                # stopped mid-export (aclose, cancel): the export's DELETE runs now, while
                # the connection is open, not whenever the generator is collected
                await lines.aclose()
                self._take(http)
                self.stats.waited_s = round(http.stats.waited_s + export.stats.waited_s, 3)
                self.stats.export_polls = export.stats.polls
                self.stats.export_files = export.stats.files
                self.stats.server_errors = list(export.stats.server_errors)
                if export.stats.server_errors:
                    log.warning(
                        "%s: the export's error files list %d issue(s)",
                        self.system, len(export.stats.server_errors),
                    )  # fmt: skip
            for item in self._envelopes(batch, start):  # the lines read before an error too
                yield item


def server_source(
    kind: str, url: str, *, once: bool, completed: Completed | None = None
) -> FhirRestSource | BulkExportSource:
    """The source of ``--source fhir:URL`` or ``bulk:URL``."""
    if kind == "bulk":
        return BulkExportSource(url, completed=completed)
    return FhirRestSource(url, once=once, completed=completed)


def describe(kind: str, url: str) -> str:
    """The run report's name of the source: ``kind:`` + the server (no query, no credentials)."""
    return system_name(kind, parse_server_url(kind, url)[0])
