"""Retention of the stores held for treatment (policies/retention.yaml): quarantined items
older than 90 days and scoring-store Observations whose clinical time is older than 30 days
are removed by ``clinflow retention enforce --as-of T``, exactly those, each patient's removal
audited, the counts in the report, the audit log verifying afterwards."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.audit.store import open_existing_store
from clinflow.audit.verify import trusted_verifiers, verify_log
from clinflow.cli import app
from clinflow.config import DataDir
from clinflow.consent.retention_stores import clinical_time
from clinflow.errors import KeyError_
from clinflow.interfaces import Rejection
from clinflow.quarantine import QUARANTINE_SCOPE
from clinflow.runtime.deployment import Deployment

AS_OF = "2027-03-01T00:00:00Z"  # quarantine cutoff 2026-12-01, scoring cutoff 2027-01-30
ALICE = "PT-" + "a1" * 8
BOB = "PT-" + "b2" * 8
CAROL = "PT-" + "c3" * 8


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# (patient, quarantined at, expired at AS_OF)
QUARANTINED = [
    (ALICE, "2026-10-01T00:00:00+00:00", True),
    (ALICE, "2027-02-01T00:00:00+00:00", False),
    (BOB, "2026-09-01T00:00:00+00:00", True),  # Bob's only item: his key goes too
    (None, "2026-08-01T00:00:00+00:00", True),  # held without a patient (project key)
    (None, "2027-02-20T00:00:00+00:00", False),
    (CAROL, "2026-12-01T00:00:00+00:00", False),  # exactly at the cutoff: kept
]
# (patient, Observation timing, expired at AS_OF)
OBSERVED: list[tuple[str, dict[str, Any], bool]] = [
    (ALICE, {"effectiveDateTime": "2027-01-01T08:00:00Z"}, True),
    (ALICE, {"effectiveDateTime": "2027-01-30T01:00:00+02:00"}, True),  # 23:00 UTC the 29th
    (ALICE, {"effectiveDateTime": "2027-02-15T08:00:00Z"}, False),
    (ALICE, {"effectiveInstant": "2027-01-30T00:00:00Z"}, False),  # at the cutoff: kept
    (BOB, {"effectiveDateTime": "2026-12-01"}, True),  # a date: midnight UTC
    (BOB, {"effectivePeriod": {"start": "2027-01-20T00:00:00Z", "end": "2027-02-02T00:00:00Z"}},
     False),  # fmt: skip
    (BOB, {"issued": "2026-11-01T00:00:00Z"}, True),
    (CAROL, {}, False),  # no clinical time: kept and counted
    (CAROL, {"effectiveDateTime": "2027-02-27T12:00:00Z"}, False),
]


def _observation(number: int, patient: str, timing: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{number}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": 80 + number, "unit": "/min"},
        **timing,
    }


def _stock(root: Path) -> tuple[set[int], set[int]]:
    """Fill the quarantine and the scoring store; the ids (quarantine) and source numbers
    (scoring) expected to survive."""
    kept_items: set[int] = set()
    aged: list[tuple[float, int]] = []
    with Deployment.open(root) as deployment:
        for number, (patient, at, expired) in enumerate(QUARANTINED):
            item = deployment.quarantine.put(
                Rejection(
                    "deid-fhir", f"inbox/file-{number}.json", "not valid FHIR", b"{raw}", patient
                )
            )
            aged.append((_ts(at), item))
            if not expired:
                kept_items.add(item)
        rows = [(p, _observation(n, p, timing)) for n, (p, timing, _) in enumerate(OBSERVED)]
        assert deployment.scoring_store.append(rows) == len(OBSERVED)
    with sqlite3.connect(root / "quarantine.db") as conn:  # age the items
        conn.executemany("UPDATE quarantine SET created = ? WHERE id = ?", aged)
    kept_rows = {n for n, (_, _, expired) in enumerate(OBSERVED) if not expired}
    return kept_items, kept_rows


def _audit(root: Path) -> tuple[bool, list[dict[str, Any]]]:
    data_dir = DataDir(root)
    store = open_existing_store(data_dir)
    try:
        verified = verify_log(
            store, trusted_verifiers(data_dir, DEFAULT_ORIGIN, []), origin=DEFAULT_ORIGIN
        ).ok
        events = [orjson.loads(entry) for _, _, entry in store.iter_entries()]
    finally:
        store.close()
    return verified, events


def _store_report(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in report["stores"] if s["store"] == name)
    return found


def _enforce(root: Path, report_file: Path) -> dict[str, Any]:
    args = ["retention", "enforce", "--as-of", AS_OF, "--report", str(report_file),
            "--data-dir", str(root)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = orjson.loads(report_file.read_bytes())
    return report


def test_enforce_removes_exactly_the_expired_quarantine_items_and_scoring_rows(
    data_dir: Path, tmp_path: Path
) -> None:
    kept_items, kept_rows = _stock(data_dir)
    expired_items = sum(1 for *_, expired in QUARANTINED if expired)
    expired_rows = sum(1 for *_, expired in OBSERVED if expired)
    report = _enforce(data_dir, tmp_path / "retention.json")

    assert report["verified"] is True and report["audit_log_verified"] is True
    assert report["remaining_without_basis"] == 0
    assert report["removed_total"] == expired_items + expired_rows
    quarantine = _store_report(report, "quarantine")
    assert quarantine["enforced"] is True
    assert (quarantine["held_before"], quarantine["removed"], quarantine["held_after"]) == (
        len(QUARANTINED), expired_items, len(QUARANTINED) - expired_items,
    )  # fmt: skip
    assert quarantine["by_reason"] == {"retention-elapsed": expired_items}
    scoring = _store_report(report, "scoring")
    assert (scoring["held_before"], scoring["removed"], scoring["held_after"]) == (
        len(OBSERVED), expired_rows, len(OBSERVED) - expired_rows,
    )  # fmt: skip
    assert scoring["by_reason"] == {"retention-elapsed": expired_rows}
    assert "kept 1 row(s) without a clinical time" in scoring["note"]
    assert report["keys_destroyed"] == 1  # Bob's quarantine key; Alice still has an item

    by_store: dict[str, dict[str, int]] = {}
    for entry in report["removed"]:
        by_store.setdefault(entry["store"], {})[entry["patient"]] = entry["count"]
        assert entry["reason"] == "retention-elapsed"
    assert by_store["quarantine"] == {ALICE: 1, BOB: 1, "": 1}
    assert by_store["scoring"] == {ALICE: 2, BOB: 2}

    with Deployment.open(data_dir) as deployment:
        assert {item.id for item in deployment.quarantine.list(status=None)} == kept_items
        for item_id in kept_items:  # what is kept is still readable (no key destroyed under it)
            item = deployment.quarantine.get(item_id)
            assert item is not None and item.payload == b"{raw}"
        scopes = {(k.patient, k.scope): k.destroyed for k in deployment.datakeys.keys()}
        assert scopes[(BOB, QUARANTINE_SCOPE)] is not None
        assert scopes[(ALICE, QUARANTINE_SCOPE)] is None
        left = [r for chunk in deployment.scoring_store.rows() for _, _, r in chunk]
        assert {int(r["id"].removeprefix("obs-")) for r in left} == kept_rows

    verified, events = _audit(data_dir)
    assert verified
    purges = [e for e in events if e["code"]["coding"][0]["code"] == "purge"
              and e["agent"][0]["who"]["identifier"]["value"] == "clinflow-retention"]  # fmt: skip
    counted: dict[tuple[str, str], int] = {}
    for event in purges:
        assert event["outcome"]["detail"][0]["text"] == "retention-elapsed"
        store = event["entity"][0]
        deleted = store["detail"][0]["valueInteger"]
        patient = event.get("patient", {}).get("reference", "").removeprefix("Patient/")
        counted[(store["what"]["identifier"]["value"], patient)] = deleted
    assert counted == {
        ("quarantine", ALICE): 1, ("quarantine", BOB): 1, ("quarantine", ""): 1,
        ("scoring", ALICE): 2, ("scoring", BOB): 2,
    }  # fmt: skip
    destroyed = [e for e in events if e["code"]["coding"][0]["code"] == "key-destroy"]
    assert [e["patient"]["reference"] for e in destroyed] == [f"Patient/{BOB}"]

    again = _enforce(data_dir, tmp_path / "again.json")  # idempotent: nothing left to remove
    assert again["removed_total"] == 0 and again["verified"] is True


def test_a_shredded_key_leaves_a_backup_copy_of_an_expired_item_unreadable(
    data_dir: Path, tmp_path: Path
) -> None:
    from clinflow.quarantine import _aad

    _stock(data_dir)
    with Deployment.open(data_dir) as deployment:
        bob = next(i for i in deployment.quarantine.list(status=None) if i.patient == BOB)
        sealed = deployment.quarantine._row(bob.id)  # a backup holds these bytes
        assert sealed is not None and sealed.payload is not None
        token, aad = bytes(sealed.payload), _aad(sealed.stage, sealed.location)
        assert deployment.quarantine.seal.open(token, aad) == b"{raw}"
    _enforce(data_dir, tmp_path / "retention.json")
    with Deployment.open(data_dir) as deployment, pytest.raises(KeyError_, match="destroyed"):
        deployment.quarantine.seal.open(token, aad)


def test_enforced_false_keeps_the_store_and_says_so(data_dir: Path, tmp_path: Path) -> None:
    from clinflow.consent.retention import RetentionPolicy, default_retention, enforcer_for

    _stock(data_dir)
    policy = default_retention()
    stores = dict(policy.stores)
    stores["scoring"] = stores["scoring"].model_copy(update={"enforced": False})
    with Deployment.open(data_dir) as deployment:
        enforcer = enforcer_for(deployment.consent, deployment.data_dir, deployment.scoring_store)
        enforcer.policy = RetentionPolicy(version=policy.version, stores=stores)
        report = enforcer.enforce(datetime.fromisoformat(AS_OF)).to_json()
        assert deployment.scoring_store.count() == len(OBSERVED)
    scoring = _store_report(report, "scoring")
    assert scoring["removed"] == 0 and scoring["held_after"] == len(OBSERVED)
    assert scoring["note"] == "enforced: false in the retention policy"
    assert _store_report(report, "quarantine")["removed"] == 3


@given(
    moment=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    key=st.sampled_from(["effectiveDateTime", "effectiveInstant", "issued"]),
)
def test_clinical_time_reads_every_fhir_spelling_of_an_instant(moment: datetime, key: str) -> None:
    for text in (moment.isoformat(), moment.isoformat().replace("+00:00", "Z")):
        assert clinical_time({key: text}) == moment
    assert clinical_time({"effectivePeriod": {"start": moment.isoformat()}}) == moment
    assert clinical_time({key: moment.date().isoformat()}) == datetime(
        moment.year, moment.month, moment.day, tzinfo=UTC
    )
    assert clinical_time({key: f"{moment.year:04d}-{moment.month:02d}"}) == datetime(
        moment.year, moment.month, 1, tzinfo=UTC
    )  # FHIR partial dates
    assert clinical_time({key: "not a time"}) is None
