"""FHIR REST and Bulk export as sources of ``clinflow run``, end to end into a deployment.

The same generated cohort goes in three ways: its ndjson files from a drop folder (the direct
file path), one ``$export`` of the mock server (``bulk:URL``), and the server's
``Patient/$everything`` (``fhir:URL``). Every resource reaches the deployment once, under
the same content ids whichever way it came; the malformed line of the export is quarantined
with its file and line number and nothing else is lost; ingest AuditEvents name the source
system; a second export hands nothing on (content ids already done).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.audit import AuditLog
from clinflow.config import DataDir
from clinflow.ehr.fhir_client import arrival_rank
from clinflow.errors import ConfigError
from clinflow.quarantine import Quarantine
from clinflow.runtime.run_command import parse_source, run_embedded

from .mock_fhir import TOKEN, Quirks, make_cohort, serve

# no real waiting in these runs: the waits themselves are counted in the client tests
QUICK = Quirks(
    rate_limit=False, contained=False, export_retry_after="0", export_429_retry_after="0"
)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cohort = make_cohort(
        tmp_path_factory.mktemp("bulk-run") / "cohort", patients=2, seed=5, vitals_hours=6
    )
    # an exporter that wrote Observations first and Patients last: the drop folder still
    # takes Patient.ndjson, then Consent.ndjson, ahead of the rest (else every Observation
    # is quarantined as "patient not known yet")
    files = sorted((cohort / "fhir" / "ndjson").iterdir(), key=lambda p: arrival_rank(p.stem))
    for age, path in enumerate(files, start=10):
        os.utime(path, (time.time() - age, time.time() - age))
    return cohort


def run(data: Path, **source: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"kind": "folder", "folder": None, "endpoint": None, **source}
    return run_embedded(
        data, speed=0.0, duration_s=None, patients=1, seed=1, scenario=None, once=True,
        progress=False, validation="shallow", **options,
    )  # fmt: skip


def ingested(data: Path) -> Counter[tuple[str, str]]:
    """(message id, source-system or '') of every ingest AuditEvent, counted."""
    found: Counter[tuple[str, str]] = Counter()
    with AuditLog.open(DataDir.open(data)) as log:
        for index in range(log.size):
            entry = orjson.loads(log.get_entry(index) or b"{}")
            if entry.get("code", {}).get("coding", [{}])[0].get("code") != "ingest":
                continue
            entity = entry["entity"][0]
            details = {d["type"]["coding"][0]["code"]: d["valueString"] for d in entity["detail"]}
            found[entity["what"]["identifier"]["value"], details.get("source-system", "")] += 1
    return found


def quarantined(data: Path) -> list[tuple[str, str, str]]:
    store = Quarantine(DataDir.open(data).quarantine_db)
    try:
        return [(item.stage, item.location, item.reason) for item in store.list()]
    finally:
        store.close()


@pytest.mark.slow
def test_export_and_rest_bring_every_resource_once_as_the_file_path_does(
    cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINFLOW_FHIR_TOKEN", TOKEN)  # the token as an operator gives it
    direct = run(tmp_path / "direct", folder=cohort / "fhir" / "ndjson")
    by_file = ingested(tmp_path / "direct")
    lines = sum(len(p.read_bytes().splitlines()) for p in (cohort / "fhir" / "ndjson").iterdir())
    assert direct["inputs"] == lines == len(by_file) and set(by_file.values()) == {1}

    with serve(cohort, QUICK) as fhir:
        bulk = run(tmp_path / "bulk", kind="bulk", endpoint=f"bulk:{fhir.base}")
        system = f"bulk:{fhir.base}"
        by_export = ingested(tmp_path / "bulk")
        # every resource once, the same content ids, each ingest event naming the server
        assert by_export == Counter({(mid, system): 1 for mid, _ in by_file})
        assert bulk["source"] == system and bulk["inputs"] == lines + 1
        # the malformed line: quarantined with its file and line, nothing else
        assert quarantined(tmp_path / "bulk") == [
            ("ingest", "/fhir/bulk-files/Observation.ndjson:3", "invalid JSON")
        ]
        assert bulk["hops"]["ingest"]["rejected"] == 1
        for kind, account in bulk["accounting"].items():
            assert account["balanced"], kind
        fhir_accounts = bulk["accounting"]["fhir"], direct["accounting"]["fhir"]
        assert fhir_accounts[0]["ingested"] == fhir_accounts[1]["ingested"] + 1
        assert fhir_accounts[0]["quarantined"] == 1 and fhir_accounts[1]["quarantined"] == 0
        # research release depends on arrival order (a Consent must come before the data it
        # permits): the export hands each patient's Consents right after the Patient
        decided = [a["released"] + a["denied"] for a in fhir_accounts]
        assert decided[0] == decided[1] and fhir_accounts[0]["released"] > 0
        assert bulk["scores"] == direct["scores"]
        stats = bulk["fhir_source"]
        assert stats["export_polls"] == QUICK.export_polls + 1 and not stats["errors"]
        assert stats["server_errors"] == ["/fhir/bulk-files/errors.ndjson:1: error/processing"]
        assert fhir.deleted == ["job1"] and all(r.authorized for r in fhir.requests)

        # a second export: the same content ids, handed on to nothing
        again = run(tmp_path / "bulk", kind="bulk", endpoint=f"bulk:{fhir.base}")
        assert again["inputs"] == 0  # the quarantined line is done too (not ingested twice)
        assert again["fhir_source"]["already_done"] == lines + 1
        assert ingested(tmp_path / "bulk") == by_export

        rest = run(tmp_path / "rest", kind="fhir", endpoint=f"fhir:{fhir.base}")
        by_rest = ingested(tmp_path / "rest")
        assert by_rest == Counter({(mid, f"fhir:{fhir.base}"): 1 for mid, _ in by_file})
        assert rest["inputs"] == lines and quarantined(tmp_path / "rest") == []
        assert rest["scores"] == direct["scores"]


def test_fhir_and_bulk_sources_are_parsed_and_bad_urls_refused() -> None:
    assert parse_source("bulk:https://ehr.example/fhir?_type=Patient") == ("bulk", None)
    assert parse_source("fhir:http://127.0.0.1:8080/fhir") == ("fhir", None)
    for bad in ("bulk:ftp://ehr.example/fhir", "fhir:not a url", "fhir:https://u:p@h/fhir",
                "bulk:https://h/fhir?_type=patient;drop"):  # fmt: skip
        with pytest.raises(ConfigError) as caught:
            parse_source(bad)
        assert "p@h" not in str(caught.value)


@pytest.mark.slow
def test_the_command_line_runs_an_export(cohort: Path, tmp_path: Path) -> None:
    token = tmp_path / "fhir.token"
    token.write_text(TOKEN + "\n")
    types = "?_type=Patient,Consent"
    with serve(cohort, QUICK) as fhir:
        done = subprocess.run(
            [sys.executable, "-m", "clinflow", "run", "--data-dir", str(tmp_path / "d"),
             "--source", f"bulk:{fhir.base}{types}", "--json", "--validation", "shallow"],
            capture_output=True, text=True, timeout=120,
            env={**_env(), "CLINFLOW_FHIR_TOKEN_FILE": str(token)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        kickoff = next(r for r in fhir.requests if r.path.endswith("/$export"))
        assert kickoff.query == {"_type": ["Patient,Consent"]}
    expected = len(fhir.lines["Patient"]) + len(fhir.lines["Consent"])
    assert report["inputs"] == expected and report["source"] == f"bulk:{fhir.base}"
    assert report["fhir_source"]["server_errors"]  # the error file, reported
    assert "MRN-SECRET" not in done.stdout + done.stderr and TOKEN not in done.stdout


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CLINFLOW_FHIR_TOKEN")}
