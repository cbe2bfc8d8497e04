"""A restarted runtime (or a Kafka worker that takes over partitions) still de-identifies the
FHIR of patients admitted before it started: the patient key comes from the persisted,
sealed patient directory, so nothing is quarantined as "patient not found" and the patient
keeps the same pseudonym and date shift as before the restart."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import orjson

from clinflow.audit.buffer import BufferedSink
from clinflow.config import DataDir, scenarios_dir
from clinflow.envelope import Envelope, SourceKind
from clinflow.runtime.deployment import Deployment
from clinflow.runtime.embedded import EmbeddedRuntime
from clinflow.runtime.stages import build_pipeline
from clinflow.synthetic.scenario import load_scenario
from clinflow.synthetic.stream import StreamOptions, generate_stream


def _stream(tmp_path: Path) -> list[Envelope]:
    scenario = load_scenario(scenarios_dir() / "icu-ward.yaml").model_copy(
        update={"vitals_points": 6, "notes_per_patient": 1}
    )
    options = StreamOptions(patients=2, seed=4, scenario=scenario, manifest=tmp_path / "m.ndjson")
    return [item.envelope for item in generate_stream(options)]


def _run(data_dir: Path, envelopes: Iterable[Envelope]) -> None:
    async def feed() -> AsyncIterator[Envelope]:
        for envelope in envelopes:
            yield envelope

    with Deployment.open(DataDir.open(data_dir)) as deployment:
        buffered = BufferedSink(deployment.audit, batch=256)
        stages = build_pipeline(deployment, buffered, validation="shallow")
        runtime = EmbeddedRuntime(stages.graph, quarantine=deployment.quarantine,
                                  audit=buffered, ledger=deployment.ledger)  # fmt: skip
        asyncio.run(runtime.run(feed()))


def _released_fhir(data_dir: Path) -> list[dict[str, object]]:
    with Deployment.open(DataDir.open(data_dir)) as deployment:
        research = deployment.research
        return [orjson.loads(research.read(record.output_id))
                for record in research.records() if record.category.startswith("fhir")]  # fmt: skip


def _subjects(documents: list[dict[str, object]]) -> set[str]:
    found = set()
    for document in documents:
        entries = document.get("entry") if document.get("resourceType") == "Bundle" else None
        resources = [e["resource"] for e in entries] if isinstance(entries, list) else [document]
        for resource in resources:
            subject = resource.get("subject")
            if isinstance(subject, dict) and isinstance(subject.get("reference"), str):
                found.add(subject["reference"])
    return found


def test_after_a_restart_earlier_patients_are_still_known(tmp_path: Path) -> None:
    envelopes = _stream(tmp_path)
    vitals = [i for i, e in enumerate(envelopes)
              if e.source is SourceKind.FHIR and b"vital-signs" in e.payload]  # fmt: skip
    cut = vitals[len(vitals) // 2]  # both admissions are before it, half the vitals after
    once, twice = tmp_path / "once", tmp_path / "restarted"

    _run(once, envelopes)
    _run(twice, envelopes[:cut])
    before = _subjects(_released_fhir(twice))
    _run(twice, envelopes[cut:])  # as a new process would: nothing of run 1 in memory

    with Deployment.open(DataDir.open(twice)) as deployment:
        reasons = [item.reason for item in deployment.quarantine.list(status=None)]
    assert not [r for r in reasons if "patient" in r.lower()], reasons
    assert len(_released_fhir(twice)) == len(_released_fhir(once))  # nothing lost
    after = _subjects(_released_fhir(twice))
    assert before and before <= after  # the same pseudonym after the restart ...
    assert len(after) == len(_subjects(_released_fhir(once)))  # ... not a second one


def test_the_directory_holds_no_mrn_in_clear(tmp_path: Path) -> None:
    envelopes = _stream(tmp_path)
    data_dir = tmp_path / "data"
    _run(data_dir, envelopes[:40])
    admissions = [orjson.loads(e.payload) for e in envelopes[:40]
                  if b'"Patient"' in e.payload and e.source is SourceKind.FHIR]  # fmt: skip
    mrns = {
        identifier["value"]
        for bundle in admissions
        for entry in bundle.get("entry", [])
        if entry["resource"]["resourceType"] == "Patient"
        for identifier in entry["resource"].get("identifier", [])
    }
    assert mrns
    raw = b"".join(p.read_bytes() for p in data_dir.glob("ledger.db*"))
    assert not [m for m in mrns if m.encode() in raw]
    rows = sqlite3.connect(data_dir / "ledger.db").execute(
        "SELECT count(*) FROM patient_refs WHERE sealed_key IS NOT NULL"
    ).fetchone()
    assert rows[0] >= 1
