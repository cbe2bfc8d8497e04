"""HL7 v2 ADT^A40 patient merge (ADR 0102): the surviving patient's revocation and accounting
of disclosures cover the merged patient's history; a resent A40 changes nothing; an A40
naming an unknown prior patient is quarantined without identifiers; merge chains resolve."""

from __future__ import annotations

import json
import sqlite3
import threading
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.config import DataDir, scenarios_dir
from clinflow.consent.model import parse_consent
from clinflow.ehr.hl7.emit import cohort_messages
from clinflow.ehr.hl7.fhir_map import message_key, validate_and_map
from clinflow.ehr.hl7.parser import HL7Error, parse
from clinflow.ehr.hl7.profiles import vendor_profile
from clinflow.errors import InputRejected
from clinflow.patient_merges import SCHEMA, PatientMerges
from clinflow.quarantine import Quarantine
from clinflow.runtime.deployment import Deployment
from clinflow.synthetic.scenario import load_scenario
from clinflow.synthetic.stream import StreamOptions
from helpers.cli import run_cli

SENDER = "CLINFLOW/CLINFLOW-HOSP"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
UNKNOWN_MRN = "31415926"


def _a40(control_id: str, surviving_pid: str, prior_mrn: str, *, mrg: bool = True) -> str:
    segments = [
        f"MSH|^~\\&|CLINFLOW|CLINFLOW-HOSP|CLINFLOW|CLINFLOW|20260105120000+0000||"
        f"ADT^A40^ADT_A39|{control_id}|P|2.5.1",
        "EVN|A40|20260105120000+0000",
        surviving_pid,
    ]
    if mrg:
        segments.append(f"MRG|{prior_mrn}^^^CLINFLOW^MR")
    return "\r".join(segments)


def _pid(message: str) -> str:
    return next(s for s in message.split("\r") if s.startswith("PID|"))


def _mrn(message: str) -> str:
    pid = parse(message).first("PID")
    assert pid is not None
    return next(rep[0][0] for rep in pid.repetitions(3) if rep[4][0] == "MR")


# ------------------------------------------------------------------------------- mapping


def test_a40_maps_to_the_surviving_patient_replacing_the_prior() -> None:
    pid = "PID|1||1001^^^CLINFLOW^MR~pat-9^^^CLINFLOW^PI||Doe^Jo||19500101|F"
    mapped = validate_and_map(_a40("M1", pid, "2002"))
    (patient,) = mapped.resources
    assert mapped.message_type == "ADT^A40" and patient["id"] == "pat-9"
    (link,) = patient["link"]
    assert link["type"] == "replaces"
    assert link["other"]["identifier"]["value"] == "2002"
    assert link["other"]["identifier"]["type"]["coding"][0]["code"] == "MR"
    assert link["other"]["reference"].startswith("Patient/hl7-")
    # the mapper's cached PID Patient is shared: the merge did not write into it
    update = _a40("M2", pid, "", mrg=False).replace("ADT^A40", "ADT^A08")
    again = validate_and_map(update + "\rPV1|1|I|ICU||||||||||||||||visit-1")
    assert again.resources[0]["id"] == "pat-9" and "link" not in again.resources[0]


@pytest.mark.parametrize(
    ("text", "reason", "location"),
    [
        (_a40("M3", "PID|1||1001^^^CLINFLOW^MR", "", mrg=False), "MRG segment missing",
         "ADT^A40 MRG"),
        (_a40("M4", "PID|1||1001^^^CLINFLOW^MR", "2002").replace("^MR\rMRG|2002^^^CLINFLOW^MR",
                                                                  "^MR\rMRG|2002^^^CLINFLOW^AN"),
         "no prior medical record number", "MRG[1]-1"),
        (_a40("M5", "PID|1||1001^^^CLINFLOW^MR", "").replace("MRG|^^^CLINFLOW^MR", "MRG|"),
         "no prior medical record number", "MRG[1]-1"),
    ],
)  # fmt: skip
def test_a40_without_a_prior_mrn_is_refused_naming_the_field(
    text: str, reason: str, location: str
) -> None:
    with pytest.raises(HL7Error) as caught:
        validate_and_map(text)
    assert reason in caught.value.reason and caught.value.location == location
    assert "2002" not in str(caught.value) and "1001" not in str(caught.value)


