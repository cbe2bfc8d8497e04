"""FHIR REST client against the mock server and httpx mock transports: paging collects every
resource once, Retry-After is honoured (counted, never slept), quirks are tolerated, errors
name the request without identifiers, the token goes only where it belongs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from clinflow.ehr.fhir_client import (
    FhirClientError,
    FhirHttp,
    FhirHttpError,
    FhirOutcomeError,
    FhirRestClient,
    RetryPolicy,
    bearer_token,
    retry_after_seconds,
)
from clinflow.errors import ConfigError
from clinflow.runtime.fhir_sources import FhirRestSource
from clinflow.runtime.ingest import SOURCE_SYSTEM_ATTR

from .mock_fhir import RETRY_AFTER_S, TOKEN, MockFhir, Quirks, Waits, make_cohort, serve


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("fhir-rest") / "cohort")


@pytest.fixture
def fhir(cohort: Path) -> Iterator[MockFhir]:
    with serve(cohort) as server:
        yield server


def collect(base: str, run: Callable[[FhirRestClient], object], **http: object) -> object:
    async def main() -> object:
        async with FhirHttp(base, **http) as client_http:  # type: ignore[arg-type]
            client = FhirRestClient(base, client_http)
            return await run(client)  # type: ignore[misc]

    return asyncio.run(main())


async def _all(iterator: object) -> list[object]:
    return [item async for item in iterator]  # type: ignore[attr-defined]


def test_paging_collects_every_resource_once_and_honours_retry_after(fhir: MockFhir) -> None:
    waits = Waits()

    async def run(client: FhirRestClient) -> tuple[list[object], FhirRestClient]:
        return await _all(client.search("Observation")), client

    found, client = collect(fhir.base, run, token=TOKEN, sleep=waits)  # type: ignore[misc]
    payloads = [item.payload for item in found]
    expected = fhir.lines["Observation"]
    assert len(expected) > 3 * fhir.quirks.page_size  # relative, absolute, path-absolute links
    assert sorted(payloads) == sorted(expected)  # every resource, once, byte for byte
    assert len(set(payloads)) == len(payloads)
    # one 429 (Retry-After 7) on the first page: waited as told, once, without sleeping
    assert waits.asked == [float(RETRY_AFTER_S)]
    statuses = [r for r in fhir.requests if r.path.endswith("/Observation")]
    assert len(statuses) == client.stats.pages + 1
    # the outcome entry is skipped and reported by its codes, never its diagnostics
    assert client.stats.warnings == [
        "/fhir/Observation page 1 entry[50]: information/informational"
    ]
    contained = [orjson.loads(p) for p in payloads if b'"contained"' in p]
    assert contained and contained[0]["contained"][0]["resourceType"] == "Practitioner"
    assert all(r.authorized for r in fhir.requests)


def test_rest_source_everything_hands_each_patient_first_once(fhir: MockFhir) -> None:
    waits = Waits()
    source = FhirRestSource(f"fhir:{fhir.base}", once=True, token=TOKEN, sleep=waits)

    async def run() -> list[object]:
        return [item async for item in source]

    items = asyncio.run(run())
    envelopes = [item.envelope for item in items]  # type: ignore[attr-defined]
    assert sorted(e.payload for e in envelopes) == sorted(fhir.all_lines())
    patients = [i for i, e in enumerate(envelopes) if b'"resourceType":"Patient"' in e.payload]
    per_patient = len(envelopes) // len(patients)
    assert patients[0] == 0 and len(patients) == len(fhir.lines["Patient"]) and per_patient > 1
    for envelope in envelopes:
        assert envelope.attributes[SOURCE_SYSTEM_ATTR] == f"fhir:{fhir.base}"
        assert envelope.patient == "" and envelope.attributes["format"] == "fhir-json"
        path = envelope.attributes["path"]
        assert "pat-" not in path and path.startswith("/fhir/Patient/{id}/$everything page ")
    # Patient search + one $everything per patient, each 429'd once then waited as told
    assert waits.asked == [float(RETRY_AFTER_S)] * (1 + len(patients))
    assert source.stats.retries == len(waits.asked) and not source.stats.errors
    assert source.stats.inputs == len(envelopes)


def test_a_completed_content_id_is_not_handed_out_again(fhir: MockFhir) -> None:
    first = FhirRestSource(f"fhir:{fhir.base}?_type=Patient", token=TOKEN, sleep=Waits())

    async def run(source: FhirRestSource) -> list[object]:
        return [item async for item in source]

    ids = {item.envelope.message_id for item in asyncio.run(run(first))}  # type: ignore[attr-defined]
    again = FhirRestSource(
        f"fhir:{fhir.base}?_type=Patient,Consent", token=TOKEN, sleep=Waits(),
        completed=lambda asked: set(asked) & ids,
    )  # fmt: skip
    second = asyncio.run(run(again))
    assert again.stats.already_done == len(ids) == len(fhir.lines["Patient"])
    kinds = {orjson.loads(item.envelope.payload)["resourceType"] for item in second}  # type: ignore[attr-defined]
    assert kinds == {"Consent"} and len(second) == len(fhir.lines["Consent"])
    assert {item.envelope.source.value for item in second} == {"consent"}  # type: ignore[attr-defined]


def test_a_paging_loop_stops_and_every_resource_still_comes_once(cohort: Path) -> None:
    quirks = Quirks(loop=True, empty_last_page=False, rate_limit=False, contained=False)
    with serve(cohort, quirks) as fhir:

        async def run(client: FhirRestClient) -> tuple[list[object], FhirRestClient]:
            return await _all(client.search("Observation")), client

        found, client = collect(fhir.base, run, token=TOKEN)  # type: ignore[misc]
    assert sorted(item.payload for item in found) == sorted(fhir.lines["Observation"])
    assert any("paging loop" in warning for warning in client.stats.warnings)


def test_errors_name_the_path_and_status_never_query_values_or_ids(fhir: MockFhir) -> None:
    async def unknown(client: FhirRestClient) -> object:
        return await _all(client.search("patient", {"identifier": "MRN-SECRET-9"}))

    with pytest.raises(FhirHttpError) as caught:
        collect(fhir.base, unknown, token=TOKEN, sleep=Waits())
    assert caught.value.status == 404
    assert str(caught.value) == "FHIR GET /fhir/patient?identifier: HTTP 404 (error/not-found)"

    async def everything(client: FhirRestClient) -> object:
        return await _all(client.everything("pat-000000"))

    with pytest.raises(FhirHttpError) as caught:
        collect(fhir.base, everything, token="wrong-token", sleep=Waits())
    assert caught.value.status == 401
    assert "pat-000000" not in str(caught.value) and "/Patient/{id}/$everything" in str(
        caught.value
    )


def handler_client(handler: Callable[[httpx.Request], httpx.Response], **http: object) -> FhirHttp:
    return FhirHttp(
        "https://ehr.example/fhir",
        transport=httpx.MockTransport(handler),
        **http,  # type: ignore[arg-type]
    )


def run_search(handler: Callable[[httpx.Request], httpx.Response], **http: object) -> list[object]:
    async def main() -> list[object]:
        async with handler_client(handler, **http) as client_http:
            client = FhirRestClient("https://ehr.example/fhir", client_http)
            return await _all(client.search("Observation"))

    return asyncio.run(main())


def test_an_operation_outcome_in_a_200_is_an_error_without_its_diagnostics() -> None:
    issue = {"severity": "error", "code": "too-costly", "diagnostics": "Patient Jane Doe MRN-7"}
    outcome = {"resourceType": "OperationOutcome", "issue": [issue]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=orjson.dumps(outcome))

    with pytest.raises(FhirOutcomeError) as caught:
        run_search(handler)
    assert "error/too-costly" in str(caught.value)
    assert "Jane" not in str(caught.value) and "MRN-7" not in str(caught.value)


def test_a_page_that_is_not_json_or_entries_that_are_not_resources_are_handed_out_flagged() -> None:
    pages = {
        "1": {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": {"id": "no-type"}}, {"fullUrl": "x"},
                        {"resource": {"resourceType": "Observation", "id": "o1"}}],
              "link": [{"relation": "next", "url": "Observation?page=2"}]},
    }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page", "1")
        if page in pages:
            return httpx.Response(200, content=orjson.dumps(pages[page]))
        return httpx.Response(200, content=b"<html>gateway</html>")

    found = run_search(handler)
    flags = [(item.resource_type, item.malformed, item.location) for item in found]  # type: ignore[attr-defined]
    assert flags == [
        (None, True, "/fhir/Observation page 1 entry[0]"),
        (None, True, "/fhir/Observation page 1 entry[1]"),
        ("Observation", False, "/fhir/Observation page 1 entry[2]"),
        (None, True, "/fhir/Observation page 2"),
    ]
    assert found[-1].payload == b"<html>gateway</html>"  # type: ignore[attr-defined]


def test_a_next_link_to_another_origin_is_refused_and_gets_no_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        elsewhere = {"relation": "next", "url": "http://internal:8080/fhir/Observation?p=2"}
        bundle = {"resourceType": "Bundle", "entry": [], "link": [elsewhere]}
        return httpx.Response(200, content=orjson.dumps(bundle))

    with pytest.raises(FhirClientError, match="next link leaves the server"):
        run_search(handler, token=TOKEN)
    assert len(seen) == 1 and seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_503_and_timeouts_are_retried_with_backoff_then_fail_clearly() -> None:
    waits = Waits()
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if calls["n"] == 2:
            return httpx.Response(503)
        return httpx.Response(200, content=b'{"resourceType": "Bundle"}')

    assert run_search(flaky, sleep=waits) == []
    assert waits.asked == [0.5, 1.0]  # backoff doubles when the server names no Retry-After

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("down", request=request)

    with pytest.raises(FhirClientError, match="no answer in time") as caught:
        run_search(down, sleep=Waits(), retry=RetryPolicy(attempts=3))
    assert str(caught.value).startswith("FHIR GET /fhir/Observation: ")

    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "100000"})

    waits = Waits()
    with pytest.raises(FhirHttpError, match="HTTP 503"):
        run_search(busy, sleep=waits, retry=RetryPolicy(attempts=3, max_wait_s=30))
    assert waits.asked == [30.0, 30.0]  # capped


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 31 Dec 2025 12:00:30 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None
    assert retry_after_seconds("-5", now) is None


def test_the_token_comes_from_the_environment_or_its_key_file(tmp_path: Path) -> None:
    assert bearer_token({}) is None
    assert bearer_token({"CLINFLOW_FHIR_TOKEN": " abc.def \n"}) == "abc.def"
    key = tmp_path / "fhir.token"
    key.write_text("from-file\n")
    assert bearer_token({"CLINFLOW_FHIR_TOKEN_FILE": str(key)}) == "from-file"
    key.write_text("  \n")
    with pytest.raises(ConfigError, match="CLINFLOW_FHIR_TOKEN_FILE: the token file is empty"):
        bearer_token({"CLINFLOW_FHIR_TOKEN_FILE": str(key)})
    with pytest.raises(ConfigError) as caught:
        bearer_token({"CLINFLOW_FHIR_TOKEN": "two words-secret"})
    assert "secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read"):
        bearer_token({"CLINFLOW_FHIR_TOKEN_FILE": str(tmp_path / "missing")})


def test_a_type_search_source_keeps_the_url_s_own_parameters(fhir: MockFhir) -> None:
    url = f"fhir:{fhir.base}?_count=20&_type=Observation&_since=2026-01-01T00:00:00Z"
    source = FhirRestSource(url, token=TOKEN, sleep=Waits())

    async def run() -> list[object]:
        return [item async for item in source]

    items = asyncio.run(run())
    assert sorted(i.envelope.payload for i in items) == sorted(fhir.lines["Observation"])  # type: ignore[attr-defined]
    first = next(r for r in fhir.requests if r.path == "/fhir/Observation")
    assert first.query == {"_count": ["20"], "_lastUpdated": ["ge2026-01-01T00:00:00Z"]}
    assert source.system == f"fhir:{fhir.base}"  # no query in the name


def test_the_public_api_is_its_all() -> None:
    import types

    import clinflow.ehr.fhir_client as fhir_client

    public = {
        name
        for name, value in vars(fhir_client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(fhir_client.__all__) == public  # nothing exported by accident, nothing missing
    assert len(fhir_client.__all__) == len(set(fhir_client.__all__))
