"""Revocation details: scopes, failures, quarantine, stream withdrawals, loading, audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from clinflow.audit import AuditLog, verify_inclusion
from clinflow.config import DataDir
from clinflow.consent.model import parse_consent
from clinflow.consent.service import ConsentService
from clinflow.envelope import Envelope, SourceKind
from clinflow.errors import ConfigError, KeyError_
from clinflow.interfaces import Rejection, RetractionReport, RetractionRequest
from clinflow.runtime.deployment import Deployment
from helpers.fakes import RecordingAuditSink

from .helpers import PATIENT_A, PATIENT_B, research_opt_in_r5


def release(service: ConsentService, patient: str, n: int, purpose: str = "HRESCH") -> list[str]:
    ids = []
    for i in range(n):
        env = Envelope(
            message_id=f"{patient}-{purpose}-{i}",
            source=SourceKind.FHIR,
            patient=patient,
            payload=b"obs",
            event_time=datetime(2025, 1, 1, i, tzinfo=UTC),
            purpose=purpose,
            lineage=(f"raw-{patient}-{i}",),
        )
        ids.append(service.research.write(env))
    return ids


class Broken:
    name = "broken-endpoint"

    def __init__(self) -> None:
        self.fail = True
        self.calls: list[RetractionRequest] = []

    def retract(self, request: RetractionRequest) -> RetractionReport:
        self.calls.append(request)
        if self.fail:
            raise ConnectionError("endpoint down")
        return RetractionReport(self.name, 3, derived_deleted=2)


def test_failed_target_reported_and_rerun_completes(service: ConsentService) -> None:
    broken = Broken()
    service.targets.register(broken)
    release(service, PATIENT_A, 3)
    first = service.revoke(PATIENT_A, ["HRESCH"])
    assert not first.complete
    assert any(a.error == "ConnectionError" for a in first.actions)
    broken.fail = False
    second = service.revoke(PATIENT_A, ["HRESCH"])
    assert second.complete and second.already_revoked
    assert {a.target: a.derived_deleted for a in second.actions}["broken-endpoint"] == 2
    assert service.lineage.find(PATIENT_A, ["HRESCH"]) == []


def test_non_retroactive_keeps_earlier_data(service: ConsentService) -> None:
    release(service, PATIENT_A, 2)  # event times in 2025-01, before "now"
    receipt = service.revoke(PATIENT_A, ["HRESCH"], retroactive=False)
    assert receipt.records_found == 0 and not receipt.keys_destroyed
    assert len(service.research.records(PATIENT_A)) == 2
    assert any("non-retroactive" in note for note in receipt.notes)
    # A later retroactive revoke purges and shreds.
    receipt = service.revoke(PATIENT_A, ["HRESCH"])
    assert receipt.records_found == 2 and receipt.keys_destroyed
    assert service.research.records(PATIENT_A) == []


def test_quarantine_purged_only_on_full_revocation(service: ConsentService) -> None:
    service.quarantine.put(Rejection("ingest", "file.json", "bad", payload=b"x", patient=PATIENT_A))
    service.revoke(PATIENT_A, ["HRESCH"])
    assert service.quarantine.count() == 1
    receipt = service.revoke(PATIENT_A)  # every revocable purpose
    assert {a.target: a.deleted for a in receipt.actions}["quarantine"] == 1
    assert service.quarantine.count() == 0
    assert "TREAT" in receipt.purposes and "BTG" not in receipt.purposes


def test_bad_revoke_requests_are_usage_errors(service: ConsentService) -> None:
    with pytest.raises(ConfigError, match="pseudonym"):
        service.revoke("123-45-6789")
    with pytest.raises(ConfigError, match="unknown purpose"):
        service.revoke(PATIENT_A, ["NOPE"])
    with pytest.raises(ConfigError, match="cannot be revoked"):
        service.revoke(PATIENT_A, ["BTG"])


def test_stream_withdrawal_sweeps_and_shreds(service: ConsentService) -> None:
    consent = research_opt_in_r5(PATIENT_A)
    assert service.revocations.apply_consent(PATIENT_A, parse_consent(consent)) is None
    ids = release(service, PATIENT_A, 2)
    release(service, PATIENT_A, 1, purpose="TREAT")
    receipt = service.revocations.apply_consent(
        PATIENT_A, parse_consent({**consent, "status": "inactive"})
    )
    assert receipt is not None and receipt.purposes == ("HRESCH",)
    assert receipt.records_found == 2
    with pytest.raises(FileNotFoundError):
        service.research.read(ids[0])
    assert [r.purpose for r in service.research.records(PATIENT_A)] == ["TREAT"]
    assert receipt.receipt_id in [r.receipt_id for r in service.revocations.receipts(PATIENT_A)]


def test_escaped_copy_unreadable_after_revoke(service: ConsentService, tmp_path: Path) -> None:
    (output_id,) = release(service, PATIENT_A, 1)
    backup = service.research.sealed(output_id)  # a copy that escaped (a backup)
    service.revoke(PATIENT_A, ["HRESCH"])
    with pytest.raises(KeyError_, match="destroyed"):
        service.datakeys.open(backup, aad=output_id.encode())


def test_load_bundle_resolves_patients_and_quarantines_bad(service: ConsentService,
                                                           tmp_path: Path) -> None:
    mrn = "MRN-SYN-0001"
    patient = {"resourceType": "Patient", "id": "p1", "identifier": [
        {"type": {"coding": [{"code": "MR"}]}, "value": mrn}]}
    good = research_opt_in_r5("x")
    good["subject"] = {"reference": "Patient/p1"}
    bad = {"resourceType": "Consent", "id": "bad", "status": "active",
           "subject": {"reference": "Patient/unknown"}}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": patient}, {"resource": good}, {"resource": bad}]}
    path = tmp_path / "consents.json"
    path.write_bytes(orjson.dumps(bundle))
    report = service.load(path)
    assert report.loaded == 1 and len(report.rejected) == 1
    pseudonym = service.pseudonym_for(mrn)
    assert service.status(pseudonym)["decisions"]["HRESCH"]["decision"] == "permit"
    assert service.quarantine.count() == 1
    assert mrn not in str(service.quarantine.list()[0])
    ndjson = tmp_path / "consents.ndjson"
    ndjson.write_bytes(orjson.dumps(research_opt_in_r5(PATIENT_B)) + b"\n{oops\n")
    report = service.load(ndjson)
    assert report.loaded == 1 and report.rejected == ["consents.ndjson:2"]


def test_with_real_audit_log(data_dir: Path) -> None:
    root = DataDir.open(data_dir)
    with Deployment.open(root) as deployment:
        service = deployment.consent
        release(service, PATIENT_A, 2)
        receipt = service.revoke(PATIENT_A, ["HRESCH"])
        assert isinstance(service.audit, AuditLog)
        log = service.audit
        assert log.size >= len(receipt.audit_entries) > 0
        root_hash = log.root()
        for index in receipt.audit_entries:
            entry = log.get_entry(index)
            assert entry is not None and PATIENT_A.encode() in entry
            proof = log.inclusion_proof(index)
            assert verify_inclusion(log.leaf_hash(index), index, log.size, proof, root_hash)


def test_receipt_has_no_phi_and_round_trips(
    service: ConsentService, audit: RecordingAuditSink
) -> None:
    release(service, PATIENT_A, 1)
    receipt = service.revoke(PATIENT_A, ["HRESCH"])
    text = orjson.dumps(receipt.to_dict()).decode()
    assert "obs" not in text  # no payload content
    stored = service.revocations.receipts(PATIENT_A)
    assert stored == [receipt]


def test_consent_event_stream_stage(service: ConsentService) -> None:
    from clinflow.consent.stream import ConsentEventStage
    from clinflow.errors import InputRejected

    stage = ConsentEventStage(service.revocations)
    at = datetime(2025, 1, 1, tzinfo=UTC)

    def event(payload: bytes, n: int) -> Envelope:
        return Envelope(f"c{n}", SourceKind.CONSENT, PATIENT_A, payload, at)

    data = Envelope("d1", SourceKind.FHIR, PATIENT_A, b"obs", at, purpose="HRESCH")
    assert stage.process(data) == [data]  # not a consent event: passes through
    grant = orjson.dumps(research_opt_in_r5(PATIENT_A))
    assert stage.process(event(grant, 1)) == []
    assert service.status(PATIENT_A)["decisions"]["HRESCH"]["decision"] == "permit"
    release(service, PATIENT_A, 2)
    assert stage.process(event(b'{"type": "revoke", "purposes": ["HRESCH"]}', 2)) == []
    (receipt,) = stage.receipts
    assert receipt.records_found == 2
    for bad in (b"{", b"[]", b'{"type": "revoke", "purposes": ["NOPE"]}', b'{"x": 1}'):
        with pytest.raises(InputRejected):
            stage.process(event(bad, 3))


def test_scoring_endpoints_register_as_retraction_target(service: ConsentService) -> None:
    from clinflow.scoring.service import ScoringService
    from helpers.vitals import vital_set

    scoring_service = ScoringService()
    service.targets.unregister("scoring")  # the deployment's stored-state target steps aside
    service.targets.register(scoring_service)
    # A: one NEWS2 set (7 observations) that raises an alert; B: a normal set.
    scoring_service.score_icu_fhir(vital_set("a", rr=26, spo2=91, o2_flow=2, patient=PATIENT_A))
    scoring_service.score_icu_fhir(vital_set("b", patient=PATIENT_B))
    assert scoring_service.latest_score(PATIENT_A) and scoring_service.alerts(PATIENT_A)

    research = service.revoke(PATIENT_A, ["HRESCH"])
    scoring = {a.target: a for a in research.actions}["scoring"]
    assert (scoring.error, scoring.deleted, scoring.derived_deleted) == (None, 0, 0)
    assert scoring.details == ("no data held for these purposes",)
    # treatment data stays
    assert scoring_service.latest_score(PATIENT_A) is not None
    assert len(scoring_service.score_history(PATIENT_A)) == 1

    everything = service.revoke(PATIENT_A)
    assert everything.complete and "TREAT" in everything.purposes
    scoring = {a.target: a for a in everything.actions}["scoring"]
    assert scoring.error is None
    assert scoring.deleted == 6 + 8  # window entries + latest of each parameter (BP: 2)
    assert scoring.derived_deleted == 1 + 1  # the score and its alert
    assert f"patient={PATIENT_A}" in scoring.details
    assert service.revocations.receipts(PATIENT_A)[-1] == everything
    # A's scoring data is gone; B's is untouched.
    assert scoring_service.latest_score(PATIENT_A) is None
    assert scoring_service.score_history(PATIENT_A) == []
    assert scoring_service.alerts(PATIENT_A) == []
    assert scoring_service.patient_features(PATIENT_A).parameters == {}
    assert scoring_service.patients() == [PATIENT_B]
    assert len(scoring_service.score_history(PATIENT_B)) == 1


def test_public_api_is_explicit() -> None:
    import types

    import clinflow.consent as consent

    assert sorted(consent.__all__) == consent.__all__
    public = {
        name
        for name, value in vars(consent).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(consent.__all__) == public  # nothing exported by accident, nothing missing


def test_lineage_follows_derivations(service: ConsentService) -> None:
    raw = Envelope("raw-1", SourceKind.FHIR, PATIENT_A, b"obs", datetime(2025, 1, 1, tzinfo=UTC),
                   purpose="HRESCH")
    feature = raw.derive(b"feature")
    service.lineage.record_release(feature, "feature-export")
    assert service.lineage.derived_from("raw-1") == [(feature.message_id, "feature-export")]
    (record,) = service.lineage.find(PATIENT_A, ["HRESCH"])
    assert record.inputs == ("raw-1", feature.message_id) or set(record.inputs) == {
        "raw-1", feature.message_id}
    # Found through lineage, but no retraction target reaches "feature-export": the receipt
    # must not say complete, it must name the sink, and nothing is marked retracted.
    receipt = service.revoke(PATIENT_A, ["HRESCH"])
    assert {(f.sink, f.records) for f in receipt.found} == {("feature-export", 1)}
    assert not receipt.complete
    assert {a.target: a.error for a in receipt.actions}["feature-export"] == "NoTargetRegistered"
    assert service.lineage.count(retracted=True) == 0
    # Once a target for it is registered, --retry finishes the job.
    service.targets.register(FeatureExport())
    retried = service.retry(receipt.receipt_id)
    assert retried.complete and retried.already_revoked
    assert service.lineage.count(retracted=True) == 1


class FeatureExport:
    name = "feature-export"

    def retract(self, request: RetractionRequest) -> RetractionReport:
        return RetractionReport(self.name, 1)
