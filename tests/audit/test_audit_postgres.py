"""The PostgreSQL store: same guarantees (append-only, verifiable), unique table prefix per run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinflow.audit import AuditLog
from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.audit.store import SearchQuery
from clinflow.audit.verify import trusted_verifiers, verify_log
from clinflow.config import DataDir

from .helpers import PATIENTS, sample_event

pytestmark = pytest.mark.postgres


@pytest.fixture()
def prefix(postgres_dsn: str) -> Iterator[str]:
    name = "audit_t" + uuid.uuid4().hex[:10]
    yield name
    from clinflow.audit.store_postgres import PostgresStore

    store = PostgresStore(postgres_dsn, prefix=name)
    store.drop_all()
    store.close()


def test_postgres_log_appends_verifies_and_refuses_changes(
    data_dir: Path, postgres_dsn: str, prefix: str
) -> None:
    import psycopg

    deployment = DataDir.open(data_dir)
    with AuditLog.open(
        deployment, dsn=postgres_dsn, table_prefix=prefix, checkpoint_every=10
    ) as log:
        indices = [log.append(sample_event(i)) for i in range(25)]
        assert indices == list(range(25))
        assert log.append_many([sample_event(i) for i in range(25, 40)]) == list(range(25, 40))
        found = log.search(SearchQuery(patient=PATIENTS[0], entity_type="message", limit=100))
        assert [idx for idx, _ in found] == list(range(0, 40, 5))
        store = log.store
        report = verify_log(store, trusted_verifiers(deployment, DEFAULT_ORIGIN, []))
    assert report.ok and report.entries == 40 and report.checkpoints >= 3
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        for statement in (
            f"UPDATE {prefix}_entries SET entry = 'x' WHERE idx = 1",
            f"DELETE FROM {prefix}_entries WHERE idx = 1",
            f"DELETE FROM {prefix}_checkpoints",
            f"TRUNCATE {prefix}_index",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
