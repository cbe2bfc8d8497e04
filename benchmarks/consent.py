"""Consent benchmark: cached decisions/s with N patients, vs uncached; revoke -> receipt time.

Prints ONE JSON line. Single thread, so decisions/s is per core (CPU seconds reported too).

1. Registry with ``--patients`` (default 100,000) synthetic patients, each with a FHIR Consent
   (R5 opt-in, R4B permit with a nested imaging deny, R5 deny-all, dated), in SQLite (WAL).
2. Cached: ``ConsentRegistry.decide`` over ``--queries`` random (patient, purpose, category)
   queries, warmed once, then timed. Uncached, same run: (a) ``evaluate`` over the in-memory
   consents without the cache; (b) ``decide_uncached`` (read history from the store, parse,
   evaluate) on a sample.
3. Invalidation: another registry process-equivalent (second connection) revokes a warmed
   patient; the next cached decision must already deny.
4. Revoke -> receipt for one patient with ``--derived`` (default 10,000) research-store
   records (files + index + lineage), through ``ConsentService.revoke``.

Run: ``.venv/bin/python benchmarks/consent.py [--patients N] [--queries Q] [--derived D]``
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from clinflow.config import DataDir
from clinflow.consent.decision import DecisionQuery, evaluate
from clinflow.consent.model import parse_consent
from clinflow.consent.policy import default_policy
from clinflow.consent.registry import ConsentRegistry
from clinflow.consent.service import ConsentService
from clinflow.consent.store import SqliteConsentStore
from clinflow.envelope import Envelope, SourceKind

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PURPOSES = ("TREAT", "HRESCH", "HOPERAT", "PUBHLTH")
CATEGORIES = (
    frozenset({"fhir", "Observation"}),
    frozenset({"dicom", "CT"}),
    frozenset({"dicom", "MR"}),
)


class NullAudit:
    def __init__(self) -> None:
        self.count = 0

    def append(self, event: Any) -> int:
        self.count += 1
        return self.count


def pseudonym(i: int) -> str:
    return f"PT-{i:016x}"


def consent_for(i: int) -> dict[str, Any]:
    patient = {"reference": f"Patient/{pseudonym(i)}"}
    kind = i % 4
    if kind == 0:  # R5: deny by default, research + treatment permitted
        return {"resourceType": "Consent", "id": f"c{i}", "status": "active", "subject": patient,
                "date": "2024-01-01", "decision": "deny",
                "provision": [{"purpose": [{"system": ACT, "code": "HRESCH"},
                                           {"system": ACT, "code": "TREAT"}]}]}
    if kind == 1:  # R4B: research permitted except imaging (nested deny)
        return {"resourceType": "Consent", "id": f"c{i}", "status": "active", "patient": patient,
                "dateTime": "2024-01-01T00:00:00Z",
                "provision": {"type": "permit", "purpose": [{"system": ACT, "code": "HRESCH"}],
                              "provision": [{"type": "deny", "class": [
                                  {"system": "http://dicom.nema.org/resources/ontology/DCM",
                                   "code": "CT"}]}]}}
    if kind == 2:  # R5: deny everything
        return {"resourceType": "Consent", "id": f"c{i}", "status": "active", "subject": patient,
                "decision": "deny"}
    return {  # R5: permit, with a dated research exception
        "resourceType": "Consent", "id": f"c{i}", "status": "active", "subject": patient,
        "decision": "permit",
        "provision": [{"purpose": [{"system": ACT, "code": "HRESCH"}],
                       "period": {"start": "2025-01-01", "end": "2025-12-31"}}]}


def timed(fn: Any, *args: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200_000)
    parser.add_argument("--uncached-sample", type=int, default=5_000)
    parser.add_argument("--derived", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    policy = default_policy()
    now = datetime(2025, 6, 1, tzinfo=UTC)
    figures: dict[str, Any] = {"benchmark": "consent", "patients": args.patients,
                               "queries": args.queries}

    with tempfile.TemporaryDirectory(prefix="clinflow-bench-consent-") as tmp:
        root = Path(tmp)
        os.environ["CLINFLOW_DATA_DIR"] = str(root / "data")
        store = SqliteConsentStore(root / "consent.db")
        registry = ConsentRegistry(store, policy, clock=lambda: now)
        load_s, _, _ = timed(
            registry.add_consents,
            [(pseudonym(i), parse_consent(consent_for(i))) for i in range(args.patients)],
        )
        figures["load_s"] = round(load_s, 2)

        queries = [
            DecisionQuery(pseudonym(rng.randrange(args.patients)), rng.choice(PURPOSES),
                          rng.choice(CATEGORIES))
            for _ in range(args.queries)
        ]

        def run(qs: list[DecisionQuery]) -> int:
            permitted = 0
            for q in qs:
                permitted += registry.decide(q, now).permitted
            return permitted

        preload_s, _, _ = timed(registry.preload)
        figures["preload_s"] = round(preload_s, 2)
        cold_s, _, _ = timed(run, queries)  # first pass: evaluates and fills the cache
        hits_before = registry.cache_hits
        warm_s, warm_cpu, permitted = timed(run, queries)
        assert registry.cache_hits - hits_before == len(queries)
        figures["first_pass_decisions_per_s"] = round(len(queries) / cold_s)
        figures["cached_decisions_per_s"] = round(len(queries) / warm_s)
        figures["cached_decisions_per_cpu_s"] = round(len(queries) / max(warm_cpu, 1e-9))
        figures["permit_ratio"] = round(permitted / len(queries), 3)

        # Uncached (a): the evaluation logic alone, over in-memory consents.
        states = {q.patient: registry._state(q.patient) for q in queries}

        def run_eval(qs: list[DecisionQuery]) -> None:
            for q in qs:
                state = states[q.patient]
                evaluate(q, now, list(state.consents.values()), state.revocations, policy)

        eval_s, _, _ = timed(run_eval, queries)
        figures["uncached_eval_decisions_per_s"] = round(len(queries) / eval_s)
        # Uncached (b): read the history from the store, parse, evaluate.
        sample = queries[: args.uncached_sample]
        store_s, _, _ = timed(lambda: [registry.decide_uncached(q, now) for q in sample])
        figures["uncached_store_decisions_per_s"] = round(len(sample) / store_s)
        figures["speedup_vs_uncached_eval"] = round(
            figures["cached_decisions_per_s"] / figures["uncached_eval_decisions_per_s"], 1)
        figures["speedup_vs_uncached_store"] = round(
            figures["cached_decisions_per_s"] / figures["uncached_store_decisions_per_s"], 1)

        # Invalidation: revoke through another connection; the very next decision denies.
        victim = next(q for q in queries if q.purpose == "HRESCH" and q.patient.endswith("0")
                      and registry.decide(q, now).permitted)
        other = ConsentRegistry(SqliteConsentStore(root / "consent.db"), policy,
                                clock=lambda: now)
        other.add_revocation(victim.patient, ["HRESCH"])
        t0 = time.perf_counter()
        after = registry.decide(victim, now)
        figures["invalidation_visible_next_decision"] = not after.permitted
        figures["first_decision_after_revoke_us"] = round((time.perf_counter() - t0) * 1e6, 1)
        other.store.close()
        store.close()

        # Revoke -> receipt with D derived records.
        with ConsentService(DataDir.open(root / "data"), audit=NullAudit()) as service:
            patient = pseudonym(args.patients + 1)
            base = datetime(2025, 1, 1, tzinfo=UTC)
            write_s, _, _ = timed(lambda: [service.research.write(Envelope(
                message_id=f"d{i:06d}", source=SourceKind.FHIR, patient=patient,
                payload=b"derived-feature-%d" % i, event_time=base + timedelta(seconds=i),
                purpose="HRESCH", lineage=(f"raw{i // 10:06d}",),
                attributes={"resource_type": "Observation"}))
                for i in range(args.derived)])
            revoke_s, _, receipt = timed(service.revoke, patient, ["HRESCH"])
            assert receipt.records_found == args.derived and receipt.complete
            assert service.research.records(patient) == []
            again_s, _, again = timed(service.revoke, patient, ["HRESCH"])
            figures["derived_records"] = args.derived
            figures["derived_write_s"] = round(write_s, 2)
            figures["revoke_to_receipt_s"] = round(revoke_s, 3)
            figures["revoke_again_s"] = round(again_s, 3)
            figures["revoke_again_found"] = again.records_found

    figures["target_cached_decisions_per_s"] = 50_000
    figures["target_revoke_to_receipt_s"] = 1.0
    figures["meets_targets"] = (
        figures["cached_decisions_per_cpu_s"] >= 50_000 and figures["revoke_to_receipt_s"] < 1.0
    )
    sys.stdout.write(orjson.dumps(figures).decode() + "\n")


if __name__ == "__main__":
    main()
