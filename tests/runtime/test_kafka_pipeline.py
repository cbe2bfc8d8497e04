"""The deployment's own pipeline (the default ``--graph``: ``Deployment.open`` +
``stages.build_pipeline``) on the Kafka runtime gives what the embedded runtime gives.

One generated cohort (Bundles carry a whole patient, DICOM its PatientID; plus a truncated
Bundle and a corrupt DICOM file for the quarantine) becomes one list of raw envelopes. The
embedded runtime runs it on data dir A in this process (the reference); two ``clinflow
worker`` processes run it on data dir B from a local Tansu broker, 4 partitions per topic.
Both data dirs share the project, master and audit-signing keys (environment), so
pseudonyms, de-identified bytes and content-derived output ids are comparable. Compared,
order-insensitive: research store (records and decrypted bytes), lineage index, scoring store
rows, quarantine items, consent registry history, per-hop ledger counts and AuditEvents
(content without the ``recorded`` time; counts by code). A run is complete when B's ledger
holds as many completed inputs at every hop as A's (bounded wait).

``kill -9`` of one worker mid-stream (just after an audit commit, the worst moment):
nothing lost, nothing duplicated in any store, the research accounting from B's audit log
balances, and the only extra AuditEvents are the re-run of work the dead worker had committed
to the audit log but not yet marked in the ledger: each has one copy from before the kill and
one from after, and belongs to an input its hop had not completed at the kill (a snapshot of
the ledger) and completed afterwards, at most one batch of inputs per hop.
``clinflow audit verify --data-dir B`` passes after both runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.audit.buffer import BufferedSink
from clinflow.config import DataDir
from clinflow.envelope import Envelope
from clinflow.runtime.deployment import Deployment
from clinflow.runtime.embedded import EmbeddedRuntime
from clinflow.runtime.ingest import route_key
from clinflow.runtime.ledger import Ledger
from clinflow.runtime.pipeline import DEMO_SCENARIO, cohort_inputs, plant_bad_inputs, raw_envelope
from clinflow.runtime.stages import build_pipeline
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.scenario import load_scenario
from helpers.cli import run_cli

from .helpers import (
    HOP_NAMES,
    KEYS,
    MESSAGE,
    Cluster,
    Stores,
    audit_size,
    event_code,
    ledger_counts,
    local_cluster,
    read_stores,
    stop_cleanly,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(240)]

PATIENTS = 4
SEED = 12
HOPS = 11  # ingest ... research-release (runtime.stages)
ENTRY = "ingest"
DRAIN_TIMEOUT = 90.0


# ----- the two runs ---------------------------------------------------------------------------


@dataclass
class Reference:
    envelopes: list[Envelope]
    stores: Stores
    seconds: float


@pytest.fixture(scope="module")
def keys() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in KEYS.items():
            patch.setenv(name, value)  # inherited by the worker processes
        yield


@pytest.fixture(scope="module")
def reference(keys: None, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The cohort as raw envelopes (made once: both runtimes get the very same envelopes) and
    what the embedded runtime makes of them on data dir A."""
    base = tmp_path_factory.mktemp("kafka-pipeline")
    cohort = base / "cohort"
    generate(GenerateOptions(patients=PATIENTS, seed=SEED, out=cohort,
                             scenario=load_scenario(DEMO_SCENARIO), workers=1))  # fmt: skip
    plant_bad_inputs(cohort)
    envelopes = [raw_envelope(location, data, kind)
                 for location, data, kind in cohort_inputs(cohort)]  # fmt: skip
    started = time.perf_counter()
    with Deployment.open(base / "embedded") as deployment:
        audit = BufferedSink(deployment.audit)
        stages = build_pipeline(deployment, audit)
        runtime = EmbeddedRuntime(stages.graph, quarantine=deployment.quarantine, audit=audit,
                                  ledger=deployment.ledger)  # fmt: skip

        async def source() -> AsyncIterator[Envelope]:
            for envelope in envelopes:
                yield envelope

        asyncio.run(runtime.run(source()))
    seconds = time.perf_counter() - started
    stores = read_stores(base / "embedded")
    assert stores.research and stores.scoring and stores.quarantine, "a cohort that tests little"
    return Reference(envelopes, stores, seconds)


@pytest.fixture()
def cluster(keys: None, tmp_path: Path) -> Iterator[Cluster]:
    with local_cluster(tmp_path, graph=None, hops=HOPS, batch_size=4) as state:
        yield state


