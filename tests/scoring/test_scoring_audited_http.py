"""The scoring service audited through the AuditLog's group commit (ADR 0015): concurrent
requests are answered only once their score AuditEvents are durable, many requests share a
commit, and a log that cannot store (full disk) fails the request with 503 and a clear reason,
then serves again once the fault clears."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from clinflow.audit import AuditLog, NoteSigner
from clinflow.audit.store import NewEntry
from clinflow.audit.store_sqlite import SqliteStore
from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.errors import ClinflowError
from clinflow.scoring.app import create_app
from clinflow.scoring.service import ScoringService
from helpers.tokens import scratch_access
from helpers.vitals import bundle, later, vital_set


class FlakyStore(SqliteStore):
    """The SQLite store; ``fail`` > 0 makes that many commits fail as a full disk would."""

    fail = 0
    commits = 0

    def append_batch(self, entries: Sequence[NewEntry]) -> int:
        if self.fail:
            self.fail -= 1
            raise ClinflowError("audit store: write failed (database or disk is full)")
        self.commits += 1
        return super().append_batch(entries)


@pytest.fixture()
def audited(data_dir: Path) -> Iterator[tuple[ScoringService, AuditLog, FlakyStore]]:
    deployment = DataDir.open(data_dir)
    store = FlakyStore(deployment.audit_db)
    signer = NoteSigner("test.local/audit", KeyRing(deployment.keys).audit_signing_key())
    log = AuditLog(store, signer)
    yield ScoringService(audit=log), log, store
    log.close()


def patient(i: int) -> str:
    return f"PT-{i + 1:016x}"


def post_all(
    service: ScoringService, bodies: list[dict[str, Any]], fast: bool = True
) -> list[tuple[int, dict[str, Any], int]]:
    """POST every body concurrently; (status, JSON body, log size seen at response time)."""
    access = scratch_access(patient(0))
    app: Any = create_app(service, authenticator=access.authenticator)
    app.fast_path = fast
    log = service.audit.log  # type: ignore[union-attr]

    async def run() -> list[tuple[int, dict[str, Any], int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:

            async def one(body: dict[str, Any]) -> tuple[int, dict[str, Any], int]:
                response = await client.post(
                    "/icu/risk-assessment", json=body, headers=access.headers("scoring")
                )
                return response.status_code, response.json(), log.size

            return list(await asyncio.gather(*(one(body) for body in bodies)))

    return asyncio.run(run())


@pytest.mark.parametrize("fast", [True, False])
def test_responses_leave_after_their_audit_entries_are_durable(
    audited: tuple[ScoringService, AuditLog, FlakyStore], fast: bool
) -> None:
    service, log, store = audited
    bodies = [bundle(vital_set(f"r{i}", rr=26, when=later(i), patient=patient(i)))
              for i in range(24)]  # fmt: skip
    results = post_all(service, bodies, fast)
    assert [status for status, _, _ in results] == [200] * 24
    stored = [orjson.loads(log.get_entry(i) or b"{}") for i in range(log.size)]
    scored = {  # assessment id -> index of its score-produced AuditEvent
        e["entity"][0]["what"]["identifier"]["value"]: index
        for index, e in enumerate(stored)
        if e["code"]["coding"][0]["code"] == "score"
    }
    assert len(scored) == 24  # one durable score event per request
    assert {e["patient"]["reference"] for e in stored} == {
        f"Patient/{patient(i)}" for i in range(24)
    }
    for _, body, size_at_response in results:
        assert body["resourceType"] == "RiskAssessment"
        # the request's event was stored before its response left
        assert scored[body["id"]] < size_at_response
    assert store.commits < 24, "the requests did not share commits"


def test_audit_log_failure_is_503_then_the_service_recovers(
    audited: tuple[ScoringService, AuditLog, FlakyStore],
) -> None:
    service, log, store = audited
    store.fail = 1
    [(status, body, _)] = post_all(service, [bundle(vital_set("f", patient=patient(0)))])
    assert status == 503
    assert body["message"].startswith("audit trail unavailable")
    assert log.size == 0
    [(status, body, _)] = post_all(service, [bundle(vital_set("g", when=later(5),
                                                              patient=patient(0)))])  # fmt: skip
    assert status == 200 and body["resourceType"] == "RiskAssessment"
    assert log.size >= 1
