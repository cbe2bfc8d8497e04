"""A small FHIR R4 server for the client tests, on a free loopback port (``http.server``).

It serves a cohort written by ``clinflow generate`` (``fhir/ndjson/<Type>.ndjson``), with
the quirks real servers have, each switched by ``Quirks``:

- searches ``GET /fhir/<Type>?_count=N`` and ``GET /fhir/Patient/<id>/$everything``, paged:
  the next link of page 1 is relative (``Patient?...``), of page 2 absolute, of later pages
  path-absolute (``/fhir/...``); the Patient of an ``$everything`` is on its last page;
- ``rate_limit``: the first request of each search is answered 429 with ``Retry-After``;
- ``no_total``, ``empty_last_page`` (a last page without ``entry``), ``outcome_entry`` (an
  OperationOutcome entry with ``search.mode = outcome``), ``loop`` (the last page links back
  to the first), ``contained`` (one Observation carries a contained Practitioner);
- Bulk Data: ``GET /fhir/$export`` (``Prefer: respond-async``, ``Accept:
  application/fhir+json`` required) → 202 + ``Content-Location``; the status URL answers 202
  with ``X-Progress`` and ``Retry-After`` ``export_polls`` times (one of them a 429), then
  the manifest (``requiresAccessToken``, ``output[]``, ``error[]``); files are the cohort's
  ndjson lines as they are on disk, ``malformed_line`` inserts a broken line in the
  Observation file; ``DELETE`` of the status URL is recorded;
- ``token``: every request must carry ``Authorization: Bearer <token>`` (else 401).

``requests`` records (method, path, query, had-the-token) of every request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from clinflow.patient_ids import PATIENT_REFERENCE_FIELDS

MALFORMED_LINE = b'{"resourceType": "Observation", "id": "broken-line'
RETRY_AFTER_S = 7
TOKEN = "test-token-not-a-secret"


class Waits:
    """An injectable ``sleep`` that records what it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@dataclass
class Quirks:
    page_size: int = 50
    rate_limit: bool = True
    no_total: bool = True
    empty_last_page: bool = True
    outcome_entry: bool = True
    loop: bool = False
    contained: bool = True
    export_polls: int = 3
    export_retry_after: str = "5"  # Retry-After of the 202s while the export runs
    export_429_retry_after: str = "11"  # of the 429 at the second poll
    malformed_line: bool = True
    error_file: bool = True
    token: str | None = TOKEN


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    authorized: bool
    headers: dict[str, str] = field(default_factory=dict)


