"""Helpers for the audit tests: one event of every builder, a small log with checkpoints, and
raw SQLite access."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from clinflow.audit import AuditLog, events
from clinflow.audit.log import DEFAULT_ORIGIN
from clinflow.audit.store_sqlite import SqliteStore
from clinflow.audit.verify import VerifyReport, trusted_verifiers, verify_log
from clinflow.config import DataDir

PATIENTS = [f"PT-{i:016x}" for i in range(1, 6)]
PATIENT = "PT-0123456789abcdef"  # the one patient of all_builders()


def all_builders() -> list[events.AuditEvent]:
    """One event from each of clinflow.audit.events' builders (13)."""
    return [
        events.ingest(patient=PATIENT, message_id="m1", source_kind="fhir"),
        events.validation_failure(
            message_id="m2", stage="validate", reason="bad field", patient=PATIENT, quarantine_id=3
        ),
        events.consent_decision(
            patient=PATIENT, decision="deny", purpose="HRESCH", recipient="research-store"
        ),
        events.consent_decision(
            patient=PATIENT,
            decision="permit",
            purpose="ETREAT",
            recipient="triage",
            break_the_glass=True,
        ),
        events.deidentification(
            patient=PATIENT,
            message_id="m1",
            output_message_id="m3",
            policy_hash="ab" * 32,
            method="fhir-safe-harbor",
            actions={"remove": 4},
        ),
        events.disclosure(
            patient=PATIENT,
            recipient="triage",
            purpose="TREAT",
            message_ids=["m3"],
            data_categories=["vitals"],
        ),
        events.score_produced(patient=PATIENT, score_name="news2", value=7, message_id="m3"),
        events.alert_raised(patient=PATIENT, alert_id="a1", level="high", recipient="icu"),
        events.consent_revocation(patient=PATIENT, consent_id="c1", purposes=["HRESCH"]),
        events.purge(patient=PATIENT, target="research-store", records_deleted=2, receipt_id="r1"),
        events.key_destruction(patient=PATIENT, key_id="k1"),
        events.api_query(
            agent="auditor-1", role="auditor", method="GET", path="/audit/events", query="patient=x"
        ),
        events.data_generation(patients=10, seed=1, output="out"),
    ]


def sample_event(i: int) -> events.AuditEvent:
    patient = PATIENTS[i % len(PATIENTS)]
    if i % 3 == 0:
        return events.disclosure(
            patient=patient, recipient="triage", purpose="TREAT", message_ids=[f"m{i}"]
        )
    return events.ingest(patient=patient, message_id=f"m{i}", source_kind="fhir")


def build_log(root: Path, n: int = 40, every: int = 10) -> DataDir:
    data_dir = DataDir.open(root)
    with AuditLog.open(data_dir, checkpoint_every=every, batch_wait=0) as log:
        for i in range(n):
            log.append(sample_event(i))
    return data_dir


def raw(data_dir: DataDir) -> sqlite3.Connection:
    """A connection with the append-only triggers dropped: what an attacker with file access
    can do."""
    conn = sqlite3.connect(data_dir.audit_db, isolation_level=None)
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for (name,) in names:
        conn.execute(f"DROP TRIGGER {name}")
    return conn


def verify(data_dir: DataDir, trusted: str | None = None) -> VerifyReport:
    store = SqliteStore(data_dir.audit_db)
    try:
        verifiers = trusted_verifiers(data_dir, DEFAULT_ORIGIN, [])
        return verify_log(store, verifiers, origin=DEFAULT_ORIGIN, trusted=trusted)
    finally:
        store.close()


def failures(report: VerifyReport) -> list[str]:
    return [str(f) for f in report.failures]
