"""The report of a ``clinflow replay``: ``report.json`` (this module's ``ReplayReport``,
versioned by ``schema_version``; its JSON Schema is ``docs/schemas/replay-report.schema.json``,
regenerated with ``python -m clinflow.runtime.replay_report > FILE``), a terminal summary,
and ``report.html`` (``replay_html``).

Everything in it is a count, a time, a hop or purpose name, a PHI-free reason or a fault
description: no identifier of a patient, not even a pseudonym, so a report can be attached
to a ticket or kept as a CI artifact.

Compatibility: a new optional field keeps ``schema_version``; renaming, removing or changing
the meaning of a field bumps it.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal["1"] = "1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LatencySummary(_Model):
    """Milliseconds from an input's SCHEDULED arrival to a sink, for the outputs reaching it."""

    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    mean_ms: float | None


class HopSummary(_Model):
    received: int
    emitted: int
    rejected: int
    duplicates: int = Field(description="inputs the ledger had completed already (skipped)")
    busy_s: float


class FaultMark(_Model):
    """A fault on the timeline: ``at_s`` after the start; ratio faults are summarised per
    kind (first and last injection, count), storms and kills each get their own mark."""

    kind: str
    at_s: float
    until_s: float | None = None
    count: int
    detail: str = ""


class Timeline(_Model):
    """Series over buckets of ``bucket_s`` seconds from the start of the run."""

    bucket_s: float
    offered: list[int] = Field(description="inputs due per bucket (the open-loop schedule)")
    fed: list[int] = Field(description="inputs handed to the runtime per bucket")
    completed: dict[str, list[int]] = Field(description="outputs reaching each sink per bucket")
    p50_ms: dict[str, list[float | None]] = Field(
        description="per sink: median latency of the inputs DUE in each bucket"
    )
    p99_ms: dict[str, list[float | None]]
    queue_depth: list[int] = Field(description="largest sum of hop queue depths in the bucket")
    faults: list[FaultMark]


class Account(_Model):
    ingested: int
    released: int
    denied: int
    quarantined: int
    balanced: bool
    unaccounted: list[str] = Field(description="message ids (content hashes), at most 20")


class Correctness(_Model):
    """Correctness beside speed: every figure here has a target of 0 (or true)."""

    lost: int = Field(description="source inputs with no ingest or quarantine audit entry")
    duplicated_at_sinks: int = Field(description="outputs that reached a sink more than once")
    duplicate_disclosures: int = Field(description="message ids disclosed more than once")
    reprocessed: int = Field(
        default=0,
        description="inputs ingested (and audited) more than once: a redelivery after a "
        "crash re-runs what a dead worker had not marked done (not a failed check)",
    )
    quarantined: int
    quarantined_by_reason: dict[str, int]
    residual_phi: int | None = Field(
        description="manifest values found in the research store (None: not scanned)"
    )
    residual_by_kind: dict[str, int]
    leak_files_scanned: int
    consent_violations: int = Field(
        description="research records held whose purpose the registry now denies"
    )
    revoked_patients: int
    revoked_data_remaining: int = Field(
        description="records of revoked patients and purposes "
        "still in the research store, the lineage index or "
        "the scoring store"
    )
    audit_entries: int
    audit_verified: bool | None
    audit_failures: list[str]
    accounting: dict[str, Account]
    counts_match_audit: bool = Field(
        description="research releases counted by the pipeline "
        "equal the disclosures in the audit log"
    )


class InputsSummary(_Model):
    source_inputs: int
    injected: dict[str, int]
    fed: int
    source_exhausted: bool = Field(description="the source ended before --duration did")


class RunSummary(_Model):
    seconds: float
    stopped_by: str
    offered_per_s: float | None = Field(description="the schedule's average input rate")
    achieved_per_s: float = Field(description="inputs taken per second of run time")
    outputs: dict[str, int]
    outputs_per_s: dict[str, float]
    generator_lag_ms: LatencySummary = Field(
        description="how late the load generator handed inputs out against the schedule"
    )


class ReplayReport(_Model):
    schema_version: Literal["1"] = SCHEMA_VERSION
    clinflow_version: str
    started_at: str
    source: str
    source_kind: str
    runtime: str
    rate: str
    duration_s: float | None
    patients: int | None
    seed: int
    faults: str
    ok: bool
    failed_checks: list[str]
    machine: dict[str, str]
    inputs: InputsSummary
    run: RunSummary
    latency: dict[str, LatencySummary]
    hop_latency: dict[str, LatencySummary] = Field(
        default_factory=dict,
        description="per hop: from an input's scheduled arrival until the hop starts it",
    )
    hops: dict[str, HopSummary]
    consent: dict[str, dict[str, int]]
    scoring: dict[str, int] = Field(
        default_factory=dict,
        description="ICU scores produced, alerts raised and alerts suppressed (hysteresis, "
        "suppression window) in this run",
    )
    correctness: Correctness
    timeline: Timeline


def failed_checks(correctness: Correctness) -> list[str]:
    """The correctness checks that failed, each as one PHI-free line."""
    c = correctness
    checks = [
        (c.lost == 0, f"{c.lost} input(s) lost (no ingest or quarantine audit entry)"),
        (c.duplicated_at_sinks == 0, f"{c.duplicated_at_sinks} output(s) reached a sink twice"),
        (c.duplicate_disclosures == 0, f"{c.duplicate_disclosures} disclosure(s) repeated"),
        (not c.residual_phi, f"{c.residual_phi} residual PHI value(s) in the research store"),
        (c.consent_violations == 0, f"{c.consent_violations} consent violation(s)"),
        (
            c.revoked_data_remaining == 0,
            f"{c.revoked_data_remaining} record(s) of revoked patients still held",
        ),
        (
            c.audit_verified is not False,
            "audit log does not verify: " + (c.audit_failures[0] if c.audit_failures else "?"),
        ),
        (
            all(a.balanced for a in c.accounting.values()),
            "accounting not balanced (ingested != released + denied + quarantined)",
        ),
        (c.counts_match_audit, "released counts differ from the audit log's disclosures"),
    ]
    return [reason for ok, reason in checks if not ok]


def json_schema() -> str:
    """The report's JSON Schema, as committed under docs/schemas/."""
    return json.dumps(ReplayReport.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates the committed schema file
    print(json_schema(), end="")
