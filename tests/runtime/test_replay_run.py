"""``clinflow replay`` runs: open-loop latency, duplicate deliveries, and a small replay of
the deployment's pipeline with every embedded fault, checked through its report."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinflow.audit.buffer import BufferedSink
from clinflow.envelope import Envelope, SourceKind
from clinflow.quarantine import Quarantine
from clinflow.runtime.embedded import EmbeddedRuntime
from clinflow.runtime.graph import Graph, Hop
from clinflow.runtime.ledger import Ledger
from clinflow.runtime.replay import ReplayOptions, run_replay
from clinflow.runtime.replay_load import Scheduled
from clinflow.runtime.replay_metrics import ReplayMetrics, paced
from clinflow.runtime.replay_report import ReplayReport, json_schema
from helpers.fakes import RecordingAuditSink

ROOT = Path(__file__).resolve().parents[2]


class SlowSink:
    """A terminal stage that takes ``seconds`` per message (blocking, as a slow store does)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls: list[str] = []

    def process(self, envelope: Envelope) -> list[Envelope]:
        time.sleep(self.seconds)
        self.calls.append(envelope.message_id)
        return [envelope]


def _message(number: int) -> Envelope:
    return Envelope(message_id=f"m{number:04d}", source=SourceKind.FHIR, patient="PT-x",
                    payload=b"%d" % number, event_time=datetime.now(UTC))  # fmt: skip


def _run(tmp_path: Path, sink: SlowSink, items: list[Scheduled], ledger: Ledger | None = None,
         batch: int = 256, queue_size: int = 1024) -> ReplayMetrics:  # fmt: skip
    metrics = ReplayMetrics(bucket_s=1.0)
    runtime = EmbeddedRuntime(Graph.of([Hop("sink", sink)], entry="sink"),
                              quarantine=Quarantine(tmp_path / "q.db"),
                              audit=BufferedSink(RecordingAuditSink()), ledger=ledger,
                              on_terminal=metrics.on_terminal, batch=batch,
                              queue_size=queue_size)  # fmt: skip

    async def main() -> None:
        metrics.start_epoch, metrics.started = time.time(), time.perf_counter()
        await runtime.run(paced(iter(items), metrics))

    asyncio.run(main())
    return metrics


def test_a_slow_sink_does_not_slow_the_schedule_latency_includes_the_queue(
    tmp_path: Path,
) -> None:
    # 100 inputs due over 0.1 s (1,000/s) into a sink that needs 5 ms each (200/s), behind a
    # queue of 2: backpressure holds the feed back (it hands inputs out late), and measured
    # from when each was handed out latency would be ~5-10 ms; from when it was DUE, the
    # wait shows, up to ~0.4 s.
    items = [Scheduled(i / 1000, _message(i)) for i in range(100)]
    metrics = _run(tmp_path, SlowSink(0.005), items, batch=1, queue_size=2)
    assert metrics.generator_lag.get_value_at_percentile(99) / 1e6 > 0.2  # the feed was held
    latency = metrics.latency["sink"]
    assert latency.get_total_count() == 100
    assert latency.get_value_at_percentile(99) / 1e6 > 0.3  # seconds: queueing counted
    assert latency.get_value_at_percentile(1) / 1e6 < 0.05
    assert sum(metrics.offered.values()) == 100 and list(metrics.offered) == [0]


