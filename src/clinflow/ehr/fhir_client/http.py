"""The HTTP layer of the FHIR clients: httpx, bearer token, timeouts, retries.

- Token: ``CLINFLOW_FHIR_TOKEN`` (the token) or ``CLINFLOW_FHIR_TOKEN_FILE`` (a file holding
  it), read by ``bearer_token``; never from code or the command line (it would show in
  ``ps`` and shell history). It goes only to the origin it was given for (``token_origin``);
  httpx drops it on a redirect to another origin.
- Retries: 429 and 503 (and a connection or read failure) are retried up to
  ``RetryPolicy.attempts`` times, waiting what ``Retry-After`` says (seconds or an HTTP
  date), else an exponential backoff; every wait is capped at ``max_wait_s`` and goes through
  the injectable ``sleep`` (tests count the waits instead of sleeping).
- Errors name the method and ``safe_url`` (``FhirClientError``), never a query value or body.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import orjson

from clinflow.ehr.fhir_client.errors import (
    FhirClientError,
    FhirHttpError,
    FhirOutcomeError,
    outcome_summary,
)
from clinflow.ehr.fhir_client.urls import safe_url, same_origin
from clinflow.errors import ConfigError

TOKEN_ENV = "CLINFLOW_FHIR_TOKEN"
TOKEN_FILE_ENV = "CLINFLOW_FHIR_TOKEN_FILE"
FHIR_JSON = "application/fhir+json"
RETRY_STATUSES = frozenset({429, 503})
_CHUNK = 1 << 16

Sleep = Callable[[float], Awaitable[None]]


def bearer_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The FHIR server's bearer token from the environment or the key file it names."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV)
    path = env.get(TOKEN_FILE_ENV)
    if token is None and path:
        try:
            token = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{TOKEN_FILE_ENV}: cannot read the token file") from exc
        if not token.strip():
            raise ConfigError(f"{TOKEN_FILE_ENV}: the token file is empty")
    if token is None:
        return None
    token = token.strip()
    if not token or any(char.isspace() or not char.isprintable() for char in token):
        raise ConfigError(f"{TOKEN_ENV}: a bearer token is one printable word")
    return token


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delay-seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6  # tries per request, the first included
    backoff_s: float = 0.5  # first wait without Retry-After; doubles each try
    max_wait_s: float = 120.0  # no single wait longer, whatever Retry-After says


@dataclass(slots=True)
class HttpStats:
    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0  # total of the waits asked for (Retry-After or backoff)
    statuses: dict[int, int] = field(default_factory=dict)


class FhirHttp:
    """One httpx client with the token, timeouts and retry policy of one FHIR server."""

    def __init__(
        self,
        token_origin: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token_origin = token_origin
        self.token = token
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.stats = HttpStats()
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), transport=transport, follow_redirects=True
        )

    async def __aenter__(self) -> FhirHttp:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    def headers(
        self, url: str, accept: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        headers = {"Accept": accept, **(extra or {})}
        if self.token and same_origin(url, self.token_origin):
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def request(
        self,
        method: str,
        url: str,
        *,
        accept: str = FHIR_JSON,
        headers: Mapping[str, str] | None = None,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
    ) -> httpx.Response:
        """The answer to ``method url`` (any status but a retried one; the caller checks)."""
        where = f"{method} {safe_url(url)}"
        for attempt in range(1, self.retry.attempts + 1):
            try:
                self.stats.requests += 1
                response = await self.client.request(
                    method, url, headers=self.headers(url, accept, headers)
                )
            except httpx.HTTPError as exc:
                if attempt == self.retry.attempts or not _retryable(exc):
                    raise FhirClientError(where, _describe(exc)) from exc
                await self._wait(None, attempt)
                continue
            self._count(response.status_code)
            if response.status_code in retry_statuses and attempt < self.retry.attempts:
                await self._wait(response.headers.get("Retry-After"), attempt)
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def stream_lines(
        self, url: str, *, accept: str, use_token: bool = True
    ) -> AsyncIterator[tuple[int, bytes]]:
        """(line number, bytes) of an ndjson download, streamed; blank lines are skipped but
        counted, so numbers are the file's. 429/503 before the body are retried."""
        where = f"GET {safe_url(url)}"
        for attempt in range(1, self.retry.attempts + 1):
            headers = self.headers(url, accept) if use_token else {"Accept": accept}
            try:
                self.stats.requests += 1
                async with self.client.stream("GET", url, headers=headers) as response:
                    self._count(response.status_code)
                    if response.status_code in RETRY_STATUSES and attempt < self.retry.attempts:
                        retry_after = response.headers.get("Retry-After")
                    else:
                        if response.status_code != 200:
                            await response.aread()
                            raise http_error(where, response)
                        async for item in _lines(response.aiter_bytes(_CHUNK)):
                            yield item
                        return
            except httpx.HTTPError as exc:
                # a failure after lines were yielded is not retried (they would come twice)
                raise FhirClientError(where, _describe(exc)) from exc
            await self._wait(retry_after, attempt)

    async def _wait(self, retry_after: str | None, attempt: int) -> None:
        asked = retry_after_seconds(retry_after)
        wait = asked if asked is not None else self.retry.backoff_s * 2 ** (attempt - 1)
        wait = min(wait, self.retry.max_wait_s)
        self.stats.retries += 1
        self.stats.waited_s += wait
        await self.sleep(wait)

    def _count(self, status: int) -> None:
        self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    number = 0
    rest = b""
    async for chunk in chunks:
        rest += chunk
        *complete, rest = rest.split(b"\n")
        for line in complete:
            number += 1
            line = line.removesuffix(b"\r")
            if line.strip():
                yield number, line
    if rest.strip():
        yield number + 1, rest.removesuffix(b"\r")


def json_body(response: httpx.Response) -> Any:
    """The parsed JSON body, or raise ``orjson.JSONDecodeError``."""
    return orjson.loads(response.content)


def http_error(where: str, response: httpx.Response) -> FhirClientError:
    """The error for an unexpected status, with the OperationOutcome's issue codes if any."""
    try:
        document = json_body(response)
    except orjson.JSONDecodeError:
        document = None
    summary = outcome_summary(document)
    if summary and 200 <= response.status_code < 300:
        return FhirOutcomeError(where, summary, response.status_code)
    return FhirHttpError(where, response.status_code, summary)


def _retryable(exc: httpx.HTTPError) -> bool:
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol)


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    return f"transport failed ({type(exc).__name__})"