def start(cluster: Cluster, reference: Reference) -> list[Any]:
    workers = [cluster.start_worker(), cluster.start_worker()]
    cluster.wait_for_group(workers)
    sent = cluster.produce(reference.envelopes, entry=ENTRY, key=route_key)
    assert sent == len(reference.envelopes)
    return workers


def wait_complete(cluster: Cluster, reference: Reference) -> float:
    """Until B's ledger has completed as many inputs at every hop as A's, then a quiet second
    in which nothing more arrives; the seconds it took."""
    ledger = DataDir.open(cluster.data_dir).ledger_db
    try:
        took = cluster.wait_until(lambda: ledger_counts(ledger) == reference.stores.ledger,
                                  "every hop complete", DRAIN_TIMEOUT)  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"ledger counts per hop: kafka {ledger_counts(ledger)}, "
                             f"embedded {reference.stores.ledger}\n{exc}") from None  # fmt: skip
    time.sleep(1.0)
    assert ledger_counts(ledger) == reference.stores.ledger
    return took


def assert_same_stores(kafka: Stores, embedded: Stores) -> None:
    assert kafka.research == embedded.research  # ids, patients, purposes, lineage, bytes
    assert kafka.research_payloads == embedded.research_payloads == len(embedded.research)
    assert kafka.lineage == embedded.lineage
    assert kafka.lineage_rows == embedded.lineage_rows == len(embedded.lineage)
    assert kafka.scoring == embedded.scoring
    assert kafka.quarantine == embedded.quarantine
    assert kafka.consent == embedded.consent
    assert kafka.ledger == embedded.ledger
    assert kafka.accounts() == embedded.accounts()
    assert all(account["balanced"] for account in kafka.accounts().values())