def test_a_redelivery_while_the_first_copy_is_in_flight_reaches_the_sink_once(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    # each message twice in a row (same id): the copy lands in the same batch as the first,
    # before the ledger marks it, or in the next one while that commit is in flight
    twice = [Scheduled(0.0, _message(i // 2)) for i in range(100)]
    sink = SlowSink(0.0)
    metrics = _run(tmp_path, sink, twice, ledger, batch=8)
    assert len(sink.calls) == len(set(sink.calls)) == 50
    assert sum(metrics.sink_duplicates.values()) == 0
    ledger.close()


def test_the_committed_json_schema_is_the_models() -> None:
    committed = (ROOT / "docs" / "schemas" / "replay-report.schema.json").read_text()
    assert committed == json_schema(), "regenerate: python -m clinflow.runtime.replay_report"


@pytest.fixture(scope="module")
def faulty_replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReplayReport, Path]:
    folder = tmp_path_factory.mktemp("replay")
    options = ReplayOptions(
        source="icu-ward", report_dir=folder / "report", patients=10, seed=4, rate="65/s",
        duration_s=30, validation="shallow", deid_workers=1,
        faults="malformed:ratio=0.03; duplicate:ratio=0.05,delay=50ms; "
               "reorder:ratio=0.05,shift=500ms; revoke-storm@10s:patients=2; "
               "audit-outage@15s:for=5s; kill-worker@23s",
    )  # fmt: skip
    return run_replay(options), folder / "report"


@pytest.mark.slow  # 30 s of replay, then leak scan and audit verify (issue 15's must-show):
# every fault kind of the embedded runtime in one run (broker restarts: test_replay_kafka_faults)
def test_a_replay_with_every_embedded_fault_passes_its_checks(
    faulty_replay: tuple[ReplayReport, Path],
) -> None:
    report, _ = faulty_replay
    c = report.correctness
    assert report.ok, report.failed_checks
    assert report.run.seconds >= 29.5 and not report.inputs.source_exhausted  # a 30 s replay
    injected = report.inputs.injected
    assert {k: injected.get(k, 0) > 0 for k in ("malformed", "duplicate", "reorder",
                                                "revoke-storm")} == dict.fromkeys(
        ("malformed", "duplicate", "reorder", "revoke-storm"), True)  # fmt: skip
    assert c.lost == 0 and c.duplicated_at_sinks == 0 and c.duplicate_disclosures == 0
    assert c.residual_phi == 0 and c.leak_files_scanned > 0
    assert c.consent_violations == 0
    assert c.revoked_patients == 2 and c.revoked_data_remaining == 0
    assert c.audit_verified is True and c.counts_match_audit
    for kind, account in c.accounting.items():
        assert account.balanced and account.unaccounted == [], kind
    assert sum(a.quarantined for a in c.accounting.values()) >= injected["malformed"]
    assert c.quarantined_by_reason.get("invalid JSON", 0) > 0
    assert {m.kind for m in report.timeline.faults} == {"malformed", "duplicate", "reorder",
                                                        "revoke-storm", "audit-outage",
                                                        "kill-worker"}  # fmt: skip
    # kill -9 of the FHIR de-identification worker process: the pool replaces it and computes
    # its share again (not quarantined as a stage error); the checks above still hold
    kill = next(m for m in report.timeline.faults if m.kind == "kill-worker")
    assert kill.at_s == 23.0 and "de-identification worker process" in kill.detail
    assert "(1 restart(s) in the run)" in kill.detail
    assert not any("worker" in reason or "stage error" in reason
                   for reason in c.quarantined_by_reason), c.quarantined_by_reason  # fmt: skip
    outage = next(m for m in report.timeline.faults if m.kind == "audit-outage")
    assert (outage.at_s, outage.until_s) == (15.0, 20.0) and outage.count > 0  # commits held
    storm = next(m for m in report.timeline.faults if m.kind == "revoke-storm")
    assert storm.at_s == 10.0 and storm.count == 2
    assert report.latency["score-sink"].count > 0 and report.latency["score-sink"].p99_ms
    assert report.scoring["scores"] == report.latency["score-sink"].count > 0
    # every hop's latency; ingest starts every input that is not a ledger duplicate once
    assert set(report.hop_latency) == set(report.hops)
    ingest = report.hops["ingest"]
    assert report.hop_latency["ingest"].count == ingest.received - ingest.duplicates


@pytest.mark.slow  # shares the replay above
def test_the_report_files_validate_and_the_page_is_self_contained(
    faulty_replay: tuple[ReplayReport, Path],
) -> None:
    import jsonschema_rs

    _, folder = faulty_replay
    document = json.loads((folder / "report.json").read_text())
    jsonschema_rs.validate(json.loads(json_schema()), document)
    assert ReplayReport.model_validate(document).schema_version == "1"
    page = (folder / "report.html").read_text()
    assert page.count("<svg") == 3 and "revoke-storm" in page
    for fetches in ("<script", "<link", "src=", "url(", "@import", "http://", "https://"):
        assert fetches not in page.replace("http://www.w3.org/2000/svg", ""), fetches


KEYS = {  # one deployment's keys for both data dirs (hex, 32 bytes each)
    "CLINFLOW_PROJECT_KEY": "a1" * 32,
    "CLINFLOW_MASTER_KEY": "b2" * 32,
    "CLINFLOW_AUDIT_SIGNING_KEY": "c3" * 32,
}


def _sink_contents(data_dir: Path) -> dict[str, object]:
    """What the sinks hold: research records with their decrypted bytes, scoring rows."""
    from clinflow.runtime.deployment import Deployment

    with Deployment.open(data_dir) as deployment:
        research = {
            (r.output_id, r.patient, r.purpose, r.category, r.location, r.lineage):
            hashlib.sha256(deployment.research.read(r.output_id)).hexdigest()
            for r in deployment.research.records()
        }  # fmt: skip
        store = deployment.scoring_store
        scoring = {p: store.count(p) for p in store.patients()}
        return {"research": research, "scoring": scoring, "lineage": deployment.lineage.count()}


@pytest.mark.slow  # two replays of the real pipeline (~10 s each on 2 shared cores)
def test_a_recording_replayed_twice_leaves_the_same_sink_contents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from itertools import islice

    from clinflow.config import scenarios_dir
    from clinflow.runtime.recording import write_recording
    from clinflow.synthetic.scenario import load_scenario
    from clinflow.synthetic.stream import StreamOptions, generate_stream

    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    options = StreamOptions(patients=3, seed=4, speed=1.0,
                            scenario=load_scenario(scenarios_dir() / "icu-ward.yaml"))  # fmt: skip
    recording = tmp_path / "ward.cfrec"
    write_recording(recording, {"source": "test"}, islice(generate_stream(options), 250))
    contents = []
    for run in ("first", "second"):
        report = run_replay(ReplayOptions(
            source=str(recording), report_dir=tmp_path / run, rate="2000/s", seed=1,
            validation="shallow", leak_scan=False, verify_audit=False,
        ))  # fmt: skip
        assert report.ok and report.inputs.fed == 250, report.failed_checks
        contents.append(_sink_contents(tmp_path / run / "data"))
    first, second = contents
    assert first["research"] and first["scoring"]
    assert first == second


@pytest.mark.parametrize(
    ("args", "named"),
    [(["nosuch"], "SOURCE 'nosuch'"), (["icu-ward", "--faults", "bogus"], "'bogus' is not"),
     (["icu-ward", "--faults", "kill-worker@3s"], "needs --runtime kafka"),
     (["icu-ward", "--rate", "fast"], "--rate 'fast'"),
     (["icu-ward", "--faults", "revoke-storm@1s:purposes=XYZ"], "'XYZ' is not a purpose")],
)  # fmt: skip
def test_usage_errors_exit_2_with_one_line_and_leave_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    from helpers.cli import run_cli

    code, _, err = run_cli(capsys, "replay", *args, "--report", str(tmp_path / "r"))
    assert code == 2 and named in err and "Traceback" not in err
    if "purpose" not in named:  # the policy check needs the deployment's consent policy
        assert not (tmp_path / "r").exists()