# ------------------------------------------------------------------------------- merge index


def _merges() -> PatientMerges:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.executescript(SCHEMA)
    return PatientMerges(conn, threading.RLock())


def test_merge_chain_resolves_and_refuses_cycles() -> None:
    merges = _merges()
    a, b, c = "PT-000000000000000a", "PT-000000000000000b", "PT-000000000000000c"
    assert merges.record(a, b, merged_at="t1", message_id="m1") is True
    assert merges.record(a, b, merged_at="t2", message_id="m2") is False  # resent
    assert merges.record(b, c, merged_at="t3", message_id="m3") is True
    assert merges.surviving(a) == merges.surviving(b) == merges.surviving(c) == c
    assert merges.aliases(c) == [b, a] and merges.aliases(b) == [a] and merges.aliases(a) == []
    assert merges.record(a, c, merged_at="t4", message_id="m4") is False  # already C's
    with pytest.raises(InputRejected, match="surviving patient was merged into the prior"):
        merges.record(c, a, merged_at="t5", message_id="m5")
    with pytest.raises(InputRejected, match="same"):
        merges.record(c, c, merged_at="t6", message_id="m6")
    d = "PT-000000000000000d"
    with pytest.raises(InputRejected, match="merged into another"):
        merges.record(b, d, merged_at="t7", message_id="m7")
    assert [m.message_id for m in merges.merges()] == ["m1", "m3"]


