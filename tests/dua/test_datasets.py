"""Research datasets end to end on a small demo deployment (4 patients, seed 3).

A dataset is built under two agreements (a core DUA and an addendum that expires); then one
patient withdraws research consent and the addendum expires: the rebuild drops exactly that
patient's records and the addendum's classes, its report says why, and everything else is
byte for byte the same. Retention enforcement on a store whose agreement has expired removes
exactly the records without a basis, through the revocation machinery, and verifies.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.audit.store import open_existing_store
from clinflow.audit.verify import trusted_verifiers, verify_log
from clinflow.cli import app
from clinflow.config import DataDir
from clinflow.consent.dua import load_deployment_agreements
from clinflow.consent.retention import enforcer_for, parse_instant
from clinflow.datasets.build import MANIFEST, REBUILD_REPORT
from clinflow.datasets.service import build, rebuild, verify
from clinflow.errors import ConfigError
from clinflow.runtime import DemoPipeline, PipelineOptions
from clinflow.runtime.deployment import Deployment

pytestmark = pytest.mark.slow  # one demo run (~10 s) shared by the module

KEY_VARS = ("CLINFLOW_PROJECT_KEY", "CLINFLOW_MASTER_KEY", "CLINFLOW_AUDIT_SIGNING_KEY")
CORE = """\
id: dua-study-core
recipient: Organization/example-university
purposes: [HRESCH]
data_classes: [demographics, vitals, notes]
deidentification: limited_data_set
period: {start: 2026-01-01, end: 2030-12-31}
"""
ADDENDUM = """\
id: dua-study-addendum
recipient: Organization/example-university
purposes: [HRESCH]
data_classes: [conditions, imaging]
modalities: [CT, DX]
deidentification: safe_harbor
period: {start: 2026-01-01, end: 2027-03-31}
"""
VITALS_ONLY = """\
id: dua-vitals-long
recipient: Organization/registry
purposes: [HRESCH]
data_classes: [demographics, vitals]
deidentification: limited_data_set
period: {start: 2026-01-01, end: 2035-12-31}
"""
ADDENDUM_CLASSES = {"conditions", "imaging"}
BUILT_AT = datetime(2027, 1, 15, tzinfo=UTC)
AFTER_EXPIRY = datetime(2027, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo's default deployment: its example DUA is in force, so research releases."""
    with pytest.MonkeyPatch.context() as env:
        for var in KEY_VARS:
            env.delenv(var, raising=False)
        root = tmp_path_factory.mktemp("dua-demo") / "data"
        options = PipelineOptions(patients=4, seed=3, bad_inputs=False)
        report = DemoPipeline(DataDir.open(root), options).run()
        assert report.ok, report.reason
        assert sum(report.released_research.values()) > 0
        yield root


def deployment_copy(demo: Path, where: Path, *agreements: str) -> DataDir:
    shutil.copytree(demo, where)
    (where / "dua").mkdir()
    for text in agreements:
        agreement_id = text.split("\n", 1)[0].removeprefix("id: ")
        (where / "dua" / f"{agreement_id}.yaml").write_text(text, encoding="utf-8")
    return DataDir(where)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != REBUILD_REPORT
    }


def manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((folder / MANIFEST).read_bytes())
    return data


def audit_verifies(data_dir: DataDir) -> bool:
    store = open_existing_store(data_dir)
    try:
        verifiers = trusted_verifiers(data_dir, DEFAULT_ORIGIN, [])
        return verify_log(store, verifiers, origin=DEFAULT_ORIGIN).ok
    finally:
        store.close()


@dataclass
class Scenario:
    data_dir: DataDir
    first: Path  # built at BUILT_AT
    again: Path  # rebuilt at BUILT_AT, nothing changed
    after: Path  # rebuilt at AFTER_EXPIRY, after the revocation
    revoked: str
    report_same: dict[str, Any]
    report_after: dict[str, Any]


