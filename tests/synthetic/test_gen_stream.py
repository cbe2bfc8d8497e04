"""The cohort as a timed stream: deterministic, the same resources and manifest as the files,
ordered and paced by clinical time, raw envelopes, consent withdrawals the consent service
understands, and memory that does not grow with what was generated."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import tracemalloc
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.envelope import SourceKind, TimedInput, content_message_id
from clinflow.synthetic.manifest import read_manifest
from clinflow.synthetic.scenario import Scenario
from clinflow.synthetic.stream import StreamOptions, at_seconds, generate_stream

from .helpers import SMALL, build

SEED, PATIENTS = 11, 6


def stream(tmp_path: Path, version: str = "R5", **options: object) -> list[TimedInput]:
    scenario = SMALL.model_copy(update={"fhir_version": version})
    settings = {"patients": PATIENTS, "seed": SEED, "scenario": scenario, **options}
    settings.setdefault("manifest", tmp_path / f"stream-{version}.ndjson")
    return list(generate_stream(StreamOptions(**settings)))  # type: ignore[arg-type]


def _resources(items: list[TimedInput]) -> tuple[set[bytes], dict[str, bytes], list[bytes]]:
    """FHIR resources of the record, DICOM files by path, and the later updates."""
    resources: set[bytes] = set()
    dicom: dict[str, bytes] = {}
    updates: list[bytes] = []
    for item in items:
        envelope = item.envelope
        path = envelope.attributes["path"]
        if envelope.attributes["format"] == "dicom":
            dicom[path] = envelope.payload
        elif path.startswith("fhir/updates/"):
            updates.append(envelope.payload)
        elif "#Bundle/" in path:
            for entry in orjson.loads(envelope.payload)["entry"]:
                resources.add(orjson.dumps(entry["resource"]))
        else:
            resources.add(envelope.payload)
    return resources, dicom, updates


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_stream_holds_the_same_resources_and_manifest_as_the_files(
    tmp_path: Path, version: str
) -> None:
    items = stream(tmp_path, version)
    build(tmp_path / "files", seed=SEED, patients=PATIENTS, fhir_version=version)
    files = tmp_path / "files"
    ndjson = {
        line
        for path in (files / "fhir" / "ndjson").glob("*.ndjson")
        for line in path.read_bytes().splitlines()
    }
    on_disk = {
        path.relative_to(files).as_posix(): path.read_bytes()
        for path in (files / "dicom").rglob("*.dcm")
    }
    resources, dicom, updates = _resources(items)
    assert resources == ndjson
    assert dicom == on_disk and dicom
    labels = orjson.loads((files / "labels.json").read_bytes())
    per_revocation = 2 if version == "R5" else 1  # R5: a replacement, then the inactive one
    assert len(updates) == per_revocation * len(labels["consent_revocations"]) > 0
    file_manifest = sorted((files / "manifest.ndjson").read_bytes().splitlines())
    stream_manifest = (tmp_path / f"stream-{version}.ndjson").read_bytes().splitlines()
    record = sorted(line for line in stream_manifest if b'"fhir/updates/' not in line)
    assert record == file_manifest


def test_same_seed_same_stream_different_seed_differs(tmp_path: Path) -> None:
    def key(items: list[TimedInput]) -> list[tuple[object, ...]]:
        return [
            (i.at_s, i.envelope.message_id, i.envelope.source, i.envelope.event_time,
             i.envelope.attributes)
            for i in items
        ]  # fmt: skip

    first = stream(tmp_path / "a", manifest=tmp_path / "a.ndjson", speed=60)
    second = stream(tmp_path / "b", manifest=tmp_path / "b.ndjson", speed=60)
    assert key(first) == key(second)
    assert (tmp_path / "a.ndjson").read_bytes() == (tmp_path / "b.ndjson").read_bytes()
    other = stream(tmp_path / "c", seed=SEED + 1, manifest=None, speed=60)
    assert key(other) != key(first)


def test_envelopes_are_raw_source_inputs(tmp_path: Path) -> None:
    items = stream(tmp_path)
    manifest_values = {entry.value for entry in read_manifest(tmp_path / "stream-R5.ndjson")}
    first_of_patient: dict[str, TimedInput] = {}
    for item in items:
        envelope = item.envelope
        assert envelope.message_id == content_message_id(envelope.payload)
        assert envelope.patient == "" and envelope.lineage == ()
        assert set(envelope.attributes) == {"path", "format", "route"}
        # one PHI-free route per patient: FHIR and DICOM of a patient share a partition
        assert re.fullmatch(r"r-[0-9a-f]{16}", envelope.attributes["route"])
        path = envelope.attributes["path"]
        assert not any(value in path for value in manifest_values if len(value) > 3), path
        patient = path.split("/")[2].split(".")[0] if path.startswith("fhir/") else ""
        if envelope.attributes["format"] == "dicom":
            assert envelope.source is SourceKind.DICOM and envelope.payload[128:132] == b"DICM"
            continue
        assert envelope.attributes["format"] == "fhir-json"
        resource = orjson.loads(envelope.payload)
        kind = resource["resourceType"]
        assert envelope.source is (SourceKind.CONSENT if kind == "Consent" else SourceKind.FHIR)
        first_of_patient.setdefault(patient, item)
    for patient, item in first_of_patient.items():
        bundle = orjson.loads(item.envelope.payload)
        assert bundle["type"] == "transaction", patient
        assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient", "Encounter"]


def test_order_and_pacing_follow_clinical_time(tmp_path: Path) -> None:
    speed = 120.0
    items = stream(tmp_path, speed=speed, manifest=None)
    times = [item.envelope.event_time for item in items]
    assert times == sorted(times)
    at = [item.at_s for item in items]
    assert at == sorted(at) and at[0] >= 0
    for item in items:
        clinical = (item.envelope.event_time - SMALL.start).total_seconds()
        assert item.at_s == pytest.approx(clinical / speed)
    # vitals at their charting times; a study's instances over minutes, then its ImagingStudy
    studies: dict[str, list[datetime]] = defaultdict(list)
    for item in items:
        path = item.envelope.attributes["path"]
        if path.startswith("dicom/"):
            studies[path.rsplit("/", 2)[0]].append(item.envelope.event_time)
        elif "#Observation/" in path:
            observation = orjson.loads(item.envelope.payload)
            assert observation["effectiveDateTime"] == item.envelope.event_time.strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
    spans = [max(ts) - min(ts) for ts in studies.values()]
    assert spans and max(spans) >= timedelta(minutes=1)
    assert all(span < timedelta(minutes=30) for span in spans)


@pytest.mark.parametrize("speed", [0.0, math.inf])
def test_flat_out_speeds_give_zero_offsets(tmp_path: Path, speed: float) -> None:
    items = list(islice(generate_stream(StreamOptions(2, SEED, SMALL, speed=speed)), 50))
    assert {item.at_s for item in items} == {0.0}


@given(
    minutes=st.integers(0, 60 * 24 * 30),
    speed=st.one_of(st.floats(0.001, 1e6), st.just(0.0), st.just(math.inf)),
    factor=st.floats(1.0, 1000.0),
)
def test_at_seconds_scales_with_speed(minutes: int, speed: float, factor: float) -> None:
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    when = start + timedelta(minutes=minutes)
    at = at_seconds(when, start, speed)
    if speed == 0 or math.isinf(speed):
        assert at == 0.0
    else:
        assert at == pytest.approx(minutes * 60 / speed)
        assert at_seconds(when, start, speed * factor) == pytest.approx(at / factor)
    assert at_seconds(start - timedelta(minutes=1), start, 1.0) == 0.0


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31), version=st.sampled_from(["R5", "R4B"]))
def test_every_stream_is_time_ordered_and_raw(seed: int, version: str) -> None:
    scenario = SMALL.model_copy(update={"fhir_version": version, "imaging_fraction": 0.3})
    previous = None
    ids = Counter[str]()
    for item in generate_stream(StreamOptions(3, seed, scenario, speed=60.0)):
        key = (item.at_s, item.envelope.event_time)
        assert previous is None or key >= previous
        previous = key
        ids[item.envelope.message_id] += 1
    assert ids and max(ids.values()) == 1  # content ids are unique: no input sent twice


@pytest.mark.parametrize("version", ["R5", "R4B"])
def test_withdrawals_revoke_exactly_the_scheduled_purpose(
    tmp_path: Path, data_dir: Path, version: str
) -> None:
    """The consent service, fed the stream's Patients and Consents in order, sweeps what
    labels.json scheduled and nothing else, even where the policy's fallback for the other
    purposes is deny (so a withdrawal of the whole R5 consent would sweep them too)."""
    from clinflow.config import DataDir
    from clinflow.runtime.deployment import Deployment
    from helpers.fakes import RecordingAuditSink

    items = stream(tmp_path, version, manifest=None)
    build(tmp_path / "files", seed=SEED, patients=PATIENTS, fhir_version=version)
    labels = orjson.loads((tmp_path / "files" / "labels.json").read_bytes())
    scheduled = {r["consent"]: r for r in labels["consent_revocations"]}
    admitted: dict[str, datetime] = {}
    lines = []
    for item in items:
        envelope = item.envelope
        if "#Bundle/" in envelope.attributes["path"]:
            patient = orjson.loads(envelope.payload)["entry"][0]["resource"]
            admitted[f"Patient/{patient['id']}"] = envelope.event_time
            lines.append(orjson.dumps(patient))
        elif envelope.source is SourceKind.CONSENT:
            lines.append(envelope.payload)
            consent = orjson.loads(envelope.payload)
            if consent["status"] == "inactive":
                revocation = scheduled.pop(consent["id"])
                subject = (consent.get("subject") or consent["patient"])["reference"]
                revoke_at = datetime.fromisoformat(revocation["revoke_at"])
                assert envelope.event_time == max(revoke_at, admitted[subject])
    assert scheduled == {}  # every scheduled revocation was streamed
    feed = tmp_path / "consents.ndjson"
    feed.write_bytes(b"\n".join(lines) + b"\n")
    policy = (Path(__file__).parents[2] / "policies" / "consent.yaml").read_text()
    for purpose in ("HOPERAT", "PUBHLTH"):
        assert f"{purpose}: {{fallback: permit" in policy
        policy = policy.replace(f"{purpose}: {{fallback: permit", f"{purpose}: {{fallback: deny")
    strict = tmp_path / "strict-consent.yaml"
    strict.write_text(policy)
    with Deployment.open(
        DataDir.open(data_dir), audit=RecordingAuditSink(), consent_policy=strict
    ) as deployment:
        service = deployment.consent
        report = service.load(feed)
        assert report.rejected == []
        swept = {receipt.patient: receipt.purposes for receipt in report.revocations}
        expected_patients = {
            service.pseudonym_for(r["mrn"]): (r["purpose"],) for r in labels["consent_revocations"]
        }
    assert swept == expected_patients


def test_stopping_early_leaves_a_manifest_of_what_was_yielded(tmp_path: Path) -> None:
    manifest = tmp_path / "partial.ndjson"
    items = generate_stream(StreamOptions(PATIENTS, SEED, SMALL, manifest=manifest))
    taken = list(islice(items, 40))
    items.close()
    entries = list(read_manifest(manifest))
    assert entries
    patients_seen = {
        item.envelope.attributes["path"].split("/")[2].split(".")[0]
        for item in taken
        if item.envelope.attributes["path"].startswith("fhir/bundles/")
    }
    assert {entry.file.split("/")[2].split(".")[0] for entry in entries} <= patients_seen


_PEAK_SCRIPT = """
import sys, tracemalloc
from clinflow.synthetic.scenario import Scenario
from clinflow.synthetic.stream import StreamOptions, generate_stream
patients, seed = int(sys.argv[1]), int(sys.argv[2])
scenario = Scenario.model_validate_json(sys.argv[3])
for _ in generate_stream(StreamOptions(1, 1, scenario)):  # imports, caches
    pass
