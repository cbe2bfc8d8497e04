"""Decision tests from FHIR Consent examples: permit, deny, nested provisions, periods."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.consent.decision import DecisionQuery, DecisionSource, Revocation, evaluate
from clinflow.consent.model import FhirVersion, parse_consent, parse_fhir_instant
from clinflow.consent.policy import ConsentPolicy, Effect, load_policy
from clinflow.errors import InputRejected, PolicyError

from .helpers import (
    PATIENT_A,
    modality,
    purpose,
    r4b_consent,
    r5_consent,
    research_opt_in_r5,
    resource_class,
)

WHEN = datetime(2025, 6, 1, 12, tzinfo=UTC)


def decide(
    resources: list[dict[str, object]],
    policy: ConsentPolicy,
    purpose_code: str,
    categories: frozenset[str] = frozenset(),
    recipient: str | None = None,
    when: datetime = WHEN,
    revocations: tuple[Revocation, ...] = (),
) -> tuple[Effect, DecisionSource, str | None, str | None]:
    records = [parse_consent(r) for r in resources]
    decision = evaluate(
        DecisionQuery(PATIENT_A, purpose_code, categories, recipient),
        when,
        records,
        list(revocations),
        policy,
    )
    return decision.effect, decision.source, decision.consent_id, decision.provision


def test_r5_opt_in_permits_research_with_reason(policy: ConsentPolicy) -> None:
    effect, source, consent_id, provision = decide(
        [research_opt_in_r5(PATIENT_A)], policy, "HRESCH"
    )
    assert (effect, source, consent_id, provision) == (
        Effect.PERMIT, DecisionSource.CONSENT, "research-optin", "decision.provision[0]"
    )


def test_r5_base_deny_applies_outside_the_exception(policy: ConsentPolicy) -> None:
    effect, source, consent_id, provision = decide(
        [research_opt_in_r5(PATIENT_A)], policy, "HOPERAT"
    )
    assert (effect, source, consent_id, provision) == (
        Effect.DENY, DecisionSource.CONSENT, "research-optin", "decision"
    )


def test_r5_nested_exception_flips_back(policy: ConsentPolicy) -> None:
    # Permit research, except imaging (CT) for research: the nested provision is a deny.
    consent = r5_consent(
        "nested",
        PATIENT_A,
        "deny",
        [{"purpose": [purpose("HRESCH")], "provision": [{"class": [modality("CT")]}]}],
    )
    assert decide([consent], policy, "HRESCH", frozenset({"Observation"}))[0] is Effect.PERMIT
    effect, _, _, provision = decide([consent], policy, "HRESCH", frozenset({"dicom", "CT"}))
    assert effect is Effect.DENY
    assert provision == "decision.provision[0].provision[0]"


def test_r4b_provision_type_nested_deny(policy: ConsentPolicy) -> None:
    consent = r4b_consent(
        "r4b-nested",
        PATIENT_A,
        {
            "type": "permit",
            "purpose": [purpose("HRESCH")],
            "provision": [{"type": "deny", "class": [resource_class("DiagnosticReport")]}],
        },
    )
    record = parse_consent(consent)
    assert record.fhir_version is FhirVersion.R4B
    assert decide([consent], policy, "HRESCH", frozenset({"Observation"}))[0] is Effect.PERMIT
    assert decide([consent], policy, "HRESCH", frozenset({"DiagnosticReport"}))[0] is Effect.DENY
    # The root provision is about research only: treatment falls back to the policy.
    assert decide([consent], policy, "TREAT")[1] is DecisionSource.POLICY


def test_r4_untyped_root_is_exception_to_policy_rule(policy: ConsentPolicy) -> None:
    # Shape of the spec's consent-example-notThis: implied consent (OPTIN) except this record.
    consent = r4b_consent("not-this", PATIENT_A, {"class": [resource_class("DiagnosticReport")]})
    consent["policyRule"] = {"coding": [{"code": "OPTIN"}]}
    assert decide([consent], policy, "HRESCH", frozenset({"Observation"}))[0] is Effect.PERMIT
    effect, _, _, provision = decide([consent], policy, "HRESCH", frozenset({"DiagnosticReport"}))
    assert (effect, provision) == (Effect.DENY, "provision")
    del consent["policyRule"]
    with pytest.raises(InputRejected, match="policyRule"):
        parse_consent(consent)


def test_deny_overrides_permit_across_consents(policy: ConsentPolicy) -> None:
    deny = r4b_consent("r4b-deny", PATIENT_A, {"type": "deny", "purpose": [purpose("HRESCH")]})
    effect, _, consent_id, _ = decide([research_opt_in_r5(PATIENT_A), deny], policy, "HRESCH")
    assert (effect, consent_id) == (Effect.DENY, "r4b-deny")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2023, 12, 31, 23, 59, tzinfo=UTC), DecisionSource.POLICY),
        (datetime(2024, 1, 1, tzinfo=UTC), DecisionSource.CONSENT),
        (datetime(2024, 12, 31, 23, 59, tzinfo=UTC), DecisionSource.CONSENT),  # end inclusive
        (datetime(2025, 1, 1, tzinfo=UTC), DecisionSource.POLICY),  # expired
    ],
)
def test_periods_expired_not_applicable(
    policy: ConsentPolicy, when: datetime, expected: DecisionSource
) -> None:
    consent = r5_consent(
        "dated",
        PATIENT_A,
        "deny",
        [{"purpose": [purpose("HRESCH")]}],
        period={"start": "2024-01-01", "end": "2024-12-31"},
    )
    assert decide([consent], policy, "HRESCH", when=when)[1] is expected


def test_actor_restricts_recipient(policy: ConsentPolicy) -> None:
    consent = r5_consent(
        "actor",
        PATIENT_A,
        "deny",
        [{
            "purpose": [purpose("HRESCH")],
            "actor": [{"reference": {"reference": "Organization/university-lab"}}],
        }],
    )
    assert decide([consent], policy, "HRESCH", recipient="Organization/university-lab")[0] is (
        Effect.PERMIT
    )
    assert decide([consent], policy, "HRESCH", recipient="Organization/broker")[0] is Effect.DENY


def test_inactive_consent_is_ignored(policy: ConsentPolicy) -> None:
    consent = research_opt_in_r5(PATIENT_A)
    consent["status"] = "inactive"
    assert decide([consent], policy, "HRESCH")[1] is DecisionSource.POLICY


def test_policy_fallback_treat_permitted_research_denied(policy: ConsentPolicy) -> None:
    assert decide([], policy, "TREAT")[:2] == (Effect.PERMIT, DecisionSource.POLICY)
    assert decide([], policy, "HRESCH")[:2] == (Effect.DENY, DecisionSource.POLICY)


def test_break_glass_overrides_patient_deny(policy: ConsentPolicy) -> None:
    deny_all = r5_consent("deny-all", PATIENT_A, "deny")
    assert decide([deny_all], policy, "TREAT")[0] is Effect.DENY
    effect, source, _, _ = decide([deny_all], policy, "ETREAT")
    assert (effect, source) == (Effect.PERMIT, DecisionSource.BREAK_GLASS)


def test_revocation_denies_until_new_signed_consent(policy: ConsentPolicy) -> None:
    revocation = Revocation("rev-1", PATIENT_A, frozenset({"HRESCH"}),
                            datetime(2025, 3, 1, tzinfo=UTC))
    old = research_opt_in_r5(PATIENT_A)
    assert decide([old], policy, "HRESCH", revocations=(revocation,))[1] is (
        DecisionSource.REVOCATION
    )
    renewed = research_opt_in_r5(PATIENT_A, "renewed")
    renewed["date"] = "2025-04-01"
    assert decide([old, renewed], policy, "HRESCH", revocations=(revocation,))[0] is (
        Effect.PERMIT
    )


@pytest.mark.parametrize(
    ("resource", "location"),
    [
        ({"resourceType": "Patient", "id": "x"}, "resourceType"),
        ({"resourceType": "Consent", "status": "active"}, ".id"),
        ({"resourceType": "Consent", "id": "c", "status": "bogus"}, ".status"),
        ({"resourceType": "Consent", "id": "c", "status": "active", "decision": "maybe",
          "subject": {"reference": "Patient/PT-0000000a"}}, ".decision"),
        ({"resourceType": "Consent", "id": "c", "status": "active",
          "patient": {"reference": "Patient/x"}, "provision": {"type": "perhaps"}},
         "provision.type"),
        ({"resourceType": "Consent", "id": "c", "status": "active", "decision": "permit",
          "subject": {"reference": "Patient/x"}, "period": {"start": "yesterday"}},
         ".period.start"),
    ],
)
def test_bad_consent_rejected_naming_field(resource: dict[str, object], location: str) -> None:
    with pytest.raises(InputRejected) as info:
        parse_consent(resource)
    assert location in info.value.location


def test_partial_dates_widen() -> None:
    assert parse_fhir_instant("2024-02", upper=True, location="x") == datetime(
        2024, 3, 1, tzinfo=UTC
    )
    assert parse_fhir_instant("2024-12", upper=True, location="x") == datetime(
        2025, 1, 1, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "located"),
    [
        ("version: 1\npurposes: {TREAT: {fallback: maybe}}\n",
         "2: TREAT: fallback: Input should be 'permit' or 'deny'"),
        ("version: 1\npurposes: {}\nsurprise: 1\n", "3: -: surprise: unknown field"),
        ("version: 1\npurposes: {}\nrevoke_all_excludes: [BTG]\n",
         "3: -: revoke_all_excludes[0]: unknown purpose 'BTG'"),
        ("- not a mapping\n", "1: -: -: expected a mapping at the top level"),
    ],
)  # fmt: skip
def test_bad_policy_names_file_line_rule_and_field(
    tmp_path: Path, text: str, located: str
) -> None:
    path = tmp_path / "consent.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == f"{path}:{located}"


PURPOSES = ["TREAT", "HRESCH", "HOPERAT", "PUBHLTH"]
CATEGORIES = ["Observation", "CT", "MR", "DiagnosticReport"]


@st.composite
def provisions(draw: st.DrawFn, depth: int = 0) -> dict[str, object]:
    node: dict[str, object] = {}
    if draw(st.booleans()):
        node["purpose"] = [purpose(p) for p in draw(st.sets(st.sampled_from(PURPOSES), min_size=1))]
    if draw(st.booleans()):
        node["class"] = [
            resource_class(c) for c in draw(st.sets(st.sampled_from(CATEGORIES), min_size=1))
        ]
    if depth < 2 and draw(st.booleans()):
        node["provision"] = draw(st.lists(provisions(depth + 1), max_size=2))
    return node


@settings(max_examples=150, deadline=None)
@given(
    permit_provisions=st.lists(provisions(), max_size=3),
    decision=st.sampled_from(["permit", "deny"]),
    query_purpose=st.sampled_from(PURPOSES),
    query_categories=st.sets(st.sampled_from(CATEGORIES), max_size=2),
)
def test_deny_overrides_permit_invariant(
    permit_provisions: list[dict[str, object]],
    decision: str,
    query_purpose: str,
    query_categories: set[str],
) -> None:
    """Adding a matching blanket deny consent always yields deny, whatever else is in force."""
    policy = load_policy()
    other = r5_consent("other", PATIENT_A, decision, permit_provisions)
    blanket_deny = r4b_consent("blanket-deny", PATIENT_A, {"type": "deny"})
    cats = frozenset(query_categories)
    effect, _, consent_id, _ = decide([other, blanket_deny], policy, query_purpose, cats)
    assert effect is Effect.DENY
    # ...and the same consents in the other order decide the same.
    assert decide([blanket_deny, other], policy, query_purpose, cats)[0] is Effect.DENY
    assert consent_id in {"other", "blanket-deny"}
