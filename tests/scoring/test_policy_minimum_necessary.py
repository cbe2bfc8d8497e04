"""Minimum necessary: policy validated on load, request models = the policy's list, race and
ethnicity never change a score and never reach an endpoint."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import InputRejected, PolicyError
from clinflow.scoring.fields import FIELD_CATALOG
from clinflow.scoring.minimum_necessary import MinimumNecessaryStage
from clinflow.scoring.policy import default_policy_path, load_policy
from clinflow.scoring.service import ScoringService
from helpers.fakes import RecordingAuditSink
from helpers.vitals import PATIENT, bundle, vital_set

from .helpers import us_core_extensions

POLICY = load_policy()


def write_policy(tmp_path: Path, mutate: Any) -> Path:
    raw = yaml.safe_load(default_policy_path().read_text())
    mutate(raw)
    path = tmp_path / "endpoints.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("mutate", "located", "token"),
    [
        (lambda r: r["endpoints"]["triage"]["fields"].append("race"),
         "triage: fields[14]: 'race' is prohibited for every endpoint", "- race"),
        (lambda r: r["endpoints"]["icu"]["fields"].append("shoe_size"),
         "icu: fields[16]: unknown field 'shoe_size'", "- shoe_size"),
        (lambda r: r["endpoints"]["icu"]["fields"].append("spo2"),
         "icu: fields[16]: duplicate field 'spo2'", "- spo2"),
        (lambda r: r["endpoints"]["icu"].update(colour="red"),
         "icu: colour: unknown field", "colour: red"),
        (lambda r: r["endpoints"]["icu"]["fhir"]["observation_elements"].append("extension"),
         "icu: fhir.observation_elements[14]: 'extension' may carry prohibited attributes",
         "- extension"),
        (lambda r: r["endpoints"]["icu"]["fhir"]["codes"].append("8867-4"),
         "icu: fhir.codes[18]: expected system|code", "- 8867-4"),
        (lambda r: r.pop("prohibited"), "-: prohibited: Field required", "endpoints:"),
        (lambda r: r["endpoints"]["icu"]["staleness"]["per_parameter_minutes"].update(shoe=5),
         "icu: staleness.per_parameter_minutes.shoe: Input should be ", "shoe: 5"),
        (lambda r: r["endpoints"]["icu"]["alerting"].update(min_band="purple"),
         "icu: alerting.min_band: Input should be ", "min_band: purple"),
        (lambda r: r["endpoints"]["icu"]["alerting"].update(snooze=True),
         "icu: alerting.snooze: unknown field", "snooze: true"),
    ],
)  # fmt: skip
def test_policy_errors_name_file_line_endpoint_and_field(
    tmp_path: Path, mutate: Any, located: str, token: str
) -> None:
    path = write_policy(tmp_path, mutate)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    match = re.fullmatch(rf"{re.escape(str(path))}:(\d+): (.*)", str(info.value))
    assert match is not None and match.group(2).startswith(located)
    # the line named is the offending one (the first line of the file for a missing key)
    line = path.read_text().splitlines()[int(match.group(1)) - 1]
    assert token in line


def test_policy_missing_or_not_yaml(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(missing)
    assert str(info.value) == (
        f"{missing}:0: -: -: cannot read policy file (No such file or directory)"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nendpoints: [unclosed")
    with pytest.raises(PolicyError) as info:
        load_policy(bad)
    assert str(info.value).startswith(f"{bad}:2: -: -: not valid YAML (")


def test_request_models_have_exactly_the_policy_fields() -> None:
    service = ScoringService(POLICY)
    for model, name in ((service.IcuRequest, "icu"), (service.TriageRequest, "triage")):
        assert list(model.model_fields) == list(POLICY.endpoint(name).fields)
        assert model.model_config.get("extra") == "forbid"
    assert set(POLICY.prohibited) & set(FIELD_CATALOG) == set()


@pytest.mark.parametrize("field", ["race", "ethnicity", "name", "mrn", "favourite_colour"])
def test_unlisted_field_refused_in_process_naming_field(field: str) -> None:
    service = ScoringService(POLICY)
    request = {"patient": PATIENT, "respiratory_rate": 18, field: "x"}
    with pytest.raises(InputRejected) as info:
        service.score_icu_json(request)
    assert info.value.location == field


# --- invariance: source records with protected attributes ----------------------------------

RACES = st.sampled_from(
    ["2106-3", "2054-5", "2028-9", "1002-5", "2076-8", "2131-1", "Other", ""]
)  # OMB race codes (CDC Race & Ethnicity code system) and junk
ETHNICITIES = st.sampled_from(["2135-2", "2186-5", "", "Unknown"])


def source_record(race: str | None, ethnicity: str | None, **vitals: float) -> dict[str, Any]:
    record: dict[str, Any] = {
        "patient": PATIENT,
        "observed_at": "2026-01-05T08:00:00+00:00",
        "age_years": 67,
        "chief_complaint": "shortness_of_breath",
        "expected_resources": 3,
        "respiratory_rate": vitals.get("rr", 24),
        "spo2": vitals.get("spo2", 93),
        "heart_rate": vitals.get("hr", 112),
        "systolic_bp": 104,
        "temperature_c": 38.4,
        "consciousness": "A",
        "supplemental_oxygen": True,
    }
    if race is not None:
        record["race"] = race
    if ethnicity is not None:
        record["ethnicity"] = ethnicity
    return record


def through_stage(record: dict[str, Any], endpoint: str) -> dict[str, Any]:
    stage = MinimumNecessaryStage(POLICY.endpoint(endpoint))
    envelope = Envelope(
        message_id="m-1",
        source=SourceKind.FHIR,
        patient=PATIENT,
        payload=orjson.dumps(record),
        event_time=datetime(2026, 1, 5, 8, tzinfo=UTC),
    )
    (out,) = stage.process(envelope)
    assert out.lineage == ("m-1",)
    sent: dict[str, Any] = orjson.loads(out.payload)
    return sent


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    race=st.none() | RACES,
    ethnicity=st.none() | ETHNICITIES,
    rr=st.integers(8, 30),
    spo2=st.integers(85, 100),
    hr=st.integers(40, 140),
)
def test_race_and_ethnicity_never_change_a_score_nor_reach_endpoint(
    race: str | None, ethnicity: str | None, rr: int, spo2: int, hr: int
) -> None:
    baseline_service, varied_service = ScoringService(POLICY), ScoringService(POLICY)
    baseline = source_record(None, None, rr=rr, spo2=spo2, hr=hr)
    varied = source_record(race, ethnicity, rr=rr, spo2=spo2, hr=hr)
    for endpoint in ("icu", "triage"):
        sent_baseline = through_stage(baseline, endpoint)
        sent_varied = through_stage(varied, endpoint)
        assert "race" not in sent_varied and "ethnicity" not in sent_varied
        assert sent_varied == sent_baseline
    icu_a = baseline_service.score_icu_json(through_stage(baseline, "icu")).to_json()
    icu_b = varied_service.score_icu_json(through_stage(varied, "icu")).to_json()
    tri_a = baseline_service.triage_json(through_stage(baseline, "triage")).to_json()
    tri_b = varied_service.triage_json(through_stage(varied, "triage")).to_json()
    assert icu_a == icu_b and tri_a == tri_b


@settings(max_examples=25, deadline=None, derandomize=True)
@given(race=RACES, ethnicity=ETHNICITIES)
def test_fhir_race_extensions_and_patient_resources_stripped(race: str, ethnicity: str) -> None:
    stage = MinimumNecessaryStage(POLICY.endpoint("icu"))
    observations = vital_set(rr=23)
    observations[0]["extension"] = us_core_extensions(race, ethnicity)
    observations[1]["valueQuantity"]["extension"] = us_core_extensions(race, ethnicity)
    observations[2]["subject"]["display"] = "Jane Example"
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "extension": us_core_extensions(race, ethnicity),
    }
    body = bundle([patient, *observations])
    stripped, removed = stage.strip_body(body)
    text = orjson.dumps(stripped).decode()
    assert "us-core-race" not in text and "us-core-ethnicity" not in text
    assert "Jane" not in text and '"Patient"' not in text
    assert any("extension" in r for r in removed)
    plain_service, stripped_service = ScoringService(POLICY), ScoringService(POLICY)
    expected = plain_service.score_icu_fhir(bundle(vital_set(rr=23)))
    got = stripped_service.score_icu_fhir(stripped)
    assert got.news2.total == expected.news2.total and got.qsofa.score == expected.qsofa.score
    # Sent unstripped, the endpoint refuses instead (422 over HTTP), naming the element.
    with pytest.raises(InputRejected) as info:
        ScoringService(POLICY).score_icu_fhir(body)
    assert "entry[0].resource" in info.value.location


def test_stage_drops_envelope_with_nothing_allowed() -> None:
    stage = MinimumNecessaryStage(POLICY.endpoint("icu"))
    envelope = Envelope(
        message_id="m-2",
        source=SourceKind.FHIR,
        patient=PATIENT,
        payload=orjson.dumps({"resourceType": "Patient", "id": "x"}),
        event_time=datetime(2026, 1, 5, 8, tzinfo=UTC),
    )
    assert stage.process(envelope) == []


def test_stage_audits_release_naming_withheld_fields_not_values() -> None:
    sink = RecordingAuditSink()
    stage = MinimumNecessaryStage(POLICY.endpoint("triage"), audit=sink)
    envelope = Envelope(
        message_id="m-3",
        source=SourceKind.FHIR,
        patient=PATIENT,
        payload=orjson.dumps(source_record("2106-3", "2135-2")),
        event_time=datetime(2026, 1, 5, 8, tzinfo=UTC),
        purpose="TREAT",
    )
    (out,) = stage.process(envelope)
    assert out.attributes["minimum_necessary_removed"] == "ethnicity,race,supplemental_oxygen"
    (event,) = sink.events
    text = orjson.dumps(event).decode()
    assert "withheld: ethnicity,race" in text and "2106-3" not in text
    assert event["patient"]["reference"] == f"Patient/{PATIENT}"


def test_staleness_and_alerting_come_from_the_policy_file(tmp_path: Path) -> None:
    def tighten(raw: dict[str, Any]) -> None:
        raw["endpoints"]["icu"]["staleness"]["per_parameter_minutes"] = {"temperature": 30}
        raw["endpoints"]["icu"]["alerting"]["min_band"] = "low-medium"

    policy = load_policy(write_policy(tmp_path, tighten))
    service = ScoringService(policy)
    assert service.alerting.policy.min_band.value == "low-medium"
    observations = vital_set(rr=26)  # a single 3: low-medium
    temperature = next(o for o in observations if o["id"].endswith("-temp"))
    temperature["effectiveDateTime"] = "2026-01-05T07:00:00+00:00"  # 60 min old
    score = service.score_icu_fhir(observations)
    assert score.news2.partial and "temperature" in {p.value for p in score.news2.missing}
    assert score.alert is not None  # alerts from low-medium, as configured


_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=4))
_KEYS = st.sampled_from(["extension", "modifierExtension", "valueQuantity", "code", "x", "url"])
_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_extension_scan_agrees_with_the_drop_it_guards(value: Any) -> None:
    """strip_resource copies an element only when ``_has_extension`` says it holds one: that
    must be exactly when dropping them removes something, and what is kept as it came must
    equal what dropping would have built."""
    from clinflow.scoring.minimum_necessary import _drop_extensions, _has_extension

    removed: list[str] = []
    dropped = _drop_extensions(value, "x", removed)
    assert _has_extension(value) == bool(removed)
    if not removed:
        assert dropped == value


def test_extensions_nested_in_an_allowed_element_are_removed_and_named() -> None:
    stage = MinimumNecessaryStage(POLICY.endpoint("icu"))
    resource = vital_set()[0]  # respiratory rate, a valueQuantity
    resource["valueQuantity"] = {**resource["valueQuantity"],
                                 "extension": [{"url": "urn:x", "valueString": "y"}]}  # fmt: skip
    kept, removed = stage.strip_resource(resource)
    assert kept is not None and "extension" not in kept["valueQuantity"]
    assert "resource.valueQuantity.extension" in removed


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_the_byte_check_never_clears_a_payload_that_holds_an_extension(value: Any) -> None:
    from clinflow.scoring.minimum_necessary import _has_extension, _may_hold_extensions

    if _has_extension(value):
        assert _may_hold_extensions(orjson.dumps(value))
        assert _may_hold_extensions(json.dumps(value, indent=1).encode())  # other writers


def test_an_extension_key_spelled_with_unicode_escapes_is_still_removed() -> None:
    """JSON may spell a key with \\u escapes: the byte check must not wave it through."""
    stage = MinimumNecessaryStage(POLICY.endpoint("icu"))
    resource = vital_set()[0]
    raw = orjson.dumps(bundle([resource]))
    quantity = orjson.dumps(resource["valueQuantity"])
    hidden = quantity[:-1] + rb',"\u0065xtension":[{"url":"urn:race","valueString":"x"}]}'
    payload = raw.replace(quantity, hidden)
    assert orjson.loads(payload)["entry"][0]["resource"]["valueQuantity"]["extension"]
    when = datetime(2026, 1, 5, 8, tzinfo=UTC)
    envelope = Envelope("m-esc", SourceKind.FHIR, PATIENT, payload, when, purpose="TREAT")
    (out,) = stage.process(envelope)
    kept = orjson.loads(out.payload)["entry"][0]["resource"]
    assert "extension" not in kept["valueQuantity"]
    assert "urn:race" not in out.payload.decode()
