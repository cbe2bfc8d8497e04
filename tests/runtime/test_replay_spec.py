"""``clinflow replay`` options: the fault grammar, rates and ramps (replay_spec)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.errors import ConfigError
from clinflow.runtime.replay_spec import (
    Fault,
    FaultKind,
    FaultPlan,
    parse_faults,
    parse_rate,
)


def test_a_full_spec_parses_into_its_faults() -> None:
    plan = parse_faults(
        " malformed:ratio=1% ; duplicate@2s:ratio=0.02,delay=250ms,for=1m;"
        "reorder:ratio=0.05,shift=3s; revoke-storm@10s:patients=40%,purposes=HRESCH+TREAT;"
        "kill-worker@1m; audit-outage@30s:for=2s"
    )
    kinds = [f.kind for f in plan.faults]
    assert kinds == [FaultKind.MALFORMED, FaultKind.DUPLICATE, FaultKind.REORDER,
                     FaultKind.REVOKE_STORM, FaultKind.KILL_WORKER,
                     FaultKind.AUDIT_OUTAGE]  # fmt: skip
    malformed, duplicate, reorder, storm, kill, outage = plan.faults
    assert malformed.ratio == pytest.approx(0.01)
    assert (duplicate.start_s, duplicate.delay_s, duplicate.for_s) == (2.0, 0.25, 60.0)
    assert duplicate.active(2.5) and not duplicate.active(1.9) and not duplicate.active(62.0)
    assert reorder.shift_s == 3.0
    assert (storm.start_s, storm.share, storm.purposes) == (10.0, 0.4, ("HRESCH", "TREAT"))
    assert kill.start_s == 60.0
    assert (outage.start_s, outage.for_s) == (30.0, 2.0)
    assert parse_faults("audit-outage@1s").faults[0].for_s == 5.0  # the default


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("malformd:ratio=0.1", "'malformd' is not a fault kind"),
        ("malformed", "needs ratio=R"),
        ("malformed:ratio=2", "'2' is outside 0..1"),
        ("malformed:ratio=lots", "'lots' is not a ratio"),
        ("duplicate:ratio=0.1,delay=soon", "'soon' is not a time"),
        ("duplicate:ratio=0.1,shift=1s", "unknown parameter 'shift'"),
        ("duplicate:ratio=0.1,ratio=0.2", "'ratio' given twice"),
        ("reorder:ratio", "'ratio' is not NAME=VALUE"),
        ("revoke-storm:patients=3", "revoke-storm needs a time"),
        ("revoke-storm@5s:patients=0", "'0' is not a positive count"),
        ("revoke-storm@5s:purposes=HRESCH+r&d", "'R&D' is not a purpose code"),
        ("malformed@later:ratio=0.1", "'later' is not a time"),
        ("malformed:ratio=0.1;;", "an empty fault"),
    ],
)
def test_a_bad_spec_names_the_bad_token(spec: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_faults(spec)
    assert named in str(caught.value)
    assert str(caught.value).startswith("--faults")


def test_kill_worker_needs_kafka_or_de_identification_workers() -> None:
    plan = parse_faults("kill-worker@5s")
    with pytest.raises(ConfigError, match="needs --runtime kafka, or --deid-workers 1"):
        plan.check_runtime("embedded")
    plan.check_runtime("embedded", deid_workers=1)  # kills a de-identification process
    plan.check_runtime("kafka")
    parse_faults("audit-outage@5s").check_runtime("kafka")  # the workers' commits wait
    parse_faults("audit-outage@5s").check_runtime("embedded")


def test_a_broker_restart_parses_and_needs_a_broker_that_keeps_its_data() -> None:
    plan = parse_faults("broker-restart@20s:for=8s; broker-restart@1m")
    first, second = plan.faults
    assert (first.kind, first.start_s, first.for_s) == (FaultKind.BROKER_RESTART, 20.0, 8.0)
    assert second.for_s == 5.0  # the default
    assert parse_faults(plan.describe()) == plan
    with pytest.raises(ConfigError, match="needs --runtime kafka"):
        plan.check_runtime("embedded", deid_workers=2)
    plan.check_runtime("kafka")
    with pytest.raises(ConfigError, match=r"stores in memory \(memory://tansu/\), so a restart "
                                          "would lose its topics, consumer offsets and groups"):
        plan.check_broker(None, "memory://tansu/")
    with pytest.raises(ConfigError, match="not --brokers"):
        plan.check_broker("kafka-1:9092", "s3://tansu/")
    plan.check_broker(None, "s3://tansu/")
    FaultPlan().check_broker("kafka-1:9092", "memory://tansu/")  # no restart: nothing to check
    for spec, named in (("broker-restart", "needs a time"),
                        ("broker-restart@1s:for=0s", "more than 0 s"),
                        ("broker-restart@1s:ratio=1", "unknown parameter 'ratio'")):  # fmt: skip
        with pytest.raises(ConfigError, match=named):
            parse_faults(spec)


_ratio = st.integers(0, 1000).map(lambda n: n / 1000)
_seconds = st.integers(0, 3600)
_ratio_fault = st.builds(
    lambda kind, ratio, start, for_s: Fault(kind, start_s=float(start), ratio=ratio,
                                            for_s=None if for_s is None else float(for_s)),
    st.sampled_from([FaultKind.MALFORMED, FaultKind.DUPLICATE, FaultKind.REORDER]),
    _ratio, _seconds, st.none() | st.integers(1, 600),
)  # fmt: skip
_storm = st.builds(
    lambda start, count, purposes: Fault(FaultKind.REVOKE_STORM, start_s=float(start),
                                         patients=count, purposes=purposes),
    _seconds, st.integers(1, 500),
    st.sampled_from([(), ("HRESCH",), ("HRESCH", "TREAT")]),
)  # fmt: skip


_outage = st.builds(
    lambda kind, start, for_s: Fault(kind, start_s=float(start), for_s=float(for_s)),
    st.sampled_from([FaultKind.AUDIT_OUTAGE, FaultKind.BROKER_RESTART]),
    _seconds, st.integers(1, 60),
)  # fmt: skip


@given(st.lists(_ratio_fault | _storm | _outage, min_size=1, max_size=6))
def test_describe_parses_back_to_the_same_plan(faults: list[Fault]) -> None:
    plan = FaultPlan(tuple(faults))
    again = parse_faults(plan.describe())
    assert [f.kind for f in again.faults] == [f.kind for f in faults]
    for parsed, original in zip(again.faults, faults, strict=True):
        assert math.isclose(parsed.ratio, original.ratio)
        assert parsed.start_s == original.start_s and parsed.for_s == original.for_s
        assert (parsed.patients, parsed.purposes) == (original.patients, original.purposes)


@given(st.text(alphabet="abcdefgikmlnoprstuwy-@:;=,.%0123456789 +HRESCT", max_size=40))
def test_any_text_parses_or_fails_with_a_config_error(text: str) -> None:
    try:
        plan = parse_faults(text)
    except ConfigError as exc:
        assert str(exc).startswith("--faults")  # one clear line, never a traceback
    else:
        assert all(0.0 <= f.ratio <= 1.0 for f in plan.faults)


@pytest.mark.parametrize(
    ("text", "index", "source_at", "due"),
    [("1000/s", 500, 99.0, 0.5), ("250", 10, 0.0, 0.04), ("x60", 7, 120.0, 2.0),
     ("max", 10_000, 3600.0, 0.0)],
)  # fmt: skip
def test_rates_fix_each_arrival_in_advance(
    text: str, index: int, source_at: float, due: float
) -> None:
    assert parse_rate(text).arrival(index, source_at) == pytest.approx(due)


def test_a_ramp_rises_linearly_then_holds() -> None:
    load = parse_rate("1000/s", "100/s:10s")
    # inputs due during the ramp: (100 + 1000) / 2 * 10 = 5,500
    assert load.arrival(5500, 0) == pytest.approx(10.0)
    assert load.arrival(6500, 0) == pytest.approx(11.0)
    times = [load.arrival(i, 0) for i in range(0, 5500, 50)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(later < earlier for earlier, later in zip(gaps, gaps[1:], strict=False))


@pytest.mark.parametrize(
    ("rate", "ramp", "named"),
    [("fast", None, "--rate 'fast'"), ("0/s", None, "must be positive"),
     ("x60", "10/s:5s", "a ramp needs a fixed --rate"), ("100/s", "10/s", "FROM/s:DURATION")],
)  # fmt: skip
def test_bad_rates_are_usage_errors(rate: str, ramp: str | None, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("(", r"\(")):
        parse_rate(rate, ramp)
