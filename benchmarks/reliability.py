"""Reliability figures (issue 13): fuzzing, chaos, access matrix, schemathesis, PHI at rest.

One command runs everything that measures a guarantee and prints ONE JSON line; with
``--write-doc`` it also regenerates the table in docs/reliability.md (between the
``reliability-table`` markers). Every figure comes from a test run by this command:

- fuzzing: the ``slow`` variants of the hypothesis fuzz targets (``tests/**/test_*_fuzz.py``)
  with ``--examples`` examples each; the examples actually run are counted per target by
  ``tests/helpers/fuzz.py`` (``CLINFLOW_FUZZ_COUNTS``), with outcomes (rejected, leaks);
- chaos: the ``slow`` chaos tests (revocation kill -9, audit disk full, audit database
  locked, PostgreSQL writer kill -9 when PostgreSQL answers) with ``--chaos-runs`` faults
  each; faults injected, acknowledged entries lost and duplicates are counted by the tests;
- the API helper's tests write access-matrix, schemathesis and anonymous-flood figures to
  ``CLINFLOW_RELIABILITY_OUT`` (``--schemathesis-examples`` per operation, full grid);
- the quarantine test prints ``PHI at rest: N over M quarantined items`` (read from its
  output), after checking every line the CLI printed or logged holds no planted identifier.

A figure whose test could not run (failed, skipped, not in this checkout) is reported as not
measured, with the reason; the table never shows a number nobody measured. Run from the
repository root: ``.venv/bin/python benchmarks/reliability.py --write-doc``. The machine is
shared: wall times are noisy, counts are not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "reliability.md"
START, END = "<!-- reliability-table:start -->", "<!-- reliability-table:end -->"
FUZZ_MODULES = [
    "tests/deid_dicom/test_deid_dicom_fuzz.py",
    "tests/deid_fhir/test_deid_fhir_fuzz.py",
    "tests/deid_text/test_text_fuzz.py",
    "tests/test_policy_loader_fuzz.py",
    "tests/runtime/test_ingest_fuzz.py",
]
CHAOS_MODULES = [
    "tests/consent/test_consent_revoke_chaos.py",
    "tests/audit/test_audit_store_chaos.py",
]
API_MODULES = [
    "tests/api/test_api_access_matrix.py",
    "tests/api/test_api_schemathesis.py",
    "tests/api/test_api_security.py",
    "tests/api/test_api_error_bodies.py",
]
QUARANTINE_TEST = "tests/test_quarantine_sealing.py::test_no_planted_phi_at_rest_in_the_quarantine_or_in_any_output_line"  # noqa: E501
AT_REST = re.compile(r"PHI at rest: (\d+) over (\d+) quarantined items, (\d+) needles")


def pytest(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run pytest in a child; its exit code, outcome summary line, wall time and stdout."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEsx", *args],
            cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"exit": None, "summary": f"timed out after {timeout:.0f} s", "stdout": "",
                "seconds": round(time.monotonic() - started, 1)}  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {
        "exit": done.returncode,
        "summary": lines[-1].strip("= ") if lines else done.stderr.strip()[-300:],
        "failed": [line for line in lines if line.startswith(("FAILED", "ERROR"))][:10],
        "errors": [line[1:].strip() for line in lines if line.startswith("E  ")][:12],
        "skipped": [line for line in lines if line.startswith("SKIPPED")][:10],
        "stdout": done.stdout,
        "seconds": round(time.monotonic() - started, 1),
    }


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="clinflow-reliability-"))
    counts_file, figures_file = work / "counts.json", work / "figures.json"
    env = {"CLINFLOW_FUZZ_COUNTS": str(counts_file), "CLINFLOW_RELIABILITY_OUT": str(figures_file),
           "CLINFLOW_FUZZ_EXAMPLES": str(args.examples),
           "CLINFLOW_CHAOS_RUNS": str(args.chaos_runs),
           "CLINFLOW_SCHEMATHESIS_EXAMPLES": str(args.schemathesis_examples)}  # fmt: skip
    runs: dict[str, dict[str, Any]] = {}
    runs["fuzz"] = pytest(["-m", "slow", *FUZZ_MODULES], env, args.timeout)
    runs["chaos"] = pytest(["-m", "slow", *CHAOS_MODULES], env, args.timeout)
    if not args.skip_others:
        runs["api"] = pytest(["-m", "slow or not slow", *API_MODULES], env, args.timeout)
        runs["quarantine"] = pytest(["-s", QUARANTINE_TEST], env, args.timeout)
    counts = _read_json(counts_file)
    figures = _read_json(figures_file)
    at_rest = AT_REST.search(runs.get("quarantine", {}).get("stdout", ""))
    for run in runs.values():
        run.pop("stdout", None)
    return {
        "benchmark": "reliability",
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "examples_per_target": args.examples,
        "chaos_runs": args.chaos_runs,
        "schemathesis_examples_per_operation": args.schemathesis_examples,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "runs": runs,
        "counts": counts,
        "api_figures": figures,
        "quarantine_at_rest": (
            {"phi_found": int(at_rest[1]), "items": int(at_rest[2]), "needles": int(at_rest[3])}
            if at_rest
            else None
        ),
    }


# ---------------------------------------------------------------------------------- table


def _error_bodies(found: dict[str, int] | None) -> str:
    if not found:
        return "API error bodies: not measured (tests/api/test_api_error_bodies.py did not run)"
    return (f"API error bodies: {found['echoing_a_planted_value']} of "
            f"{found['error_answers']:,} error answers echo a planted identifier "
            f"({found['probes']:,} probes: every route, app and caller)")  # fmt: skip


def _not_measured(reason: str) -> str:
    return f"not measured ({reason})"


def _why(result: dict[str, Any] | None, what: str) -> str:
    if result is None:
        return f"{what} not run (--skip-others)"
    if result.get("exit") not in (0, None):
        failed = "; ".join(result.get("failed") or []) or result.get("summary", "")
        return f"{what} failed: {failed[:200]}"
    return f"{what}: {result.get('summary', 'no figures written')}"


def table(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, measured) rows of the reliability table; unmeasured rows say why."""
    counts: dict[str, int] = report["counts"]
    runs = report["runs"]
    rows: list[tuple[str, str]] = []

    fuzz_ok = runs["fuzz"].get("exit") == 0
    targets = {"dicom": "DICOM reader/de-identifier", "fhir": "FHIR rule engine (stage)",
               "text": "text de-identifier", "policy": "policy loaders (6 kinds)",
               "ingest": "runtime JSON/ndjson ingest"}  # fmt: skip
    fuzzed = [f"{label} {counts[key]:,}" for key, label in targets.items() if key in counts]
    note = "" if fuzz_ok else f"; {_why(runs['fuzz'], 'fuzz run')}"
    rows.append(("Inputs fuzzed (per target)",
                 ", ".join(fuzzed) + note if fuzzed else _not_measured(_why(runs["fuzz"], "fuzz"))))
    if "dicom:deidentified" in counts:
        rows.append((
            "PHI left in de-identified DICOM under byte mutation",
            f"{counts.get('dicom:phi-leak', 0)} of {counts['dicom:deidentified']:,} outputs "
            "(0 in the unmutated seeds; see the findings below the table)",
        ))

    kinds = {
        "chaos:revoke-kill9-mid-revocation": "kill -9 inside a revocation",
        "chaos:revoke-kill9-before": "kill -9 of revoke before its record step",
        "chaos:revoke-kill9-after-receipt": "kill -9 of revoke after its receipt (exiting)",
        "chaos:audit-disk-full": "audit store disk full (RLIMIT_FSIZE)",
        "chaos:audit-db-locked": "audit database write-locked 2.5 s",
        "chaos:audit-postgres-kill9": "kill -9 of a PostgreSQL audit writer",
    }
    faults = [(counts[key], label) for key, label in kinds.items() if counts.get(key)]
    if faults:
        total = sum(n for n, _ in faults)
        kinds_text = "; ".join(f"{label} {n}" for n, label in faults)
        missing = "" if "chaos:audit-postgres-kill9" in counts else "; PostgreSQL: not measured"
        rows.append(("Faults injected", f"{total} ({kinds_text}){missing}"))
    else:
        rows.append(("Faults injected", _not_measured(_why(runs["chaos"], "chaos run"))))
    chaos_ok = runs["chaos"].get("exit") == 0
    for key, label in (("chaos:acknowledged-lost",
                        "Acknowledged messages lost (audit entries, revocation records)"),
                       ("chaos:duplicates", "Duplicates")):  # fmt: skip
        if key in counts:
            flag = "" if chaos_ok else f" ({_why(runs['chaos'], 'chaos run')})"
            rows.append((label, f"{counts[key]}{flag}"))
        else:
            rows.append((label, _not_measured(_why(runs["chaos"], "chaos run"))))

    figures = report["api_figures"]
    schemathesis = {k: v for k, v in figures.items() if k.startswith("schemathesis:")}
    if schemathesis:
        cases = sum(v.get("cases", 0) for v in schemathesis.values())
        errors = sum(v.get("server_errors", 0) for v in schemathesis.values())
        rows.append(("5xx under schemathesis",
                     f"{errors} of {cases:,} generated requests ({len(schemathesis)} app x caller "
                     f"runs, {report['schemathesis_examples_per_operation']} per operation)"))
    else:
        rows.append(("5xx under schemathesis", _not_measured(_why(runs.get("api"), "API tests"))))

    at_rest = report["quarantine_at_rest"]
    quarantine_ok = runs.get("quarantine", {}).get("exit") == 0
    if at_rest is not None and quarantine_ok:
        rejected = counts.get("fhir:rejected", 0) + counts.get("ingest:rejected", 0)
        rows.append((
            "PHI in any log, error body or quarantine file at rest",
            f"quarantine.db/-wal/-shm: {at_rest['phi_found']} of {at_rest['needles']:,} planted "
            f"identifiers over {at_rest['items']} quarantined items; CLI output and log lines "
            f"of deid/quarantine commands: 0; fuzzed rejection messages: 0 of {rejected:,}; "
            + _error_bodies(figures.get("error_bodies")),
        ))
    else:
        rows.append(("PHI in any log, error body or quarantine file at rest",
                     _not_measured(_why(runs.get("quarantine"), "quarantine test"))))

    routes = figures.get("access_routes")
    if routes:
        total = sum(v.get("routes", 0) for v in routes.values())
        without = sum(v.get("without_rule", 0) for v in routes.values())
        probes = figures.get("access_matrix_probes", {})
        mismatch = probes.get("mismatches")
        extra = f"; access probes {sum(v for k, v in probes.items() if k != 'mismatches'):,}, " \
                f"{mismatch} not as declared" if probes else ""
        rows.append(("Routes without a declared role", f"{without} of {total} routes{extra}"))
    else:
        rows.append(("Routes without a declared role",
                     _not_measured(_why(runs.get("api"), "access-matrix test"))))
    return rows