tracemalloc.start()
count = sum(1 for _ in generate_stream(StreamOptions(patients, seed, scenario)))
print(count, tracemalloc.get_traced_memory()[1])
"""


def _peak(options: StreamOptions) -> tuple[int, int]:
    for _ in generate_stream(StreamOptions(1, 1, options.scenario)):  # imports, caches
        pass
    tracemalloc.start()
    try:
        count = sum(1 for _ in generate_stream(options))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _peak_fresh(options: StreamOptions) -> tuple[int, int]:
    """Count and peak traced memory of a stream, in a fresh interpreter: caches other tests
    filled in this process must not count as the stream's memory."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(options.patients), str(options.seed),
         options.scenario.model_dump_json()],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    count, peak = done.stdout.split()
    return int(count), int(peak)


def test_memory_does_not_grow_with_the_data_generated() -> None:
    """A stay 12 times longer (12 times the vitals) peaks at about the same memory."""
    base = Scenario(imaging_fraction=0.0, notes_per_patient=1, vitals_interval_minutes=30)
    short_count, short_peak = _peak(
        StreamOptions(30, 5, base.model_copy(update={"vitals_hours": 4.0}))
    )
    long_count, long_peak = _peak(
        StreamOptions(30, 5, base.model_copy(update={"vitals_hours": 48.0}))
    )
    assert long_count > 5 * short_count
    assert long_peak < 1.5 * short_peak + 200_000


@pytest.mark.slow
def test_memory_per_patient_is_a_few_kilobytes_not_the_record() -> None:
    """50 vs 200 patients of 24 h: the peak grows by the parked state of each admitted patient
    (~12 KB), far below the ~400 KB each patient's record takes as files."""
    scenario = Scenario(imaging_fraction=0.0)
    small_count, small_peak = _peak_fresh(StreamOptions(50, 7, scenario))
    big_count, big_peak = _peak_fresh(StreamOptions(200, 7, scenario))
    assert big_count > 3.5 * small_count
    per_patient = (big_peak - small_peak) / 150
    assert per_patient < 25_000, per_patient
