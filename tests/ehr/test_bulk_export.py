"""Bulk Data ``$export`` client against the mock server and httpx mock transports: kick-off
headers and parameters, polls counted (Retry-After honoured, 429 while polling, X-Progress),
Patient files first, lines streamed with their numbers, error files read without their
diagnostics, DELETE after the download and on cancel or failure, the token kept home."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from clinflow.ehr.fhir_client import (
    BulkExportClient,
    ExportLine,
    FhirClientError,
    FhirHttp,
    FhirHttpError,
    kickoff_url,
)
from clinflow.errors import ConfigError

from .mock_fhir import MALFORMED_LINE, TOKEN, MockFhir, Quirks, Waits, make_cohort, serve


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("bulk") / "cohort")


@pytest.fixture
def fhir(cohort: Path) -> Iterator[MockFhir]:
    with serve(cohort) as server:
        yield server


def export(
    url: str, *, stop_after: int | None = None, **options: object
) -> tuple[list[ExportLine], BulkExportClient, Waits]:
    waits = Waits()
    transport = options.pop("transport", None)
    token = options.pop("token", TOKEN)

    async def main() -> tuple[list[ExportLine], BulkExportClient]:
        async with FhirHttp(url, token=token, sleep=waits, transport=transport) as http:  # type: ignore[arg-type]
            client = BulkExportClient(url, http, **options)  # type: ignore[arg-type]
            lines: list[ExportLine] = []
            stream = client.lines()
            try:
                async for line in stream:
                    lines.append(line)
                    if stop_after is not None and len(lines) >= stop_after:
                        break
            finally:
                await stream.aclose()
            return lines, client

    lines, client = asyncio.run(main())
    return lines, client, waits


def test_an_export_runs_from_kick_off_to_cleanup(fhir: MockFhir) -> None:
    lines, client, waits = export(fhir.base)
    kickoff = next(r for r in fhir.requests if r.path.endswith("/$export"))
    assert kickoff.headers["Prefer"] == "respond-async"
    assert kickoff.headers["Accept"] == "application/fhir+json"
    # three polls in progress (202, 429, 202), then the manifest: Retry-After honoured each time
    polls = [r for r in fhir.requests if "/bulk-status/" in r.path and r.method == "GET"]
    assert client.stats.polls == len(polls) == fhir.quirks.export_polls + 1
    assert waits.asked == [5.0, 11.0, 5.0] and client.stats.waited_s == 21.0
    assert client.stats.progress == "75% done"
    # every line of every file once, as on disk, plus the planted malformed one
    payloads = [line.payload for line in lines]
    assert sorted(payloads) == sorted([*fhir.all_lines(), MALFORMED_LINE])
    assert lines[0].resource_type == "Patient"  # Patient files first whatever the manifest
    broken = [line for line in lines if line.payload == MALFORMED_LINE]
    assert [line.location for line in broken] == ["/fhir/bulk-files/Observation.ndjson:3"]
    # the error file: codes kept, the diagnostics (with an id and MRN) never
    assert client.stats.server_errors == ["/fhir/bulk-files/errors.ndjson:1: error/processing"]
    assert fhir.deleted == ["job1"] and client.stats.deleted
    downloads = [r for r in fhir.requests if "/bulk-files/" in r.path]
    assert downloads and all(r.headers["Accept"] == "application/fhir+ndjson" for r in downloads)
    assert all(r.authorized for r in fhir.requests)  # requiresAccessToken: token sent


def test_type_and_since_go_to_the_kick_off(fhir: MockFhir) -> None:
    lines, _, _ = export(fhir.base, types=["Patient", "Consent"], since="2026-01-01T00:00:00Z")
    kickoff = next(r for r in fhir.requests if r.path.endswith("/$export"))
    assert kickoff.query == {"_type": ["Patient,Consent"], "_since": ["2026-01-01T00:00:00Z"]}
    kinds = {orjson.loads(line.payload)["resourceType"] for line in lines}
    assert kinds == {"Patient", "Consent"}


def test_cancelling_mid_download_deletes_the_export(fhir: MockFhir) -> None:
    lines, client, _ = export(fhir.base, stop_after=3)
    assert len(lines) == 3
    assert fhir.deleted == ["job1"] and client.stats.deleted


def test_kick_off_urls() -> None:
    assert kickoff_url("https://h/fhir") == "https://h/fhir/$export"
    assert kickoff_url("https://h/fhir/Group/7/$export?_outputFormat=ndjson", ["Patient"]) == (
        "https://h/fhir/Group/7/$export?_outputFormat=ndjson&_type=Patient"
    )
    with pytest.raises(ConfigError, match="_since"):
        kickoff_url("https://h/fhir", since="yesterday")
    with pytest.raises(ConfigError, match="http"):
        kickoff_url("ftp://h/fhir")


Handler = Callable[[httpx.Request], httpx.Response]


def scripted(status_answers: list[httpx.Response], manifest: dict[str, object]) -> tuple[
    Handler, list[httpx.Request]
]:  # fmt: skip
    """A server: kick-off 202, the status answers in turn, then ``manifest``; files answer
    two lines; every request recorded."""
    seen: list[httpx.Request] = []
    answers = list(status_answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path.endswith("$export"):
            return httpx.Response(202, headers={"Content-Location": "/status/1"})
        if path == "/status/1" and request.method == "DELETE":
            return httpx.Response(202)
        if path == "/status/1":
            return answers.pop(0) if answers else httpx.Response(200, json=manifest)
        return httpx.Response(200, content=b'{"resourceType":"Patient","id":"a"}\n\n{"x":1}\r\n')

    return handler, seen


def test_a_failed_export_is_an_error_naming_the_status_and_is_deleted() -> None:
    issue = {"severity": "fatal", "code": "exception", "diagnostics": "MRN-1"}
    outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
    handler, seen = scripted([httpx.Response(202), httpx.Response(500, json=outcome)], {})
    with pytest.raises(FhirHttpError) as caught:
        export("https://ehr.example/fhir", transport=httpx.MockTransport(handler))
    assert str(caught.value) == "FHIR GET /status/1: HTTP 500 (fatal/exception)"
    assert seen[-1].method == "DELETE"


def test_an_export_that_never_finishes_is_abandoned_and_deleted() -> None:
    forever = [httpx.Response(202, headers={"Retry-After": "60"}) for _ in range(100)]
    handler, seen = scripted(forever, {})
    with pytest.raises(FhirClientError, match="export not done after 300 s"):
        export("https://ehr.example/fhir", transport=httpx.MockTransport(handler), max_wait_s=300)
    assert seen[-1].method == "DELETE"


def test_without_retry_after_polling_backs_off() -> None:
    handler, _ = scripted([httpx.Response(202) for _ in range(4)], {"output": []})
    _, client, waits = export(
        "https://ehr.example/fhir", transport=httpx.MockTransport(handler), poll_s=2.0,
        max_poll_s=5.0,
    )  # fmt: skip
    assert waits.asked == [2.0, 3.0, 4.5, 5.0] and client.stats.polls == 5


def test_files_keep_their_line_numbers_and_the_token_stays_home() -> None:
    manifest = {
        "requiresAccessToken": False,
        "output": [{"type": "Patient", "url": "https://files.example/f1.ndjson"}],
    }
    handler, seen = scripted([], manifest)
    lines, _, _ = export("https://ehr.example/fhir", transport=httpx.MockTransport(handler))
    assert [(line.location, line.payload) for line in lines] == [
        ("/f1.ndjson:1", b'{"resourceType":"Patient","id":"a"}'),
        ("/f1.ndjson:3", b'{"x":1}'),
    ]
    download = next(r for r in seen if r.url.host == "files.example")
    assert "Authorization" not in download.headers  # another origin, no token needed: none
    kickoff = next(r for r in seen if r.url.path.endswith("$export"))
    assert kickoff.headers["Authorization"] == f"Bearer {TOKEN}"

    needs_token = {**manifest, "requiresAccessToken": True}
    handler, seen = scripted([], needs_token)
    with pytest.raises(FhirClientError, match="needs the access token but is on another origin"):
        export("https://ehr.example/fhir", transport=httpx.MockTransport(handler))
    assert not any(r.url.host == "files.example" for r in seen)
    assert seen[-1].method == "DELETE"


def test_a_manifest_that_is_not_one_is_refused_by_field() -> None:
    handler, _ = scripted([], {"output": [{"type": "Patient"}]})
    with pytest.raises(FhirClientError, match=r"output\[0\]\.url missing"):
        export("https://ehr.example/fhir", transport=httpx.MockTransport(handler))
    handler, _ = scripted([], {"output": "all of it"})
    with pytest.raises(FhirClientError, match="output is not a list"):
        export("https://ehr.example/fhir", transport=httpx.MockTransport(handler))


def test_kick_off_refused_without_a_status_url(cohort: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202)

    with pytest.raises(FhirClientError, match="202 without Content-Location"):
        export("https://ehr.example/fhir", transport=httpx.MockTransport(handler))
    with serve(cohort, Quirks(token="expected")) as fhir:
        with pytest.raises(FhirHttpError, match="HTTP 401"):
            export(fhir.base, token="other")


def test_a_stopped_bulk_source_deletes_its_export_at_once(fhir: MockFhir) -> None:
    from clinflow.runtime.fhir_sources import BulkExportSource

    source = BulkExportSource(f"bulk:{fhir.base}", token=TOKEN, sleep=Waits())

    async def main() -> int:
        taken = 0
        stream = source.__aiter__()
        async for _ in stream:
            taken += 1
            if taken == 3:
                break
        assert not fhir.deleted  # not yet: the source is only paused
        await stream.aclose()  # as the runtime stops a source
        return taken

    assert asyncio.run(main()) == 3
    assert fhir.deleted == ["job1"] and source.stats.requests > 0
    assert source.stats.waited_s == 21.0 and source.stats.export_polls == 4  # 202, 429, 202, 200