def write_doc(report: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{DOC}: table markers {START} / {END} missing")
    when = report.get("measured_at") or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        START,
        f"Measured {when} by `benchmarks/reliability.py --examples {report['examples_per_target']}"
        f" --chaos-runs {report['chaos_runs']} --schemathesis-examples "
        f"{report['schemathesis_examples_per_operation']} --write-doc` (load average "
        f"{report['loadavg_1m']} on a shared 2-core machine).",
        "",
        "| guarantee | measured |",
        "|---|---|",
        *[f"| {what} | {value} |" for what, value in table(report)],
        END,
    ]
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(head + "\n".join(lines) + tail, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="fuzz examples per target")
    parser.add_argument("--chaos-runs", type=int, default=4, help="faults per chaos test")
    parser.add_argument("--schemathesis-examples", type=int, default=10,
                        help="schemathesis cases per operation (full grid)")
    parser.add_argument("--skip-others", action="store_true",
                        help="only fuzzing and chaos (not the API and quarantine tests)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per pytest run")
    parser.add_argument("--write-doc", action="store_true", help="regenerate the doc's table")
    parser.add_argument("--from-report", type=Path, metavar="JSON",
                        help="measure nothing: take the figures from a saved JSON line")
    args = parser.parse_args()
    if args.from_report:
        report = json.loads(args.from_report.read_text(encoding="utf-8"))
    else:
        report = measure(args)
    report["table"] = dict(table(report))
    print(json.dumps(report, sort_keys=True))
    if args.write_doc:
        write_doc(report)


if __name__ == "__main__":
    main()
