"""Round trip: the cohort emitted as HL7 v2 (ADT + ORU vitals) and mapped back to FHIR has the
same demographics, encounters and vital signs as the generator's direct FHIR stream, in every
vendor dialect (local codes, deg F, local time, Z-segments, missing MSH-10, hex escapes)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
import pytest

from clinflow.config import scenarios_dir
from clinflow.ehr.hl7.emit import FeedStats, cohort_messages
from clinflow.ehr.hl7.fhir_map import validate_and_map
from clinflow.ehr.hl7.parser import parse
from clinflow.ehr.hl7.profiles import vendor_profile, vendor_profiles
from clinflow.envelope import SourceKind
from clinflow.patient_ids import patient_mrn
from clinflow.synthetic.scenario import load_scenario
from clinflow.synthetic.stream import StreamOptions, generate_stream

PATIENTS = 4
AT = datetime(2026, 1, 5, tzinfo=UTC)


def _options(version: str = "R5") -> StreamOptions:
    scenario = load_scenario(scenarios_dir() / "demo.yaml")
    # 6 hours of vitals (24 charting times), no imaging: the mapping is under test
    scenario = scenario.model_copy(
        update={"fhir_version": version, "vitals_hours": 6.0, "imaging_fraction": 0.0}
    )
    return StreamOptions(patients=PATIENTS, seed=11, scenario=scenario)


def _direct(options: StreamOptions) -> list[dict[str, Any]]:
    resources = []
    for timed in generate_stream(options):
        envelope = timed.envelope
        if envelope.source is not SourceKind.FHIR:
            continue
        document = orjson.loads(envelope.payload)
        if document.get("resourceType") == "Bundle":
            resources += [entry["resource"] for entry in document["entry"]]
        else:
            resources.append(document)
    return resources


def _codes(concept: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((c["system"], c["code"]) for c in concept.get("coding", [])))


def _quantity(q: dict[str, Any]) -> tuple[float, str, str]:
    return (float(q["value"]), q["unit"], q["code"])


def _patient(p: dict[str, Any]) -> tuple[Any, ...]:
    name = p["name"][0]
    return (
        patient_mrn(p),
        tuple(
            sorted(
                (i["type"]["coding"][0]["code"], i["system"], i["value"]) for i in p["identifier"]
            )
        ),  # fmt: skip
        (name["family"], tuple(name["given"]), name["text"]),
        p["gender"],
        p["birthDate"],
        tuple((tuple(a["line"]), a["city"], a["state"], a["postalCode"]) for a in p["address"]),
        tuple((t["system"], t["value"]) for t in p["telecom"]),
        tuple(
            _codes(e["extension"][0] | {"coding": [e["extension"][0]["valueCoding"]]})
            for e in p.get("extension", [])
        ),  # fmt: skip
        tuple(
            (
                c["relationship"][0]["coding"][0]["code"],
                c["name"]["family"],
                tuple(c["name"]["given"]),
                tuple(t["value"] for t in c.get("telecom", [])),
            )
            for c in p.get("contact", [])
        ),
        p["managingOrganization"]["display"],
    )


def _encounter(e: dict[str, Any]) -> tuple[Any, ...]:
    act = e["class"][0]["coding"][0] if isinstance(e["class"], list) else e["class"]
    period = e.get("period") or e.get("actualPeriod")
    participant = e["participant"][0]
    who = (participant.get("individual") or participant.get("actor"))["display"]
    status = {"completed": "finished"}.get(e["status"], e["status"])
    return (
        e["subject"]["reference"], status, act["code"], period.get("start"), period.get("end"),
        e["type"][0]["text"], who, e["serviceProvider"]["display"],
    )  # fmt: skip


def _vital(o: dict[str, Any]) -> tuple[Any, ...]:
    if "component" in o:
        value: Any = tuple((_codes(c["code"]), _quantity(c["valueQuantity"]))
                           for c in o["component"])  # fmt: skip
    elif "valueQuantity" in o:
        value = _quantity(o["valueQuantity"])
    else:
        concept = o["valueCodeableConcept"]
        value = (_codes(concept), concept.get("text"))
    return (
        _codes(o["code"]), o["status"], o["effectiveDateTime"], o["subject"]["reference"],
        o["encounter"]["reference"], value,
    )  # fmt: skip


def _content(resources: list[dict[str, Any]]) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Demographics, encounters (latest version) and vital signs, by resource id."""
    out: dict[str, dict[str, tuple[Any, ...]]] = {"Patient": {}, "Encounter": {}, "vitals": {}}
    for r in resources:
        kind = r["resourceType"]
        if kind == "Patient" and "contact" in r:  # the ADT's full PID (an ORU's is a subset)
            out["Patient"][r["id"]] = _patient(r)
        elif kind == "Encounter":
            out["Encounter"][r["id"]] = _encounter(r)
        elif kind == "Observation" and r["category"][0]["coding"][0]["code"] == "vital-signs":
            out["vitals"][r["id"]] = _vital(r)
    return out


def _via_hl7(options: StreamOptions, vendor: str) -> tuple[list[dict[str, Any]], FeedStats]:
    stats = FeedStats()
    resources: list[dict[str, Any]] = []
    for _, text in cohort_messages(options, vendor_profile(vendor), stats):
        resources += validate_and_map(text.encode()).resources
    return resources, stats


