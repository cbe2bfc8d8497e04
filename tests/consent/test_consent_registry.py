"""Consent registry: append-only versioned history; cached decisions invalidated at once."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.consent.decision import DecisionQuery, DecisionSource
from clinflow.consent.model import parse_consent
from clinflow.consent.policy import ConsentPolicy, Effect, default_policy
from clinflow.consent.registry import ConsentRegistry
from clinflow.consent.store import ConsentStore, PostgresConsentStore, SqliteConsentStore

from .helpers import PATIENT_A, PATIENT_B, purpose, r4b_consent, r5_consent, research_opt_in_r5

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def make_registry(path: Path, policy: ConsentPolicy) -> ConsentRegistry:
    return ConsentRegistry(SqliteConsentStore(path), policy, clock=lambda: NOW)


def test_versions_and_history_append_only(tmp_path: Path, policy: ConsentPolicy) -> None:
    registry = make_registry(tmp_path / "consent.db", policy)
    assert registry.version(PATIENT_A) == 0
    assert registry.add_consent(PATIENT_A, parse_consent(research_opt_in_r5(PATIENT_A))) == 1
    registry.add_revocation(PATIENT_A, ["HRESCH"])
    assert registry.version(PATIENT_A) == 2
    assert registry.version(PATIENT_B) == 0
    assert [row.kind for row in registry.history(PATIENT_A)] == ["consent", "revocation"]
    conn = sqlite3.connect(tmp_path / "consent.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE consent_history SET kind = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM consent_history")


def test_consent_update_replaces_previous_version(tmp_path: Path, policy: ConsentPolicy) -> None:
    registry = make_registry(tmp_path / "consent.db", policy)
    consent = research_opt_in_r5(PATIENT_A)
    registry.add_consent(PATIENT_A, parse_consent(consent))
    query = DecisionQuery(PATIENT_A, "HRESCH")
    assert registry.decide(query).permitted
    registry.add_consent(PATIENT_A, parse_consent({**consent, "status": "inactive"}))
    decision = registry.decide(query)
    assert (decision.effect, decision.source) == (Effect.DENY, DecisionSource.POLICY)
    assert len(registry.consents(PATIENT_A)) == 1


def test_cache_hit_then_revocation_invalidates_at_once(
    tmp_path: Path, policy: ConsentPolicy
) -> None:
    registry = make_registry(tmp_path / "consent.db", policy)
    registry.add_consent(PATIENT_A, parse_consent(research_opt_in_r5(PATIENT_A)))
    query = DecisionQuery(PATIENT_A, "HRESCH", frozenset({"Observation"}))
    assert registry.decide(query).permitted
    hits = registry.cache_hits
    assert registry.decide(query).permitted
    assert registry.cache_hits == hits + 1
    registry.add_revocation(PATIENT_A, ["HRESCH"])
    decision = registry.decide(query)
    assert decision.source is DecisionSource.REVOCATION
    assert decision.registry_version == 2


def test_revocation_by_another_process_invalidates_cache(
    tmp_path: Path, policy: ConsentPolicy
) -> None:
    gate_side = make_registry(tmp_path / "consent.db", policy)
    api_side = make_registry(tmp_path / "consent.db", policy)
    api_side.add_consent(PATIENT_A, parse_consent(research_opt_in_r5(PATIENT_A)))
    query = DecisionQuery(PATIENT_A, "HRESCH")
    assert gate_side.decide(query).permitted
    assert gate_side.decide(query).permitted  # cached
    api_side.add_revocation(PATIENT_A, ["HRESCH"])
    assert not gate_side.decide(query).permitted
    assert gate_side.version(PATIENT_A) == 2


def test_cache_respects_period_boundaries(tmp_path: Path, policy: ConsentPolicy) -> None:
    registry = make_registry(tmp_path / "consent.db", policy)
    consent = r5_consent(
        "dated", PATIENT_A, "deny",
        [{"purpose": [purpose("HRESCH")], "period": {"start": "2025-01-01", "end": "2025-01-31"}}],
    )
    registry.add_consent(PATIENT_A, parse_consent(consent))
    query = DecisionQuery(PATIENT_A, "HRESCH")
    inside = datetime(2025, 1, 15, tzinfo=UTC)
    after = datetime(2025, 2, 15, tzinfo=UTC)
    assert registry.decide(query, inside).permitted
    assert registry.decide(query, inside).permitted
    assert registry.decide(query, after).source is DecisionSource.CONSENT  # base deny
    assert not registry.decide(query, after).permitted


EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("consent"), st.sampled_from([PATIENT_A, PATIENT_B]),
                  st.sampled_from(["c1", "c2"]), st.sampled_from(["permit", "deny"]),
                  st.sampled_from(["active", "inactive"]),
                  st.sampled_from(["TREAT", "HRESCH", "PUBHLTH"])),
        st.tuples(st.just("revoke"), st.sampled_from([PATIENT_A, PATIENT_B]),
                  st.sampled_from(["HRESCH", "PUBHLTH"])),
        st.tuples(st.just("query"), st.sampled_from([PATIENT_A, PATIENT_B]),
                  st.sampled_from(["TREAT", "HRESCH", "PUBHLTH", "ETREAT"])),
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=EVENTS)
def test_cached_equals_uncached(tmp_path_factory: pytest.TempPathFactory,
                                events: list[tuple[str, ...]]) -> None:
    registry = make_registry(tmp_path_factory.mktemp("reg") / "consent.db", default_policy())
    for event in events:
        if event[0] == "consent":
            _, patient, cid, decision, status, code = event
            resource = r5_consent(cid, patient, "deny" if decision == "permit" else "permit",
                                  [{"purpose": [purpose(code)]}], status=status, date=None)
            registry.add_consent(patient, parse_consent(resource))
        elif event[0] == "revoke":
            registry.add_revocation(event[1], [event[2]])
        else:
            query = DecisionQuery(event[1], event[2])
            cached = registry.decide(query)
            assert cached == registry.decide_uncached(query)
            assert registry.decide(query) == cached


# ------------------------------------------------------------------------ PostgreSQL


@pytest.fixture()
def pg_store(postgres_dsn: str) -> Iterator[PostgresConsentStore]:
    schema = f"clinflow_consent_test_{uuid.uuid4().hex[:8]}"
    store = PostgresConsentStore(postgres_dsn, schema=schema)
    yield store
    store._conn.execute(f"DROP SCHEMA {schema} CASCADE")
    store.close()


@pytest.mark.postgres
def test_postgres_registry_same_behaviour(
    pg_store: PostgresConsentStore, postgres_dsn: str
) -> None:
    policy = default_policy()
    store: ConsentStore = pg_store
    registry = ConsentRegistry(store, policy, clock=lambda: NOW)
    other = ConsentRegistry(
        PostgresConsentStore(postgres_dsn, schema=pg_store.schema), policy, clock=lambda: NOW
    )
    registry.add_consent(PATIENT_A, parse_consent(
        r4b_consent("r4b", PATIENT_A, {"type": "permit", "purpose": [purpose("HRESCH")]})
    ))
    query = DecisionQuery(PATIENT_A, "HRESCH")
    assert other.decide(query).permitted
    registry.add_revocation(PATIENT_A, ["HRESCH"])
    assert other.decide(query).source is DecisionSource.REVOCATION
    assert other.version(PATIENT_A) == 2
    with pytest.raises(Exception, match="append-only"):
        pg_store._conn.execute("DELETE FROM consent_history")
    pg_store.save_receipt("r1", PATIENT_A, {"receipt_id": "r1"})
    pg_store.save_receipt("r1", PATIENT_A, {"receipt_id": "r1"})
    assert pg_store.receipts(PATIENT_A) == [{"receipt_id": "r1"}]
    other.store.close()