class MockFhir:
    """The cohort in memory: ``lines[type]`` (bytes as on disk) and parsed resources."""

    def __init__(self, cohort: Path, quirks: Quirks | None = None) -> None:
        self.quirks = quirks or Quirks()
        self.lines: dict[str, list[bytes]] = {}
        for path in sorted((cohort / "fhir" / "ndjson").glob("*.ndjson")):
            self.lines[path.stem] = [line for line in path.read_bytes().splitlines() if line]
        self.resources = {
            kind: [orjson.loads(line) for line in lines] for kind, lines in self.lines.items()
        }
        if self.quirks.contained and self.resources.get("Observation"):
            first = self.resources["Observation"][0]
            first["contained"] = [{"resourceType": "Practitioner", "id": "p1"}]
            first["performer"] = [{"reference": "#p1"}]
            self.lines["Observation"][0] = orjson.dumps(first)
        self.requests: list[Recorded] = []
        self.rate_limited: set[str] = set()
        self.jobs: dict[str, int] = {}  # job id -> polls answered
        self.deleted: list[str] = []
        self.lock = threading.Lock()
        self.base = ""

    # ----- data ---------------------------------------------------------------------------
    def patient_of(self, resource: dict[str, Any]) -> str | None:
        if resource.get("resourceType") == "Patient":
            return str(resource["id"])
        for name in PATIENT_REFERENCE_FIELDS:
            reference = resource.get(name)
            if isinstance(reference, dict) and str(reference.get("reference", "")).startswith(
                "Patient/"
            ):
                return str(reference["reference"]).removeprefix("Patient/")
        return None

    def everything(self, patient_id: str) -> list[dict[str, Any]]:
        found = [
            resource
            for kind, resources in self.resources.items()
            if kind != "Patient"
            for resource in resources
            if self.patient_of(resource) == patient_id
        ]
        patients = [p for p in self.resources.get("Patient", []) if p["id"] == patient_id]
        return found + patients  # the Patient last: clients must not rely on its place

    def all_lines(self) -> list[bytes]:
        return [line for lines in self.lines.values() for line in lines]

    # ----- pages -----------------------------------------------------------------------------
    def page(self, path: str, items: list[dict[str, Any]], page: int, query: str) -> bytes:
        size = self.quirks.page_size
        pages = max(1, -(-len(items) // size))
        chunk = items[(page - 1) * size : page * size]
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
        if not self.quirks.no_total:
            bundle["total"] = len(items)
        entries: list[dict[str, Any]] = [
            {"fullUrl": f"{self.base}/{r['resourceType']}/{r['id']}", "resource": r,
             "search": {"mode": "match"}}
            for r in chunk
        ]  # fmt: skip
        if self.quirks.outcome_entry and page == 1:
            entries.append(
                {"resource": {"resourceType": "OperationOutcome", "issue": [
                    {"severity": "information", "code": "informational",
                     "diagnostics": "search for patient MRN-SECRET"}]},
                 "search": {"mode": "outcome"}}
            )  # fmt: skip
        last = page >= pages
        extra_empty = self.quirks.empty_last_page and last and page == pages
        if entries:
            bundle["entry"] = entries
        links = [{"relation": "self", "url": f"{self.base}{path}?{query}&page={page}"}]
        name = path.rsplit("/", 1)[-1]
        if not last or extra_empty:
            target = page + 1
            if page == 1:
                url = f"{name}?{query}&page={target}"  # relative to the page's directory
            elif page == 2:
                url = f"{self.base}{path}?{query}&page={target}"
            else:
                url = f"{urlsplit(self.base).path}{path}?{query}&page={target}"
            links.append({"relation": "next", "url": url})
        elif self.quirks.loop:
            links.append({"relation": "next", "url": f"{self.base}{path}?{query}&page=1"})
        if page > pages:  # the empty page after the last one
            bundle.pop("entry", None)
            links = links[:1]
        bundle["link"] = links
        return orjson.dumps(bundle)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        return

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _outcome(self, status: int, code: str) -> None:
        body = orjson.dumps({"resourceType": "OperationOutcome",
                             "issue": [{"severity": "error", "code": code}]})  # fmt: skip
        self._send(status, body, {"Content-Type": "application/fhir+json"})

    def do_DELETE(self) -> None:  # noqa: N802 - http.server's name
        fhir = self.server.fhir
        parts = urlsplit(self.path)
        self._record("DELETE", parts)
        if not self._authorized():
            return
        job = parts.path.rsplit("/", 1)[-1]
        with fhir.lock:
            fhir.deleted.append(job)
        self._send(202)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        fhir = self.server.fhir
        parts = urlsplit(self.path)
        self._record("GET", parts)
        if not self._authorized():
            return
        query = parse_qs(parts.query)
        path = parts.path.removeprefix("/fhir")
        if path == "/$export":
            return self._kickoff(query)
        if path.startswith("/bulk-status/"):
            return self._status(path.rsplit("/", 1)[-1])
        if path.startswith("/bulk-files/"):
            return self._file(path.rsplit("/", 1)[-1])
        page = int(query.get("page", ["1"])[0])
        base_query = "&".join(f"{k}={v[0]}" for k, v in query.items() if k != "page")
        if fhir.quirks.rate_limit and page == 1:
            with fhir.lock:
                first = path not in fhir.rate_limited
                fhir.rate_limited.add(path)
            if first:
                return self._send(429, b"", {"Retry-After": str(RETRY_AFTER_S)})
        segments = path.strip("/").split("/")
        if len(segments) == 3 and segments[0] == "Patient" and segments[2] == "$everything":
            items = fhir.everything(segments[1])
        elif len(segments) == 1 and segments[0] in fhir.resources:
            items = fhir.resources[segments[0]]
        elif len(segments) == 1 and segments[0][:1].isupper():
            items = []
        else:
            return self._outcome(404, "not-found")
        body = fhir.page(path, items, page, base_query)
        self._send(200, body, {"Content-Type": "application/fhir+json"})

    # ----- bulk -------------------------------------------------------------------------------
    def _kickoff(self, query: dict[str, list[str]]) -> None:
        fhir = self.server.fhir
        if self.headers.get("Prefer") != "respond-async" or (
            self.headers.get("Accept") != "application/fhir+json"
        ):
            return self._outcome(400, "invalid")
        with fhir.lock:
            job = f"job{len(fhir.jobs) + 1}"
            fhir.jobs[job] = 0
        self._send(202, b"", {"Content-Location": f"{fhir.base}/bulk-status/{job}"})

    def _status(self, job: str) -> None:
        fhir = self.server.fhir
        with fhir.lock:
            if job not in fhir.jobs or job in fhir.deleted:
                return self._outcome(404, "not-found")
            fhir.jobs[job] += 1
            polls = fhir.jobs[job]
        if polls <= fhir.quirks.export_polls:
            if polls == 2:
                return self._send(429, b"", {"Retry-After": fhir.quirks.export_429_retry_after})
            progress = f"{100 * polls // (fhir.quirks.export_polls + 1)}% done"
            wait = fhir.quirks.export_retry_after
            return self._send(202, b"", {"X-Progress": progress, "Retry-After": wait})
        types = self._types(job)
        manifest = {
            "transactionTime": "2026-01-01T00:00:00Z",
            "request": f"{fhir.base}/$export",
            "requiresAccessToken": fhir.quirks.token is not None,
            "output": [{"type": kind, "url": f"{fhir.base}/bulk-files/{kind}.ndjson"}
                       for kind in types],
            "error": ([{"type": "OperationOutcome",
                        "url": f"{fhir.base}/bulk-files/errors.ndjson"}]
                      if fhir.quirks.error_file else []),
        }  # fmt: skip
        self._send(200, orjson.dumps(manifest), {"Content-Type": "application/json"})

    def _types(self, job: str) -> list[str]:
        fhir = self.server.fhir
        kickoffs = [r for r in fhir.requests if r.path.endswith("/$export")]
        wanted = kickoffs[int(job.removeprefix("job")) - 1].query.get("_type")
        names = wanted[0].split(",") if wanted else sorted(fhir.lines)
        # the Patient file last: clients must not rely on the manifest's order
        return sorted((n for n in names if n in fhir.lines), key=lambda n: n == "Patient")

    def _file(self, name: str) -> None:
        fhir = self.server.fhir
        if name == "errors.ndjson":
            lines = [
                orjson.dumps(
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [
                            {
                                "severity": "error",
                                "code": "processing",
                                "diagnostics": "Patient pat-000000 MRN-SECRET not exported",
                            }
                        ],
                    }
                )
            ]
        else:  # fmt: skip
            kind = name.removesuffix(".ndjson")
            if kind not in fhir.lines:
                return self._outcome(404, "not-found")
            lines = list(fhir.lines[kind])
            if kind == "Observation" and fhir.quirks.malformed_line:
                lines.insert(2, MALFORMED_LINE)
        body = b"\n".join(lines) + b"\n"
        self._send(200, body, {"Content-Type": "application/fhir+ndjson"})

    # ----- plumbing -----------------------------------------------------------------------------
    def _record(self, method: str, parts: Any) -> None:
        fhir = self.server.fhir
        expected = f"Bearer {fhir.quirks.token}" if fhir.quirks.token else None
        authorized = expected is None or self.headers.get("Authorization") == expected
        with fhir.lock:
            fhir.requests.append(Recorded(method, parts.path, parse_qs(parts.query), authorized,
                                          dict(self.headers.items())))  # fmt: skip

    def _authorized(self) -> bool:
        if self.server.fhir.requests[-1].authorized:
            return True
        self._outcome(401, "login")
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fhir: MockFhir


@contextmanager
def serve(cohort: Path, quirks: Quirks | None = None) -> Iterator[MockFhir]:
    """Start the mock server on 127.0.0.1 (free port); ``fhir.base`` is its ``/fhir`` URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fhir = MockFhir(cohort, quirks)
    server.fhir.base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    thread = threading.Thread(target=server.serve_forever, name="mock-fhir", daemon=True)
    thread.start()
    try:
        yield server.fhir
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def make_cohort(out: Path, patients: int = 2, seed: int = 9, vitals_hours: float = 24.0) -> Path:
    """A generated cohort without imaging (FHIR only), as ``clinflow generate`` writes it."""
    from clinflow.runtime.pipeline import DEMO_SCENARIO
    from clinflow.synthetic.generator import GenerateOptions, generate
    from clinflow.synthetic.scenario import load_scenario

    scenario = load_scenario(DEMO_SCENARIO).model_copy(
        update={"imaging_fraction": 0.0, "vitals_hours": vitals_hours}
    )
    generate(GenerateOptions(patients=patients, seed=seed, out=out, scenario=scenario, workers=1))
    return out