@pytest.mark.parametrize("vendor", sorted(vendor_profiles()))
def test_hl7_feed_maps_back_to_the_direct_fhir_content(vendor: str) -> None:
    options = _options()
    direct = _content(_direct(options))
    resources, stats = _via_hl7(options, vendor)
    via_hl7 = _content(resources)
    assert stats.messages["ADT^A01"] == stats.messages["ADT^A03"] == PATIENTS
    assert len(direct["vitals"]) == stats.messages["ORU^R01"] * 7  # 8 OBX: BP is one panel
    assert set(direct["Patient"]) == set(via_hl7["Patient"]) and len(direct["Patient"]) == PATIENTS
    for kind in ("Patient", "Encounter", "vitals"):
        assert via_hl7[kind] == direct[kind], kind
    if vendor == "northwind-monitors":
        assert stats.missing_control_ids > 0  # the dialect's quirk was exercised


def test_r4b_cohort_round_trips_too() -> None:
    options = _options("R4B")
    direct = _content(_direct(options))
    via_hl7 = _content(_via_hl7(options, "standard")[0])
    assert via_hl7 == direct


def test_dialects_really_differ_on_the_wire() -> None:
    """The quirks are in the bytes (else the round trip above would prove nothing about them)."""
    options = _options()
    feeds = {
        vendor: [text for _, text in islice(cohort_messages(options, vendor_profile(vendor)), 40)]
        for vendor in ("standard", "northwind-monitors", "meridian-ehr")
    }
    northwind = "".join(feeds["northwind-monitors"])
    assert "|deg F|" in northwind and "|bpm|" in northwind and "\rZMD|" in northwind
    assert "+0000" not in northwind and "HR^Heart Rate^L" in northwind
    meridian = "".join(feeds["meridian-ehr"])
    assert "^MERIDIAN^MRN" in meridian and "|beats/min|" in meridian and "\rZPV|" in meridian
    standard = "".join(feeds["standard"])
    assert "|Cel|" in standard and "8867-4^^LN" in standard
    # every message of every dialect parses to the same segment names and counts it promises
    for texts in feeds.values():
        for text in texts:
            names = Counter(segment.name for segment in parse(text))
            assert names["MSH"] == 1 and names["PID"] == 1


def test_hex_escapes_carry_non_ascii_names() -> None:
    profile = vendor_profile("meridian-ehr")
    options = _options()
    feed = cohort_messages(options, profile)
    texts = [text for _, text in feed if "|ADT^A01^" in text.split("\r", 1)[0]]
    names = [validate_and_map(t).resources[0]["name"][0]["family"] for t in texts]
    direct_names = [
        r["name"][0]["family"] for r in _direct(options) if r["resourceType"] == "Patient"
    ]
    assert sorted(names) == sorted(direct_names)
    assert all(t.isascii() for t in texts)
    assert any("\\X" in t for t in texts)  # some name of this cohort is not ASCII


def test_hl7_bundles_pass_input_validation_and_ingest_as_the_same_patient() -> None:
    """What the runtime does first: the mapped Bundles validate as FHIR and ingest gives them
    the pseudonym the direct path gives, also for an ORU that arrives before its ADT."""
    from clinflow.deid.fhir.io import validate_resource
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.envelope import source_input
    from clinflow.runtime.ingest import IngestStage
    from helpers.fakes import RecordingAuditSink

    options = _options()
    texts = [text for _, text in cohort_messages(options, vendor_profile("northwind-monitors"))]
    first_oru = next(t for t in texts if "|ORU^R01^" in t.split("\r", 1)[0])
    admission = next(t for t in texts if "|ADT^A01^" in t.split("\r", 1)[0])
    stage = IngestStage(Pseudonymizer(bytes(range(32))), RecordingAuditSink())
    pseudonyms = []
    for text in (first_oru, admission):  # out of order: the ORU first
        mapped = validate_and_map(text)
        for resource in mapped.resources:
            validate_resource(resource, "hl7")  # raises InputRejected naming the field
        envelope = source_input(mapped.bundle_bytes(), SourceKind.FHIR, AT, "mllp:1", "fhir-json")
        pseudonyms.append(stage.process(envelope)[-1].patient)
    direct = next(
        timed.envelope for timed in generate_stream(options)
        if b'"Patient"' in timed.envelope.payload
    )  # fmt: skip
    assert pseudonyms[0] == pseudonyms[1] == stage.process(direct)[-1].patient


def test_late_and_resent_messages_are_in_the_feed_and_normalise() -> None:
    """northwind-monitors resends some messages and delivers some charting times late: the
    duplicates share their message key (the listener processes them once) and the content
    still equals the direct path (the parametrized test above), whatever the order."""
    stats = FeedStats()
    texts = [t for _, t in cohort_messages(_options(), vendor_profile("northwind-monitors"), stats)]
    assert stats.resent > 0 and stats.late > 0
    keys = [validate_and_map(t).key for t in texts]
    assert len(keys) - len(set(keys)) == stats.resent
    first_copies = list(dict.fromkeys(t for t in texts if "|ORU^R01^" in t[:120]))
    times = [parse(t).segments[3].value(7) for t in first_copies]  # OBR-7
    assert times != sorted(times)  # late ones: out of clinical-time order on the wire