def test_a_merge_committed_by_another_connection_is_seen_at_once(tmp_path: Path) -> None:
    """``surviving`` answers from memory until the database changes: a merge another
    process (here another connection) commits is seen by the next lookup."""
    from clinflow.lineage import LineageIndex

    here, there = LineageIndex(tmp_path / "lineage.db"), LineageIndex(tmp_path / "lineage.db")
    prior, survivor = "PT-00000000000000a1", "PT-00000000000000b2"
    assert here.merges.surviving(prior) == prior  # remembered
    assert there.merges.record(prior, survivor, merged_at="t1", message_id="m1") is True
    assert here.merges.surviving(prior) == survivor
    third = "PT-00000000000000c3"
    assert here.merges.record(survivor, third, merged_at="t2", message_id="m2") is True
    assert here.merges.surviving(prior) == there.merges.surviving(prior) == third


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=25))
def test_every_patient_resolves_to_a_root_that_covers_it(pairs: list[tuple[int, int]]) -> None:
    """Whatever merges arrive (cycles and conflicts refused), the merges form a forest:
    ``surviving`` is a root, and a root's ``aliases`` are exactly the patients resolving to it."""
    merges = _merges()
    names = [f"PT-{i:016x}" for i in range(8)]
    for merged, surviving in pairs:
        try:
            merges.record(names[merged], names[surviving], merged_at="t", message_id="m")
        except InputRejected:
            pass
    for name in names:
        root = merges.surviving(name)
        assert merges.surviving(root) == root
        assert name == root or name in merges.aliases(root)
        assert set(merges.aliases(root)) == {n for n in names if n != root
                                             and merges.surviving(n) == root}  # fmt: skip


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-9, 9) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip
LINKS = st.one_of(
    JSON,
    st.lists(st.fixed_dictionaries({"type": st.sampled_from(["replaces", "seealso", 3]),
                                     "other": JSON}), max_size=3),
    st.just([{"type": "replaces", "other": {"identifier": {
        "type": {"coding": [{"code": "MR"}]}, "value": "2002"}}}]),
    st.just([{"type": "replaces", "other": {"reference": "Patient/PT-00000000000000ab"}}]),
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(LINKS)
def test_any_patient_link_merges_or_is_refused_with_a_location(link: Any) -> None:
    """Hostile ``Patient.link`` values: envelopes, or ``InputRejected`` located at
    ``Patient.link[i]`` without the MRN, never another exception; a merge only of a known
    prior patient."""
    from clinflow.deid.pseudonym import Pseudonymizer
    from clinflow.envelope import Envelope, SourceKind
    from clinflow.runtime.ingest import IngestStage
    from helpers.fakes import RecordingAuditSink

    pseudonymizer = Pseudonymizer(b"k" * 32)
    audit = RecordingAuditSink()
    stage = IngestStage(pseudonymizer, audit, merges=_merges())
    prior = {"resourceType": "Patient", "id": "p2",
             "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "2002"}]}  # fmt: skip
    patient = {"resourceType": "Patient", "id": "p1", "link": link,
               "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "1001"}]}  # fmt: skip
    at = datetime(2026, 1, 1, tzinfo=UTC)
    stage.process(Envelope("m0", SourceKind.FHIR, "", orjson.dumps(prior), at,
                           attributes={"path": "f:0"}))  # fmt: skip
    try:
        (out,) = stage.process(Envelope("m1", SourceKind.FHIR, "", orjson.dumps(patient), at,
                                        attributes={"path": "f:1"}))  # fmt: skip
    except InputRejected as exc:
        assert exc.location is not None and exc.location.startswith("f:1 Patient.link[")
        assert "1001" not in str(exc) and "2002" not in str(exc)
        return
    survivor = pseudonymizer.patient_pseudonym("1001")
    assert out.patient == survivor
    merged = stage.merges.aliases(survivor) if stage.merges is not None else []
    assert merged in ([], [pseudonymizer.patient_pseudonym("2002")])


# ------------------------------------------------------------------------------- end to end


def _feed() -> list[str]:
    scenario = load_scenario(scenarios_dir() / "demo.yaml").model_copy(
        update={"vitals_hours": 0.5, "imaging_fraction": 0.0}
    )
    options = StreamOptions(patients=4, seed=13, scenario=scenario)
    return [text for _, text in cohort_messages(options, vendor_profile("standard"))]


def _research_opt_in(pseudonym: str) -> dict[str, Any]:
    return {
        "resourceType": "Consent", "id": f"research-{pseudonym[3:11]}", "status": "active",
        "subject": {"reference": f"Patient/{pseudonym}"}, "decision": "deny", "date": "2024-01-01",
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "provision": [{"purpose": [{"system": ACT_REASON, "code": "HRESCH"},
                                   {"system": ACT_REASON, "code": "TREAT"}]}],
    }  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    code, stdout, stderr = run_cli(capsys, "run", "--source", f"hl7:{path}", "--json",
                                   "--no-progress", "--validation", "shallow")  # fmt: skip
    assert code == 0, stderr
    report: dict[str, Any] = json.loads(stdout)
    return report


def _audit_events(data_dir: Path) -> list[dict[str, Any]]:
    with Deployment.open(data_dir) as deployment:
        log = deployment.audit_log()
        return [orjson.loads(entry) for _, _, entry in log.store.iter_entries()]


@pytest.mark.slow  # three runtime runs, two revocations, the API: ~10 s
def test_a40_merge_revocation_and_accounting_cover_the_merged_history(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messages = _feed()
    admits = [m for m in messages if "|ADT^A01^" in m]
    _, b_msg, c_msg, _ = admits  # four patients, one admission each
    mrns = [_mrn(m) for m in admits]
    with Deployment.open(data_dir) as deployment:
        a, b, c, d = (deployment.pseudonymizer.patient_pseudonym(mrn) for mrn in mrns)
        for pseudonym in (a, b, c, d):
            deployment.consent.registry.add_consent(
                pseudonym, parse_consent(_research_opt_in(pseudonym))
            )
    feed = tmp_path / "feed.hl7"
    feed.write_text("\n".join(messages))
    assert _run(capsys, feed)["hl7_file"]["rejected"] == 0
    with Deployment.open(data_dir) as deployment:
        released = {p: len(deployment.lineage.find(p, ["HRESCH"])) for p in (a, b, c, d)}
    assert all(released.values()), released

    # A is merged into B; the A40 is resent under a new control id; an A40 names a prior
    # patient never seen; a late ORU still carries A's MRN.
    late_oru = next(m for m in messages if "|ORU^R01^" in m and _mrn(m) == mrns[0])
    late_oru = late_oru.replace("|CF0000", "|LATE00", 1).replace("pat-000000-v", "late-v")
    merge_feed = tmp_path / "a40.hl7"
    merge_feed.write_text("\n".join([
        _a40("MERGE-1", _pid(b_msg), mrns[0]),
        _a40("MERGE-1-RESENT", _pid(b_msg), mrns[0]),
        _a40("MERGE-UNKNOWN", _pid(c_msg), UNKNOWN_MRN),
        late_oru,
    ]))  # fmt: skip
    report = _run(capsys, merge_feed)
    assert report["hl7_file"]["accepted"] == 4
    quarantine = Quarantine(data_dir / "quarantine.db")
    (item,) = quarantine.list()
    quarantine.close()
    assert item.location == "a40.hl7:3 Patient.link[0]"
    assert "prior patient not known" in item.reason
    assert UNKNOWN_MRN not in f"{item.location} {item.reason}"

    events = _audit_events(data_dir)
    merges = [e for e in events if e["code"]["coding"][0]["code"] == "patient-merge"]
    assert len(merges) == 1  # the resent A40 changed nothing
    assert merges[0]["patient"]["reference"] == f"Patient/{b}"
    assert {"value": a, "system": "urn:clinflow:patient"} in [
        e["what"]["identifier"] for e in merges[0]["entity"]
    ]
    raw_log = orjson.dumps(events).decode()
    assert not any(mrn in raw_log for mrn in [*mrns, UNKNOWN_MRN])
    late_key = message_key(SENDER, _control_id(late_oru), b"")
    (late_ingest,) = [e for e in events if e["code"]["coding"][0]["code"] == "ingest"
                      and e["entity"][0]["what"]["identifier"]["value"] == late_key]  # fmt: skip
    assert late_ingest["patient"]["reference"] == f"Patient/{b}"  # attributed to the survivor

    with Deployment.open(data_dir) as deployment:  # the A40 released de-identified
        held = [deployment.research.read(r.output_id) for r in deployment.research.records(b)]
    assert len(held) > released[b]  # the A40's Patient and the late ORU, under B
    assert not any(mrn.encode() in payload for payload in held for mrn in mrns)

    # B's own token (the API): the accounting of disclosures of B lists A's disclosures too;
    # B revokes research: every research record of A and B is gone, C's stay
    accounting, trail, entry, receipt, state = _as_patient(data_dir, b)
    assert {i["event"]["patient"]["reference"] for i in trail["items"] if "patient" in i["event"]
            } == {f"Patient/{a}", f"Patient/{b}"}  # fmt: skip
    assert entry["event"]["patient"] == {"reference": f"Patient/{a}"}
    assert accounting["merged_patients"] == [a]
    assert {d["patient"] for d in accounting["disclosures"]} == {a, b}
    assert receipt["complete"] and receipt["merged_patients"] == [a]
    assert {item["patient"] for item in receipt["found"]} == {a, b}
    assert state["merged_patients"] == [a] and state["decisions"]["HRESCH"]["decision"] == "deny"
    with Deployment.open(data_dir) as deployment:
        assert deployment.research.records(a) == [] and deployment.research.records(b) == []
        assert deployment.research.records(c)
        assert deployment.lineage.find(a, ["HRESCH"]) == []
        status = deployment.consent.status(a)
    assert status["decisions"]["HRESCH"]["decision"] == "deny"  # recorded for A too
    assert status["merged_into"] == b and status["merged_patients"] == []

    # C revokes research; then D and B are merged into C (a chain A -> B -> C): the merges
    # extend C's revocation to them at once (D's releases go), a revoke of C covers all
    code, stdout, stderr = run_cli(capsys, "consent", "revoke", c, "--purpose", "HRESCH", "--json")
    assert code == 0, stderr
    assert {item["patient"] for item in json.loads(stdout)["found"]} == {c}
    chain = tmp_path / "chain.hl7"
    chain.write_text("\n".join([_a40("MERGE-2", _pid(c_msg), mrns[3]),
                                _a40("MERGE-3", _pid(c_msg), mrns[1])]))  # fmt: skip
    assert _run(capsys, chain)["hl7_file"]["accepted"] == 2
    with Deployment.open(data_dir) as deployment:
        assert deployment.research.records(d) == [] and deployment.research.records(c) == []
        assert deployment.consent.status(d)["decisions"]["HRESCH"]["decision"] == "deny"
        swept = [r for r in deployment.consent.revocations.receipts(c) if d in r.merged_patients]
    assert any(item.patient == d and item.records for r in swept for item in r.found)
    code, stdout, stderr = run_cli(capsys, "consent", "revoke", c, "--purpose", "HRESCH", "--json")
    assert code == 0, stderr
    receipt = json.loads(stdout)
    assert receipt["already_revoked"] and set(receipt["merged_patients"]) == {a, b, d}
    assert receipt["found"] == []  # everything went before
    with Deployment.open(data_dir) as deployment:
        assert all(deployment.research.records(p) == [] for p in (a, b, c, d))
        assert deployment.research.held() == []
        assert set(deployment.consent.status(c)["merged_patients"]) == {a, b, d}
        assert deployment.consent.status(a)["merged_into"] == c
    code, stdout, _ = run_cli(capsys, "consent", "status", a)
    assert code == 0 and f"merged into {c}" in " ".join(stdout.split())
    code, _, stderr = run_cli(capsys, "audit", "verify")
    assert code == 0, stderr


def _control_id(message: str) -> str:
    return message.split("\r", 1)[0].split("|")[9]


def _as_patient(data_dir: Path, patient: str) -> tuple[dict[str, Any], ...]:
    """With the patient's own API token: the accounting of disclosures, a research
    revocation's receipt, then the consent state."""
    with warnings.catch_warnings():  # starlette warns when its TestClient runs on httpx
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient

    from clinflow.api.app import create_app
    from clinflow.api.auth import TokenStore, api_tokens_path
    from clinflow.api.settings import Settings

    root = DataDir.open(data_dir)
    store = TokenStore(api_tokens_path(root))
    headers = {"Authorization": f"Bearer {store.create('patient', patient)[1]}"}
    store.close()
    with TestClient(create_app(Settings(data_dir=root))) as client:
        responses = [
            client.get(f"/audit/patients/{patient}/disclosures", headers=headers),
            client.get("/audit/events", headers=headers,
                       params={"patient": patient, "format": "json", "limit": 500}),
        ]  # fmt: skip
        trail = responses[-1].json()["items"]
        others = [i["index"] for i in trail if i["event"]["patient"] != {
            "reference": f"Patient/{patient}"}]  # fmt: skip
        assert others  # the merged record's entries are in the survivor's trail ...
        responses.append(client.get(f"/audit/events/{others[0]}", headers=headers))  # ... readable
        responses += [
            client.post(f"/consent/{patient}/revoke", json={"purposes": ["HRESCH"]},
                        headers=headers),
            client.get(f"/consent/{patient}", headers=headers),
        ]  # fmt: skip
    for response in responses:
        assert response.status_code == 200, response.text
    return tuple(response.json() for response in responses)