@pytest.fixture(scope="module")
def scenario(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    base = tmp_path_factory.mktemp("dua-scenario")
    data_dir = deployment_copy(demo, base / "data", CORE, ADDENDUM)
    first, again, after = base / "ds", base / "ds-again", base / "ds-after"
    with Deployment.open(data_dir) as deployment:
        build(deployment, ["dua-study-core", "dua-study-addendum"], BUILT_AT, first)
        same = rebuild(deployment, first, BUILT_AT, again)
        # a patient without imaging withdraws, so the addendum's imaging belongs to others
        records = manifest(first)["records"]
        imaging = {r["patient"] for r in records if r["kind"] == "dicom"}
        revoked = sorted({r["patient"] for r in records} - imaging)[0]
        deployment.consent.revoke(revoked, ["HRESCH"], requested_by="test")
        changed = rebuild(deployment, first, AFTER_EXPIRY, after)
    return Scenario(data_dir, first, again, after, revoked, same, changed)


def test_rebuild_with_same_inputs_is_byte_identical(scenario: Scenario) -> None:
    assert scenario.report_same["identical"] is True
    assert scenario.report_same["removed"] == [] and scenario.report_same["changed"] == []
    assert tree(scenario.first) == tree(scenario.again)
    kinds = {r["kind"] for r in manifest(scenario.first)["records"]}
    assert kinds == {"dicom", "fhir", "note"}


def test_rebuild_drops_exactly_the_revoked_patient_and_the_expired_addendum(
    scenario: Scenario,
) -> None:
    old = {r["record_id"]: r for r in manifest(scenario.first)["records"]}
    new = {r["record_id"]: r for r in manifest(scenario.after)["records"]}
    expected_gone = {
        rid
        for rid, r in old.items()
        if r["patient"] == scenario.revoked or r["data_class"].split(":")[0] in ADDENDUM_CLASSES
    }
    assert expected_gone and set(old) - set(new) == expected_gone
    assert set(new) <= set(old)  # nothing added
    report = scenario.report_after
    assert {r["record_id"] for r in report["removed"]} == expected_gone
    for item in report["removed"]:
        if item["patient"] == scenario.revoked:
            assert item["reason"] == "consent-withdrawn", item
        else:
            assert item["reason"] == "dua-expired", item
            assert "dua-study-addendum expired 2027-03-31" in item["detail"]
    by_reason = report["removed_by_reason"]
    assert set(by_reason) == {"consent-withdrawn", "dua-expired"}
    assert by_reason["dua-expired"] >= 1 and report["changed"] == [] and report["added"] == []
    # the rest is unchanged: same content hashes, same DICOM and note bytes
    for rid, record in new.items():
        assert record["content_sha256"] == old[rid]["content_sha256"]
    before, after = tree(scenario.first), tree(scenario.after)
    for name, data in after.items():
        if not name.endswith((".ndjson", ".json", ".md")):
            assert before[name] == data
    written = orjson.loads((scenario.after / REBUILD_REPORT).read_bytes())
    assert written == report


def test_every_record_of_every_dataset_has_a_consent_and_a_dua(scenario: Scenario) -> None:
    with Deployment.open(scenario.data_dir) as deployment:
        agreements = load_deployment_agreements(scenario.data_dir)
        registry = deployment.consent.registry
        patients = {r["patient"] for r in manifest(scenario.first)["records"]}
        consents = {p: {c.consent_id for c in registry.consents(p)} for p in patients}
        released = {
            p: {i.output_id for i in deployment.lineage.find(p, include_retracted=True,
                                                             with_inputs=False)}
            for p in patients
        }  # fmt: skip
        for folder in (scenario.first, scenario.again, scenario.after):
            data = manifest(folder)
            listed = {a["id"] for a in data["agreements"]}
            assert data["records"]
            for record in data["records"]:
                assert record["consent"].removeprefix("Consent/") in consents[record["patient"]]
                agreement = agreements.get(record["dua"])
                assert agreement is not None and record["dua"] in listed
                assert agreement.covers_class(record["data_class"]), record
                assert agreement.period.contains(datetime.fromisoformat(data["as_of"]))
                assert record["lineage_id"] in released[record["patient"]]
                for key in ("policy_set_hash", "key_epoch", "code_version", "data_key"):
                    assert record[key]


def test_verify_checks_files_and_audit_log_and_catches_tampering(scenario: Scenario) -> None:
    store = open_existing_store(scenario.data_dir)
    try:
        for folder in (scenario.first, scenario.after):
            result = verify(folder, store, load_deployment_agreements(scenario.data_dir))
            assert result.ok, result.problems
            assert result.disclosures >= 1
    finally:
        store.close()
    assert audit_verifies(scenario.data_dir)
    tampered = scenario.first.parent / "ds-tampered"
    shutil.copytree(scenario.after, tampered)
    note = next(tampered.glob("notes/*/*.txt"))
    note.write_bytes(note.read_bytes() + b" and one more line")
    (tampered / "extra.csv").write_bytes(b"a,b\n")
    runner = CliRunner()
    args = ["dataset", "verify", str(tampered), "--data-dir", str(scenario.data_dir.root)]
    outcome = runner.invoke(app, args)
    assert outcome.exit_code == 1
    assert "extra.csv: file not in the manifest" in outcome.output
    assert "content hash differs" in outcome.output
    outcome = runner.invoke(app, args[:2] + [str(scenario.after)] + args[3:])
    assert outcome.exit_code == 0, outcome.output


def test_card_summarises_cohort_exclusions_and_privacy(scenario: Scenario) -> None:
    card = (scenario.after / "DATASET_CARD.md").read_text(encoding="utf-8")
    data = manifest(scenario.after)
    patients = len({r["patient"] for r in data["records"]})
    assert f"- Patients: {patients}" in card
    assert "## Exclusions by reason" in card and "dua-expired" in card
    assert "consent-withdrawn" not in data["exclusions"]  # revoked records left the store
    assert "Re-identification keys: not part of the dataset" in card
    assert "dua-study-addendum" in card and data["key_epoch"] in card


def test_retention_enforcement_removes_exactly_what_lost_its_basis(
    demo: Path, tmp_path: Path
) -> None:
    data_dir = deployment_copy(demo, tmp_path / "data", VITALS_ONLY)
    as_of = "2032-01-15"  # the example DUA (all classes) ended 2031-12-31
    with Deployment.open(data_dir) as deployment:
        held = deployment.research.records()
    imaging = {r.output_id for r in held if r.category.split(",")[0] == "dicom"}
    assert imaging and len(imaging) < len(held)
    report_file = tmp_path / "retention.json"
    runner = CliRunner()
    args = ["retention", "enforce", "--as-of", as_of, "--report", str(report_file),
            "--data-dir", str(data_dir.root)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = orjson.loads(report_file.read_bytes())
    research = next(s for s in report["stores"] if s["store"] == "research-store")
    assert research["held_before"] == len(held)
    assert research["removed"] == len(imaging)
    assert research["held_after"] == len(held) - len(imaging)
    assert research["by_reason"] == {"dua-expired": len(imaging)}
    # by 2032 the demo's quarantine and scoring rows are past their retention too
    assert report["removed_total"] == sum(s["removed"] for s in report["stores"])
    scoring = next(s for s in report["stores"] if s["store"] == "scoring")
    assert scoring["held_before"] > 0 and scoring["held_after"] == 0 and scoring["note"] == ""
    assert scoring["removed"] == scoring["held_before"]
    released = [item for item in report["removed"] if item["store"] == "research-store"]
    assert {item["output_id"] for item in released} == imaging
    assert report["verified"] is True and report["remaining_without_basis"] == 0
    assert report["audit_log_verified"] is True
    assert report["receipts"] and all(r["complete"] for r in report["receipts"])
    deleted = sum(a["deleted"] for r in report["receipts"] for a in r["actions"]
                  if a["target"] == "research-store")  # fmt: skip
    assert deleted == len(imaging)
    with Deployment.open(data_dir) as deployment:
        left = deployment.research.records()
        assert {r.output_id for r in left} == {r.output_id for r in held} - imaging
        assert len(deployment.research.held()) == len(left)
        for record in held:
            if record.output_id in imaging:
                found = deployment.lineage.find(record.patient, include_retracted=True,
                                                with_inputs=False)  # fmt: skip
                item = next(f for f in found if f.output_id == record.output_id)
                assert item.retracted_at is not None
        receipts = deployment.consent.revocations.receipts()
        assert any(r.revocation_id.startswith("retention:dua-expired") for r in receipts)
    assert audit_verifies(data_dir)
    again = runner.invoke(app, args[:-2] + ["--data-dir", str(data_dir.root)])
    assert again.exit_code == 0
    assert orjson.loads(again.output)["removed_total"] == 0


def test_release_without_an_agreement_in_force_is_denied_and_audited(
    demo: Path, tmp_path: Path
) -> None:
    """The research gate of the pipeline, at a time no agreement is in force: consent
    permits, the DUA half denies, nothing is written, the denial is audited with why."""
    from clinflow.consent.gate import ConsentGate
    from clinflow.consent.retention import research_release_agreements
    from clinflow.envelope import Envelope, SourceKind
    from helpers.fakes import RecordingAuditSink

    data_dir = deployment_copy(demo, tmp_path / "data")
    audit = RecordingAuditSink()
    with Deployment.open(data_dir, audit=audit) as deployment:
        patient = deployment.research.records()[0].patient
        registry = deployment.consent.registry
        gate = ConsentGate(registry, audit, destination="research-store",
                           agreements=research_release_agreements(data_dir))  # fmt: skip
        envelope = Envelope(
            message_id="m-dua-gate", source=SourceKind.DICOM, patient=patient, payload=b"x",
            event_time=datetime(2026, 11, 1, tzinfo=UTC), purpose="HRESCH",
            attributes={"modality": "CT"},
        )  # fmt: skip
        assert len(gate.process(envelope)) == 1  # now: consent and the example DUA permit
        registry.clock = lambda: datetime(2032, 6, 1, tzinfo=UTC)
        assert gate.process(envelope) == []
        assert gate.denied == 1
    store = open_existing_store(data_dir)  # the demo's own releases name their DUA
    try:
        releases = [
            orjson.loads(entry)
            for _, _, entry in store.iter_entries()
            if b'"disclose"' in entry and b"research-store" in entry
        ]
    finally:
        store.close()
    assert releases
    for event in releases:
        basis = event["outcome"]["detail"][0]["text"]
        assert basis == "consent and data use agreement dua-demo-research"
    denial = audit.events[-1]
    detail = denial["outcome"]["detail"][0]["text"]
    assert detail.startswith("deny:") and "dua-demo-research expired 2031-12-31" in detail


def test_build_refuses_without_an_agreement_and_rebuild_in_place(
    scenario: Scenario, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    root = str(scenario.data_dir.root)
    env = {**os.environ, "CLINFLOW_DATA_DIR": root}
    done = subprocess.run(
        [sys.executable, "-m", "clinflow", "dataset", "build", "--dua", "dua-study-addendum",
         "--as-of", "2028-01-01", "--out", str(tmp_path / "refused")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no listed agreement is in force at 2028-01-01" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0
    with Deployment.open(scenario.data_dir) as deployment:
        with pytest.raises(ConfigError, match="no such data use agreement"):
            build(deployment, ["dua-nobody"], BUILT_AT, tmp_path / "refused")
    with pytest.raises(ConfigError, match="--as-of: expected an ISO"):
        parse_instant("last tuesday", "--as-of")
    assert not (tmp_path / "refused").exists()
    in_place = tmp_path / "ds"
    shutil.copytree(scenario.after, in_place)
    with Deployment.open(scenario.data_dir) as deployment:
        report = rebuild(deployment, in_place, AFTER_EXPIRY)
    assert report["identical"] is True
    assert tree(in_place) == tree(scenario.after)
    assert orjson.loads((in_place / REBUILD_REPORT).read_bytes()) == report


def test_retention_keeps_what_a_non_retroactive_revocation_left(demo: Path, tmp_path: Path) -> None:
    data_dir = deployment_copy(demo, tmp_path / "data")
    with Deployment.open(data_dir) as deployment:
        patient = deployment.research.records()[0].patient
        kept = deployment.research.records(patient)
        receipt = deployment.consent.revoke(patient, ["HRESCH"], retroactive=False)
        assert receipt.complete and deployment.research.records(patient) == kept
        report = enforcer_for(deployment.consent, data_dir).enforce(
            datetime(2027, 1, 1, tzinfo=UTC)
        )
        assert report.removed_total == 0 and report.verified
        assert deployment.research.records(patient) == kept


manifest_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
    | st.sampled_from(["../../etc/passwd", "/etc/passwd", "a\\b", "fhir/../../x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip


@pytest.fixture(scope="module")
def small_dataset(scenario: Scenario) -> Path:
    """A dataset of the addendum's classes only (a few dozen records): quick to verify."""
    folder = scenario.first.parent / "ds-small"
    with Deployment.open(scenario.data_dir) as deployment:
        build(deployment, ["dua-study-addendum"], BUILT_AT, folder)
    return folder


def manifest_paths(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Where a hostile edit may land: the top level, the first agreement, file and record."""
    paths: list[tuple[Any, ...]] = [(), *((key,) for key in sorted(body))]
    paths += [("agreements", 0, key) for key in sorted(body["agreements"][0])]
    paths += [("files", sorted(body["files"])[0]), ("records", 0)]
    paths += [("records", 0, key) for key in sorted(body["records"][0])]
    return paths


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_hostile_manifest_is_refused_or_reported_never_a_crash(
    scenario: Scenario, small_dataset: Path, data: st.DataObject
) -> None:
    original = manifest(small_dataset)
    folder = small_dataset.parent / "ds-hostile"
    if not folder.exists():
        shutil.copytree(small_dataset, folder)
    where = data.draw(st.sampled_from(manifest_paths(original)))
    value = data.draw(manifest_values)
    body: Any = orjson.loads(orjson.dumps(original))
    if where:
        parent = body
        for key in where[:-1]:
            parent = parent[key]
        parent[where[-1]] = value
    else:
        body = value
    (folder / MANIFEST).write_bytes(orjson.dumps(body))
    try:
        result = verify(folder, None, load_deployment_agreements(scenario.data_dir))
    except ConfigError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    if body != original:
        assert not result.ok, (where, value)


def test_no_planted_identifier_in_the_dataset(scenario: Scenario, tmp_path: Path) -> None:
    """The generator's ground truth against the dataset, file by file: each cohort input is
    mirrored by what the dataset holds of it (a DICOM instance by its lineage, a patient's
    Bundle by every resource line and note text of theirs), then the leak scanner runs."""
    from clinflow.deid.leaks.scanner import scan
    from clinflow.envelope import content_message_id
    from clinflow.synthetic.manifest import read_manifest

    cohort = scenario.data_dir.root / "cohort"
    records = manifest(scenario.first)["records"]
    by_input = {r["lineage"][0]: r for r in records if r["kind"] == "dicom"}
    mirror = tmp_path / "mirror"
    with Deployment.open(scenario.data_dir) as deployment:
        offsets = deployment.pseudonymizer.date_offset_days
        pseudonym = deployment.pseudonymizer.patient_pseudonym
        entries = list(read_manifest(cohort / "manifest.ndjson"))
        for file in sorted({entry.file for entry in entries}):
            target = mirror / file
            target.parent.mkdir(parents=True, exist_ok=True)
            if file.startswith("dicom/"):
                record = by_input.get(content_message_id((cohort / file).read_bytes()))
                if record is not None:
                    target.write_bytes((scenario.first / record["file"]).read_bytes())
                continue
            mrn = next(e.patient for e in entries if e.file == file)
            mine = [r for r in records if r["patient"] == pseudonym(mrn) and r["kind"] != "dicom"]
            lines = {(scenario.first / r["file"]).read_bytes() for r in mine if r["kind"] == "note"}
            for name in sorted({r["file"] for r in mine if r["kind"] == "fhir"}):
                hashes = {r["content_sha256"] for r in mine if r["file"] == name}
                data = (scenario.first / name).read_bytes()
                lines |= {ln for ln in data.split(b"\n") if sha256(ln).hexdigest() in hashes}
            target.write_bytes(b"\n".join(sorted(lines)))
        report = scan(cohort / "manifest.ndjson", mirror, offsets)
    dicom_files = sum(1 for r in records if r["kind"] == "dicom")
    assert report.files_scanned >= dicom_files + 4  # every instance and every patient's Bundle
    assert report.residual == 0, report.by_kind


def test_crypto_shredded_records_are_excluded_as_unreadable(demo: Path, tmp_path: Path) -> None:
    data_dir = deployment_copy(demo, tmp_path / "data")
    with Deployment.open(data_dir) as deployment:
        patient = deployment.research.records()[0].patient
        held = len(deployment.research.records(patient))
        assert deployment.datakeys.destroy(patient, "HRESCH")  # copies it cannot rewrite
        result = build(deployment, ["dua-demo-research"], BUILT_AT, tmp_path / "ds")
    assert result.manifest["exclusions"] == {"unreadable": held}
    assert all(record["patient"] != patient for record in result.manifest["records"])
    card = (tmp_path / "ds" / "DATASET_CARD.md").read_text(encoding="utf-8")
    assert f"| unreadable | {held} | crypto-shredded" in card


def _merge(deployment: Deployment) -> tuple[str, str, set[str]]:
    """Merge one research patient's record into another's (ADR 0102, as an A40 does): the
    merged pseudonym, the surviving one, and the output ids released under the merged one."""
    held = deployment.research.records()
    with_imaging = sorted({r.patient for r in held if r.category.split(",")[0] == "dicom"})
    merged = with_imaging[0]  # a record with imaging and other classes
    surviving = sorted({r.patient for r in held} - {merged})[0]
    assert deployment.lineage.merges.record(
        merged, surviving, merged_at="2026-12-01T00:00:00+00:00", message_id="a40-test"
    )
    return merged, surviving, {r.output_id for r in held if r.patient == merged}


def test_retention_covers_records_released_under_a_merged_pseudonym(
    demo: Path, tmp_path: Path
) -> None:
    """The survivor's revocation was recorded for them alone (made before the merge, whose
    extension did not run): retention still withdraws the merged record's releases."""
    data_dir = deployment_copy(demo, tmp_path / "data")
    with Deployment.open(data_dir) as deployment:
        held = deployment.research.records()
        merged, surviving, merged_outputs = _merge(deployment)
        deployment.consent.registry.add_revocation(surviving, ("HRESCH",), retroactive=True)
        enforcer = enforcer_for(deployment.consent, data_dir, deployment.scoring_store)
        report = enforcer.enforce(datetime(2027, 1, 1, tzinfo=UTC))
        survivor_outputs = {r.output_id for r in held if r.patient == surviving}
        removed = [item for item in report.removed if item["store"] == "research-store"]
        assert {item["output_id"] for item in removed} == merged_outputs | survivor_outputs
        for item in removed:
            assert item["reason"] == "consent-withdrawn"
            if item["patient"] == merged:
                assert "the patient this record was merged into" in item["detail"]
        assert report.verified and report.remaining_without_basis == 0
        assert {r.patient for r in deployment.research.records()}.isdisjoint({merged, surviving})
        assert len(deployment.research.records()) == len(held) - len(removed)
        found = deployment.lineage.find(merged, include_retracted=True, with_inputs=False)
        assert all(f.retracted_at is not None for f in found if f.output_id in merged_outputs)
        receipts = deployment.consent.revocations.receipts(merged)
        assert any(r.revocation_id.startswith("retention:consent-withdrawn") for r in receipts)
        assert any(k.destroyed for k in deployment.datakeys.keys(merged) if k.scope == "HRESCH")
    assert audit_verifies(data_dir)


def test_dua_expiry_covers_records_released_under_a_merged_pseudonym(
    demo: Path, tmp_path: Path
) -> None:
    data_dir = deployment_copy(demo, tmp_path / "data", VITALS_ONLY)
    with Deployment.open(data_dir) as deployment:
        merged, _, merged_outputs = _merge(deployment)
        imaging = {r.output_id for r in deployment.research.records(merged)
                   if r.category.split(",")[0] == "dicom"}  # fmt: skip
        assert imaging
        enforcer = enforcer_for(deployment.consent, data_dir, deployment.scoring_store)
        report = enforcer.enforce(datetime(2032, 1, 15, tzinfo=UTC))
        removed = {item["output_id"]: item for item in report.removed
                   if item["store"] == "research-store" and item["patient"] == merged}  # fmt: skip
        assert set(removed) == imaging
        assert {item["reason"] for item in removed.values()} == {"dua-expired"}
        left = {r.output_id for r in deployment.research.records(merged)}
        assert left == merged_outputs - imaging and report.verified


def test_dataset_leaves_out_a_merged_record_once_the_survivor_withdraws(
    demo: Path, tmp_path: Path
) -> None:
    from clinflow.consent.retention import MERGED_NOTE

    data_dir = deployment_copy(demo, tmp_path / "data")
    with Deployment.open(data_dir) as deployment:
        merged, surviving, merged_outputs = _merge(deployment)
        deployment.consent.registry.add_revocation(surviving, ("HRESCH",), retroactive=True)
        result = build(deployment, ["dua-demo-research"], BUILT_AT, tmp_path / "ds")
    patients = {r["patient"] for r in result.manifest["records"]}
    assert patients and not patients & {merged, surviving}
    left_out = [e for e in result.excluded if e.patient == merged]
    assert {e.record_id.split("#")[0] for e in left_out} == merged_outputs
    for exclusion in left_out:
        assert exclusion.code == "consent-withdrawn" and MERGED_NOTE in exclusion.detail


def test_code_version_hashes_the_source_once_per_process(tmp_path: Path) -> None:
    import clinflow
    from clinflow.datasets.items import code_version, source_hash

    assert code_version() is code_version()  # computed once
    version, _, digest = code_version().partition("+src.")
    assert version == f"clinflow {clinflow.__version__}" and re.fullmatch("[0-9a-f]{16}", digest)
    package = tmp_path / "clinflow"
    shutil.copytree(Path(clinflow.__file__).parent, package, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    first = source_hash(package)
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.pyc").write_bytes(b"cache")
    (package / "notes.txt").write_text("not source", encoding="utf-8")
    assert source_hash(package) == first  # deterministic; caches and non-source ignored
    module = package / "datasets" / "items.py"
    module.write_bytes(module.read_bytes() + b"\n# a change\n")
    assert source_hash(package) != first
    module.rename(package / "datasets" / "items_moved.py")
    assert source_hash(package) != first


def test_rebuild_by_other_code_says_so(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same inputs rebuilt by different code: every record and file the same, but the
    manifest names the other code, and verify and the rebuild report say the code changed."""
    from clinflow.datasets import build as build_module
    from clinflow.datasets.items import code_version

    other = "clinflow 0.1.0+src.0123456789abcdef"
    monkeypatch.setattr(build_module, "code_version", lambda: other)
    with Deployment.open(scenario.data_dir) as deployment:
        report = rebuild(deployment, scenario.after, AFTER_EXPIRY, tmp_path / "ds-other-code")
    assert report["code_changed"] is True and report["identical"] is False
    assert report["provenance_changed"] == [
        {"field": "code_version", "old": code_version(), "new": other,
         "reason": "code changed (package version or source hash)"}
    ]  # fmt: skip
    assert report["removed"] == report["added"] == report["changed"] == []
    assert report["files_changed"] == []
    assert report["old_dataset_id"] != report["new_dataset_id"]
    rebuilt = manifest(tmp_path / "ds-other-code")
    assert {r["code_version"] for r in rebuilt["records"]} == {other}
    result = verify(tmp_path / "ds-other-code", None, load_deployment_agreements(scenario.data_dir))
    assert result.ok, result.problems
    assert result.notes == [f"code changed: built by {other}, this is {code_version()};"
                            " a rebuild may differ"]  # fmt: skip
    assert verify(scenario.first, None).notes == []
    assert scenario.report_same["code_changed"] is False
    assert scenario.report_same["provenance_changed"] == []
