"""Invariants of the access gate's parts: the refusal ledger accounts for every refusal with at
most two events per client and window, token buckets never admit more than burst + rate x
elapsed, cursors decode to a bounded index or a 422, and the body limit comes from the env."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.api.errors import BadParameter
from clinflow.api.gate import RefusalLedger, TokenBuckets
from clinflow.api.routes._common import MAX_INDEX, decode_cursor
from clinflow.api.settings import MIB, Limits
from clinflow.errors import ConfigError

CLIENTS = st.sampled_from(["198.51.100.1", "198.51.100.2", "2001:db8::1"])


@given(
    st.lists(st.tuples(CLIENTS, st.floats(0, 5, allow_nan=False)), max_size=200),
)
def test_ledger_accounts_for_every_refusal_in_few_events(steps: list[tuple[str, float]]) -> None:
    ledger = RefusalLedger(window=10.0)
    now = 0.0
    written: list[tuple[str, float, int]] = []
    for client, gap in steps:
        now += gap
        for who, window, count in ledger.note(client, "GET", "/audit/events", 401, now):
            written.append((who, window.start, count))
        for who, window, count in ledger.sweep(now):
            written.append((who, window.start, count))
    written += [(who, window.start, count) for who, window, count in ledger.flush()]
    assert sum(count for _, _, count in written) == len(steps)  # every refusal accounted
    per_window: dict[tuple[str, float], int] = {}
    for who, start, _ in written:
        per_window[(who, start)] = per_window.get((who, start), 0) + 1
    assert all(n <= 2 for n in per_window.values())  # the first at once, the rest summed


@given(st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=300))
def test_token_bucket_admits_at_most_burst_plus_refill(gaps: list[float]) -> None:
    buckets = TokenBuckets(rate=5.0, burst=20)
    now, admitted = 0.0, 0
    for gap in gaps:
        now += gap
        admitted += buckets.take("198.51.100.1", now)
    assert admitted <= 20 + 5.0 * now + 1e-9
    assert admitted >= min(len(gaps), 20)  # the burst is always available at first


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5), st.none()))
def test_cursor_decodes_to_a_bounded_index_or_422(after: object) -> None:
    raw = (
        orjson.dumps({"after": after, "desc": False})
        if not isinstance(after, int)
        else (b'{"after": %d, "desc": false}' % after)
    )
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        index = decode_cursor(cursor, descending=False)
    except BadParameter as exc:
        assert exc.parameter == "cursor"
    else:
        assert isinstance(after, int) and 0 <= index == after <= MAX_INDEX


def test_body_limit_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Limits.from_env().max_body_bytes == MIB
    monkeypatch.setenv("CLINFLOW_HTTP_MAX_BODY", "2048")
    assert Limits.from_env().max_body_bytes == 2048
    for bad in ("12", "lots", str(2**40)):
        monkeypatch.setenv("CLINFLOW_HTTP_MAX_BODY", bad)
        with pytest.raises(ConfigError, match="CLINFLOW_HTTP_MAX_BODY"):
            Limits.from_env()