def verify_audit(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, err = run_cli(capsys, "audit", "verify", "--data-dir", str(data_dir))
    assert code == 0, out + err


# ----- the tests ------------------------------------------------------------------------------


def test_kafka_gives_the_embedded_runtime_s_stores_and_audit_events(
    cluster: Cluster, reference: Reference, capsys: pytest.CaptureFixture[str]
) -> None:
    workers = start(cluster, reference)
    produced = time.monotonic()
    drained = wait_complete(cluster, reference)
    from clinflow.runtime.kafka import topic_message_ids

    # Without a failure every topic holds each input its hop completed exactly once:
    # nothing was sent twice.
    held = asyncio.run(topic_message_ids(cluster.settings, HOP_NAMES))
    assert {hop: len(ids) for hop, ids in held.items() if ids} == reference.stores.ledger
    assert all(len(set(ids)) == len(ids) for ids in held.values())
    for worker in workers:
        assert stop_cleanly(worker) == 0, cluster.describe("a worker did not stop with 0")
    seconds = time.monotonic() - produced

    kafka = read_stores(cluster.data_dir)
    assert_same_stores(kafka, reference.stores)
    assert kafka.codes == reference.stores.codes
    assert kafka.events == reference.stores.events  # the same events, not just as many
    verify_audit(capsys, cluster.data_dir)
    with capsys.disabled():
        print(f"\nkafka pipeline: {len(reference.envelopes)} inputs, {len(kafka.research)} "
              f"research records, {sum(kafka.scoring.values())} scored Observations, "
              f"{len(kafka.audit)} AuditEvents {dict(kafka.codes)}; complete {drained:.1f} s "
              f"after the produce ({seconds:.1f} s with the stop); embedded "
              f"{reference.seconds:.1f} s")  # fmt: skip


def test_kill_9_of_one_worker_loses_and_duplicates_nothing(
    cluster: Cluster, reference: Reference, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    expected = reference.stores.ledger
    terminals = ("score-sink", "research-release")
    ledger = DataDir.open(cluster.data_dir).ledger_db
    victim, survivor = start(cluster, reference)
    cluster.wait_until(lambda: sum(ledger_counts(ledger).get(hop, 0) for hop in terminals) > 0,
                       "first terminal outputs", 60.0)  # fmt: skip
    # The worst moment for duplicates: just after an audit commit, which comes before the
    # batch's sends and its ledger mark.
    size = audit_size(cluster.data_dir)
    cluster.wait_until(lambda: audit_size(cluster.data_dir) > size, "an audit commit", 30.0)
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    at_kill = snapshot_ledger(ledger, tmp_path / "ledger-at-kill.db")
    audit_at_kill = audit_size(cluster.data_dir)
    counts_at_kill = {hop: at_kill.count(hop) for hop in HOP_NAMES}
    assert counts_at_kill != expected, "the stream finished before the kill"

    recovery = wait_complete(cluster, reference)
    assert stop_cleanly(survivor) == 0, cluster.describe("the survivor did not stop with 0")

    kafka = read_stores(cluster.data_dir)
    assert_same_stores(kafka, reference.stores)  # nothing lost, no row twice
    # Every AuditEvent of the reference is there; an extra copy is a re-run: its first copy was
    # written before the kill, its second after, and it belongs to an input its hop had not
    # completed at the kill and completed afterwards, at most one batch of them per hop.
    assert not reference.stores.events - kafka.events, "AuditEvents lost"
    extra = kafka.events - reference.stores.events
    positions: dict[bytes, list[int]] = {}
    for index, content in enumerate(kafka.contents()):
        if content in extra:
            positions.setdefault(content, []).append(index)
    for content, indices in positions.items():
        assert len(indices) == reference.stores.events[content] + 1 == 2, indices
        assert indices[0] < audit_at_kill <= indices[1], (indices, audit_at_kill)
    final = Ledger(ledger)
    try:
        rerun = rerun_inputs(extra, kafka, at_kill, final)
    finally:
        final.close()
        at_kill.close()
    assert all(0 < len(inputs) <= cluster.batch_size for inputs in rerun.values()), rerun
    verify_audit(capsys, cluster.data_dir)
    with capsys.disabled():
        print(f"\nkafka pipeline kill -9: ledger at the kill {counts_at_kill}; complete "
              f"{recovery:.1f} s later; {sum(extra.values())} AuditEvents re-run "
              f"{dict(Counter(event_code(c) for c in extra))} for "
              f"{ {hop: len(ids) for hop, ids in rerun.items()} } input(s) per hop; "
              f"accounting {_accounts_line(kafka.accounts())}")  # fmt: skip


def snapshot_ledger(path: Path, copy: Path) -> Ledger:
    """The ledger as it is now (an SQLite backup: consistent while workers write)."""
    source, target = sqlite3.connect(path), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return Ledger(copy)


def event_hops(event: dict[str, Any]) -> tuple[str, ...]:
    """The hops whose stage writes an AuditEvent like ``event``."""
    code = event["code"]["coding"][0]["code"]
    purposes = {c["code"] for p in event.get("authorization") or () for c in p.get("coding") or ()}
    if code in ("score", "alert"):
        return ("icu-score",)
    if code in ("disclose", "consent-decision"):
        if "HRESCH" in purposes:
            return ("research-release",)
        return ("minimum-necessary",) if code == "disclose" else ("treatment-gate",)
    if code == "deidentify":
        return ("deid-dicom", "deid-fhir")
    return ("ingest",) if code == "ingest" else HOP_NAMES


def rerun_inputs(
    extra: Counter[bytes], kafka: Stores, at_kill: Ledger, final: Ledger
) -> dict[str, set[str]]:
    """hop -> the inputs each extra AuditEvent re-ran there (not completed at the kill,
    completed at the end); fails for an extra event that is no such re-run."""
    score_inputs: dict[str, set[str]] = {}  # a scored patient -> its score outputs' lineage
    for _output, sink, patient, *_, inputs in kafka.lineage:
        if sink == "scoring-icu":
            score_inputs.setdefault(patient, set()).update(inputs)
    rerun: dict[str, set[str]] = {}
    for content in extra:
        event = orjson.loads(content)
        ids = {entity["what"]["identifier"]["value"] for entity in event.get("entity") or ()
               if entity.get("what", {}).get("identifier", {}).get("system") == MESSAGE}
        if event_code(content) in ("score", "alert"):
            patient = event["patient"]["reference"].removeprefix("Patient/")
            ids |= score_inputs.get(patient, set())
        pending = {(hop, message_id) for hop in event_hops(event)
                   for message_id in final.seen(hop, ids) - at_kill.seen(hop, ids)}  # fmt: skip
        assert pending, f"an extra AuditEvent that is no re-run: {content[:300]!r}"
        for hop, message_id in pending:
            rerun.setdefault(hop, set()).add(message_id)
    return rerun


def _accounts_line(accounts: dict[str, dict[str, Any]]) -> str:
    return ", ".join(
        f"{kind} {a['ingested']} = {a['released']} released + {a['denied']} denied + "
        f"{a['quarantined']} quarantined" for kind, a in accounts.items()
    )

