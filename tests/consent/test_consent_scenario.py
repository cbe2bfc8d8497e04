"""Must-show scenario: patients stream vitals and images; at T one revokes research.

After the receipt, every store is scanned: nothing derived from that patient for research
remains (before or after T: the revocation is retroactive), their treatment data flows on,
and the other patients are untouched. Then the same property over random interleavings of
data, delivery and consent events (hypothesis).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.config import DataDir
from clinflow.consent.model import parse_consent
from clinflow.consent.service import ConsentService
from clinflow.runtime.deployment import Deployment
from helpers.fakes import RecordingAuditSink

from .helpers import (
    PATIENT_A,
    PATIENT_B,
    PATIENT_C,
    Pipeline,
    purpose,
    r4b_consent,
    research_opt_in_r5,
)

PATIENTS = (PATIENT_A, PATIENT_B, PATIENT_C)


def enrol(service: ConsentService) -> None:
    service.revocations.apply_consent(PATIENT_A, parse_consent(research_opt_in_r5(PATIENT_A)))
    service.revocations.apply_consent(PATIENT_B, parse_consent(research_opt_in_r5(PATIENT_B)))
    r4b = r4b_consent("c-r4b", PATIENT_C, {"type": "permit", "purpose": [purpose("HRESCH")]})
    service.revocations.apply_consent(PATIENT_C, parse_consent(r4b))


def test_scenario_revoke_research_at_t(
    service: ConsentService, audit: RecordingAuditSink
) -> None:
    enrol(service)
    pipe = Pipeline(service)
    for round_ in range(5):  # before T: everyone streams vitals and images
        for patient in PATIENTS:
            pipe.ingest(patient, "vitals" if round_ % 2 else "image")
    for _ in range(12):
        pipe.deliver_one()
    for _ in range(6):
        pipe.deidentify_one()  # de-identified, in memory, not yet at the sink at T
    released_before = pipe.research_rows(PATIENT_A)
    in_flight_a = sum(
        1 for env, _ in pipe.in_flight if env.patient == PATIENT_A and env.purpose == "HRESCH"
    ) + sum(1 for env in pipe.ready if env.patient == PATIENT_A and env.purpose == "HRESCH")
    assert released_before + in_flight_a == 5
    assert released_before > 0 and in_flight_a > 0

    receipt = service.revoke(PATIENT_A, ["HRESCH"])  # --- T ---

    assert receipt.complete and not receipt.already_revoked
    assert receipt.records_found == released_before
    assert [k.scope for k in receipt.keys_destroyed] == ["HRESCH"]
    by_target = {a.target: a.deleted for a in receipt.actions}
    assert by_target["research-store"] == released_before
    assert by_target["triage-endpoint"] == 0  # treatment is not retracted
    for round_ in range(5):  # after T: the stream goes on
        for patient in PATIENTS:
            pipe.ingest(patient, "vitals" if round_ % 2 else "image")
    pipe.drain()

    # Scan every store for research data derived from patient A: nothing, before or after T.
    assert pipe.research_rows(PATIENT_A) == 0
    assert pipe.live_lineage(PATIENT_A, "HRESCH") == 0
    assert pipe.readable_topic_records(PATIENT_A, "HRESCH") == 0
    assert len(service.research.held()) == len(service.research.records())
    # Treatment data flows on for A; B and C untouched everywhere.
    assert pipe.treatment_items(PATIENT_A) == 10
    for patient in (PATIENT_B, PATIENT_C):
        assert pipe.research_rows(patient) == 10
        assert pipe.treatment_items(patient) == 10
        assert pipe.readable_topic_records(patient, "HRESCH") == 10
        assert pipe.live_lineage(patient, "HRESCH") == 10
    # Audited: the revocation, a purge per target, the key destruction, and every drop.
    codes = audit.codes()
    assert codes.count("consent-revoke") == 1
    assert codes.count("purge") == len(service.targets.names())
    assert codes.count("key-destroy") == 1
    assert codes.count("consent-decision") >= 5  # A's research after T, denied at the gate
    assert all(
        "PT-" in e.get("patient", {}).get("reference", "PT-") for e in audit.events
    )

    again = service.revoke(PATIENT_A, ["HRESCH"])  # idempotent
    assert again.already_revoked and again.records_found == 0 and not again.keys_destroyed
    assert service.registry.version(PATIENT_A) == 2  # no second history entry


def test_revoke_before_data_still_applies(service: ConsentService) -> None:
    enrol(service)
    receipt = service.revoke(PATIENT_B, ["HRESCH"])
    assert receipt.records_found == 0
    pipe = Pipeline(service)
    pipe.ingest(PATIENT_B, "vitals")
    pipe.drain()
    assert pipe.research_rows(PATIENT_B) == 0
    assert pipe.treatment_items(PATIENT_B) == 1


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("ingest"), st.sampled_from(PATIENTS), st.sampled_from(["vitals", "image"])
        ),
        st.tuples(st.just("deidentify")),
        st.tuples(st.just("sink")),
        st.tuples(st.just("revoke"), st.sampled_from(PATIENTS)),
        # Consent resource -> inactive, arriving on the consent stream
        st.tuples(st.just("withdraw"), st.sampled_from(PATIENTS)),
    ),
    min_size=1,
    max_size=30,
)


_NO_FIXTURE_CHECK = [HealthCheck.function_scoped_fixture]


@settings(max_examples=40, deadline=None, suppress_health_check=_NO_FIXTURE_CHECK)
@given(ops=OPS)
def test_no_violation_in_any_ordering(tmp_path_factory: pytest.TempPathFactory,
                                      ops: list[tuple[str, ...]]) -> None:
    run_interleaving(tmp_path_factory, ops)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=_NO_FIXTURE_CHECK)
@given(ops=OPS)
def test_no_violation_in_any_ordering_long(tmp_path_factory: pytest.TempPathFactory,
                                           ops: list[tuple[str, ...]]) -> None:
    run_interleaving(tmp_path_factory, ops)


def run_interleaving(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, ...]]) -> None:
    """Apply ops in order; after each, and at the end, scan every store for violations."""
    root = tmp_path_factory.mktemp("scenario")
    with Deployment.open(DataDir.open(root), audit=RecordingAuditSink()) as deployment:
        service = deployment.consent
        enrol(service)
        pipe = Pipeline(service)
        revoked: set[str] = set()

        def check() -> None:
            for patient in PATIENTS:
                if patient in revoked:
                    assert pipe.research_rows(patient) == 0
                    assert pipe.live_lineage(patient, "HRESCH") == 0
                    assert pipe.readable_topic_records(patient, "HRESCH") == 0

        for op in ops:
            if op[0] == "ingest":
                pipe.ingest(op[1], op[2])
            elif op[0] == "deidentify":
                pipe.deidentify_one()
            elif op[0] == "sink":
                pipe.sink_one()
            elif op[0] == "revoke":
                service.revoke(op[1], ["HRESCH"])
                revoked.add(op[1])
            else:
                patient = op[1]
                original = (
                    r4b_consent("c-r4b", patient, {"type": "permit",
                                                   "purpose": [purpose("HRESCH")]})
                    if patient == PATIENT_C
                    else research_opt_in_r5(patient)
                )
                withdrawn = parse_consent({**original, "status": "inactive"})
                service.revocations.apply_consent(patient, withdrawn)
                revoked.add(patient)
            check()
        pipe.drain()
        check()
        for patient in PATIENTS:
            # Treatment is never affected by a research revocation.
            assert pipe.treatment_items(patient) == pipe.ingested.get((patient, "TREAT"), 0)
            if patient not in revoked:  # untouched patients keep everything
                expected = pipe.ingested.get((patient, "HRESCH"), 0)
                assert pipe.research_rows(patient) == expected
                assert pipe.readable_topic_records(patient, "HRESCH") == expected
        assert len(service.research.held()) == len(service.research.records())
