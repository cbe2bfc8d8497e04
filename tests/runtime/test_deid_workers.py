"""FHIR de-identification in worker processes (``build_pipeline(deid_workers=N)``, ADR 0110)
gives exactly what the in-process stage gives: the same research records byte for byte, the
same quarantine rows, the same AuditEvents; a killed worker is replaced and nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from clinflow.audit.buffer import BufferedSink
from clinflow.deid.fhir.io import RunReport
from clinflow.envelope import Envelope, SourceKind, content_message_id
from clinflow.runtime.deployment import Deployment
from clinflow.runtime.embedded import EmbeddedRuntime, RunStats
from clinflow.runtime.offload import DeidWorkers
from clinflow.runtime.pipeline import DEMO_SCENARIO, cohort_inputs, plant_bad_inputs, raw_envelope
from clinflow.runtime.stages import build_pipeline
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.scenario import load_scenario

from .helpers import KEYS, read_stores

pytestmark = pytest.mark.slow  # spawns worker processes that load the de-identifier

PATIENTS = 3
SEED = 21


@pytest.fixture(scope="module")
def keys() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in KEYS.items():
            patch.setenv(name, value)  # inherited by the worker processes
        yield


def _with_bad_entry(cohort: Path) -> None:
    """A patient Bundle again with one entry no FHIR model accepts (a date that is not one):
    the de-identification stage quarantines that entry and releases the rest."""
    first = sorted((cohort / "fhir" / "bundles").glob("pat-*.json"))[0]
    bundle = orjson.loads(first.read_bytes())
    observation = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    )
    bad = dict(observation, id="bad-entry", effectiveDateTime="the day before yesterday")
    bundle["entry"].append({"fullUrl": "urn:uuid:bad-entry", "resource": bad})
    (cohort / "fhir" / "bundles" / "zz-bad-entry.json").write_bytes(orjson.dumps(bundle))


def _run(
    data_dir: Path, envelopes: list[Envelope], workers: int
) -> tuple[RunStats, dict[str, object]]:
    with Deployment.open(data_dir) as deployment:
        audit = BufferedSink(deployment.audit)
        stages = build_pipeline(deployment, audit, deid_workers=workers)
        runtime = EmbeddedRuntime(stages.graph, quarantine=deployment.quarantine, audit=audit,
                                  ledger=deployment.ledger, batch=16)  # fmt: skip

        async def source() -> AsyncIterator[Envelope]:
            for envelope in envelopes:
                yield envelope

        stats = asyncio.run(runtime.run(source()))
        return stats, stages.fhir_runner.report.as_dict()


def test_worker_processes_give_the_in_process_stores_and_audit_events(
    keys: None, tmp_path: Path
) -> None:
    cohort = tmp_path / "cohort"
    generate(GenerateOptions(patients=PATIENTS, seed=SEED, out=cohort,
                             scenario=load_scenario(DEMO_SCENARIO), workers=1))  # fmt: skip
    plant_bad_inputs(cohort)
    _with_bad_entry(cohort)
    envelopes = [raw_envelope(loc, data, kind) for loc, data, kind in cohort_inputs(cohort)]

    inline, inline_report = _run(tmp_path / "inline", envelopes, workers=0)
    pooled, pooled_report = _run(tmp_path / "pooled", envelopes, workers=2)
    a, b = read_stores(tmp_path / "inline"), read_stores(tmp_path / "pooled")

    assert a.research, "a cohort that releases nothing tests little"
    assert b.research == a.research  # ids, patients, lineage, SHA-256 of the released bytes
    assert b.lineage == a.lineage
    assert b.scoring == a.scoring
    assert b.quarantine == a.quarantine
    assert any(stage == "deid-fhir" and "effectiveDateTime" in reason and patient
               for stage, _, reason, patient in b.quarantine), b.quarantine  # fmt: skip
    assert b.ledger == a.ledger
    assert b.events == a.events  # every AuditEvent but its recording time
    assert b.codes == a.codes
    assert pooled_report == inline_report  # the stage's counts (resources, types, patients)
    assert pooled.hops["deid-fhir"].rejected == inline.hops["deid-fhir"].rejected


def _vitals(patient: str, count: int) -> list[Envelope]:
    out = []
    for n in range(count):
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": f"urn:uuid:p-{patient}", "resource": {
                "resourceType": "Patient", "id": f"p-{patient}",
                "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": f"MRN{patient}"}],
            }},
            {"resource": {
                "resourceType": "Observation", "id": f"o-{patient}-{n}", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"urn:uuid:p-{patient}"},
                "effectiveDateTime": f"2031-05-0{1 + n % 9}T10:00:00Z",
                "valueQuantity": {"value": 80 + n, "unit": "/min"},
            }},
        ]}  # fmt: skip
        payload = orjson.dumps(bundle)
        out.append(Envelope(content_message_id(payload), SourceKind.FHIR, f"PT-{patient}",
                            payload, datetime(2031, 5, 1, tzinfo=UTC)))  # fmt: skip
    return out


def test_a_killed_worker_is_replaced_and_its_messages_done_again(
    keys: None, tmp_path: Path
) -> None:
    with Deployment.open(tmp_path / "d"):
        pass  # creates the data dir and its keys
    pool = DeidWorkers(1, tmp_path / "d", "input")
    try:
        (pid,) = pool.wait_ready()
        batch = _vitals("a", 3) + _vitals("b", 2)
        before = asyncio.run(pool.run(batch, RunReport()))
        os.kill(pid, signal.SIGKILL)
        report = RunReport()
        after = asyncio.run(pool.run(batch, report))
    finally:
        pool.close()
    assert pool.restarts == 1
    assert all(o is not None and o.payload is not None for o in after)
    assert [o.payload for o in after] == [o.payload for o in before]  # type: ignore[union-attr]
    assert report.resources_in == 10  # 5 Bundles of a Patient and an Observation
    released = orjson.loads(after[0].payload)  # type: ignore[union-attr, arg-type]
    assert b"MRNa" not in after[0].payload  # type: ignore[union-attr, operator]
    assert released["resourceType"] == "Bundle"
