"""The embedded pipeline end to end on a tiny cohort (4 patients, seed 12: imaging, notes,
research permits and one scheduled research revocation)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from clinflow.config import DataDir
from clinflow.crypto.keys import KeyRing
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.runtime import DemoPipeline, DemoReport, PipelineOptions
from clinflow.runtime.deployment import Deployment

TINY = PipelineOptions(patients=4, seed=12)
KEY_VARS = ("CLINFLOW_PROJECT_KEY", "CLINFLOW_MASTER_KEY", "CLINFLOW_AUDIT_SIGNING_KEY")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DataDir, DemoReport]]:
    with pytest.MonkeyPatch.context() as env:
        for var in KEY_VARS:
            env.delenv(var, raising=False)
        data_dir = DataDir.open(tmp_path_factory.mktemp("demo") / "data")
        yield data_dir, DemoPipeline(data_dir, TINY).run()


def _revoked(data_dir: DataDir) -> dict[str, str]:
    """Pseudonym -> purpose of every revocation the generator scheduled."""
    labels = orjson.loads((data_dir.root / "cohort" / "labels.json").read_bytes())
    pseudonyms = Pseudonymizer(KeyRing(data_dir.keys).project_key())
    return {
        pseudonyms.patient_pseudonym(item["mrn"]): item["purpose"]
        for item in labels["consent_revocations"]
    }


def test_pipeline_passes_every_check(demo: tuple[DataDir, DemoReport]) -> None:
    _, report = demo
    assert report.ok and report.reason is None
    assert report.residual_phi == 0
    assert report.consent_violations == 0 and report.revoked_research_remaining == 0
    assert report.audit_verified and report.audit_entries > 0


def test_every_stage_did_work(demo: tuple[DataDir, DemoReport]) -> None:
    _, report = demo
    assert report.inputs["fhir-bundle"] == 4 + 1 and report.inputs["dicom"] > 1  # + bad ones
    assert report.consents_loaded == 4
    assert report.decisions["TREAT"]["permit"] == 4
    assert report.deid_dicom_files == report.inputs["dicom"] - 1  # the corrupt one
    assert report.deid_fhir_files == 4
    released = sum(report.released_research.values())
    assert released > 0
    # every file released to research was scanned against the PHI manifest
    assert report.leak_files_scanned == released
    assert report.patients_scored == 4 and report.scores > 0
    assert len(report.receipts) >= 1


def test_bad_inputs_are_quarantined_not_fatal(demo: tuple[DataDir, DemoReport]) -> None:
    data_dir, report = demo
    assert sorted(report.quarantined) == [
        "dicom/zz-corrupt/1.dcm: not a readable DICOM file (InvalidDicomError)",
        "fhir/bundles/zz-truncated.json: invalid JSON",
    ]
    with Deployment.open(data_dir) as deployment:  # the deployment's own quarantine
        assert {item.location for item in deployment.quarantine.list(status=None)} == {
            "dicom/zz-corrupt/1.dcm",
            "fhir/bundles/zz-truncated.json",
        }


def test_revoked_research_is_gone_and_treatment_scores_stay(
    demo: tuple[DataDir, DemoReport],
) -> None:
    data_dir, report = demo
    revoked = _revoked(data_dir)
    assert revoked and set(revoked.values()) == {"HRESCH"}
    receipt_found = sum(r["records_found"] for r in report.receipts)
    assert receipt_found > 0 and all(r["complete"] for r in report.receipts)
    assert sum(r["keys_destroyed"] for r in report.receipts) == len(revoked)
    with Deployment.open(data_dir) as service:
        held = {record.patient for record in service.research.records()}
        assert held, "some research data of non-revoked patients stays"
        for patient, purpose in revoked.items():
            assert patient not in held
            assert service.lineage.find(patient, [purpose]) == []
            retracted = service.lineage.find(patient, [purpose], include_retracted=True)
            assert retracted and all(r.retracted_at is not None for r in retracted)
            scores = service.lineage.find(patient, ["TREAT"])
            assert scores and {r.sink for r in scores} == {"scoring-icu"}
        assert len(service.research.held()) == len(service.research.records())
    assert report.revoked_with_scores == len(revoked)


def test_report_json_has_the_figures(demo: tuple[DataDir, DemoReport]) -> None:
    _, report = demo
    data = report.to_json()
    for key in ("inputs", "quarantined", "consent", "deidentified", "research", "scoring",
                "revocations", "leaks", "audit", "timings_s"):  # fmt: skip
        assert key in data
    assert data["leaks"]["residual_phi"] == 0 and data["audit"]["verified"] is True
    assert set(data["timings_s"]) >= {"generate", "stream", "leak-scan", "audit-verify"}
    assert data["runtime"]["hops"]["ingest"]["received"] == sum(data["inputs"].values())
    text = orjson.dumps(data).decode()
    # no planted identifier (MRNs here) in the report
    labels = orjson.loads((Path(report.data_dir) / "cohort" / "labels.json").read_bytes())
    assert all(item["mrn"] not in text for item in labels["consent_revocations"])


def test_audit_log_holds_no_planted_identifier(demo: tuple[DataDir, DemoReport]) -> None:
    from clinflow.audit import AuditLog

    data_dir, report = demo
    with AuditLog.open(data_dir) as log:
        entries = [log.get_entry(index) or b"" for index in range(log.size)]
    text = b"\n".join(entries).decode().casefold()
    assert len(entries) >= report.audit_entries
    manifest = (data_dir.root / "cohort" / "manifest.ndjson").read_bytes().splitlines()
    values = {orjson.loads(line)["value"] for line in manifest}
    # bounded as the leak scanner matches: "01103" inside a hex message id is not a zip code
    leaked = [
        value
        for value in values
        if len(value) >= 5
        and re.search(rf"(?<![0-9a-z]){re.escape(value.casefold())}(?![0-9a-z])", text)
    ]
    assert leaked == []


def test_the_demo_writes_the_deployments_own_stores_and_reruns_idempotently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the demo, the CLI's stores hold its data; the same cohort again is all duplicates
    (nothing processed, audited or released twice) and the checks still pass."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    data_dir = DataDir.open(tmp_path / "data")
    options = PipelineOptions(patients=2, seed=5, bad_inputs=False)
    first = DemoPipeline(data_dir, options).run()
    with Deployment.open(data_dir) as deployment:
        patients = [row["patient"] for row in deployment.consent.summary()]
        held = len(deployment.research.records())
    assert len(patients) == 2 and first.ok
    second = DemoPipeline(data_dir, options).run()
    assert second.ok, second.reason
    assert second.duplicates == sum(first.inputs.values()) and second.scores == 0
    assert sum(second.released_research.values()) == 0
    assert second.audit_entries - first.audit_entries < 20  # run bookkeeping, not re-processing
    with Deployment.open(data_dir) as deployment:
        assert len(deployment.research.records()) == held


def test_every_input_is_accounted_for_in_the_audit_log(demo: tuple[DataDir, DemoReport]) -> None:
    """Per kind: ingested = released + denied + quarantined, joined on message ids in the log;
    dropping any disclosure from the log leaves an input unaccounted (a silent drop)."""
    from clinflow.audit import AuditLog
    from clinflow.runtime.accounting import account_research

    data_dir, report = demo
    assert set(report.accounting) == {"dicom", "fhir"}
    for kind, account in report.accounting.items():
        assert account["balanced"] and account["ingested"] > 0, kind
        assert account["quarantined"] >= 1  # the planted bad input of each kind
    assert report.accounting["dicom"]["released"] + report.accounting["fhir"]["released"] == sum(
        report.released_research.values()
    )
    with AuditLog.open(data_dir) as log:
        entries = [orjson.loads(log.get_entry(i) or b"{}") for i in range(log.size)]
    research = {"coding": [{"code": "HRESCH",
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason"}]}
    disclosures = [i for i, e in enumerate(entries) if e.get("code", {}).get("coding", [{}])[0]
                   .get("code") == "disclose" and research in e.get("authorization", [])]
    # fmt: skip
    assert disclosures
    without_one = entries[: disclosures[0]] + entries[disclosures[0] + 1 :]
    accounts = account_research(e for e in without_one if e)
    assert not all(account.balanced for account in accounts.values())
    assert sum(len(account.unaccounted) for account in accounts.values()) == 1
