"""The generator's lab results and duplicate registrations as HL7 v2: each blood draw an
ORU^R01 (in the dialect's local codes and units), a duplicate registration an ADT^A28 and its
merge an ADT^A40; mapped back they equal the direct FHIR stream in every dialect; a feed
written by ``clinflow generate --format hl7v2`` streams through ``clinflow run`` with every
merge recorded and nothing quarantined."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from clinflow.config import scenarios_dir
from clinflow.ehr.hl7.emit import FeedStats, cohort_messages
from clinflow.ehr.hl7.fhir_map import validate_and_map
from clinflow.ehr.hl7.profiles import vendor_profile, vendor_profiles
from clinflow.ehr.hl7.vitals import LAB_BY_CODE
from clinflow.envelope import SourceKind
from clinflow.quarantine import Quarantine
from clinflow.runtime.deployment import Deployment
from clinflow.synthetic.fhir.labs import LAB_CODES
from clinflow.synthetic.scenario import load_scenario
from clinflow.synthetic.stream import StreamOptions, generate_stream
from helpers.cli import run_cli

PATIENTS = 4


def _options() -> StreamOptions:
    scenario = load_scenario(scenarios_dir() / "demo.yaml").model_copy(
        update={
            "vitals_hours": 6.0,
            "imaging_fraction": 0.0,
            "labs_interval_hours": 2.0,
            "duplicate_registration_fraction": 1.0,  # every patient registered twice
        }
    )
    return StreamOptions(patients=PATIENTS, seed=11, scenario=scenario)


def _resources(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for document in documents:
        if document.get("resourceType") == "Bundle":
            out += [entry["resource"] for entry in document["entry"]]
        else:
            out.append(document)
    return out


def _direct(options: StreamOptions) -> list[dict[str, Any]]:
    return _resources([
        orjson.loads(t.envelope.payload) for t in generate_stream(options)
        if t.envelope.source is SourceKind.FHIR
    ])  # fmt: skip


def _labs(resources: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        r["id"]: (
            r["code"]["coding"][0]["code"], r["status"], r["effectiveDateTime"],
            r["subject"]["reference"], r["encounter"]["reference"],
            r["valueQuantity"]["value"], r["valueQuantity"]["code"], r["category"],
        )
        for r in resources
        if r["resourceType"] == "Observation"
        and r["category"][0]["coding"][0]["code"] == "laboratory"
    }  # fmt: skip


def _registrations(resources: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Duplicate records and merges: id -> (MRN, name, birth date, replaced record, its MRN)."""
    out = {}
    for r in resources:
        if r["resourceType"] != "Patient" or not (r["id"].endswith("-dup") or "link" in r):
            continue
        links = [(k["other"]["reference"], k["other"]["identifier"]["value"], k["type"])
                 for k in r.get("link", [])]  # fmt: skip
        mrn = next(i["value"] for i in r["identifier"] if i["type"]["coding"][0]["code"] == "MR")
        out[r["id"]] = (mrn, r["name"][0]["family"], r["birthDate"], tuple(links))
    return out


def test_generator_and_mapper_agree_on_lab_codes() -> None:
    assert {name: (code, unit) for name, (code, _, unit) in LAB_CODES.items()} == {
        lab.key: (lab.codings[0][1], lab.unit) for lab in LAB_BY_CODE.values()
        if lab.key in LAB_CODES
    }  # fmt: skip


@pytest.mark.parametrize("vendor", sorted(vendor_profiles()))
def test_labs_and_merges_round_trip_in_every_dialect(vendor: str) -> None:
    options = _options()
    direct = _direct(options)
    stats = FeedStats()
    via_hl7 = _resources([
        validate_and_map(text).bundle()
        for _, text in cohort_messages(options, vendor_profile(vendor), stats)
    ])  # fmt: skip
    assert stats.messages["ADT^A28"] == stats.messages["ADT^A40"] == PATIENTS
    labs = _labs(direct)
    assert len(labs) >= PATIENTS * 3 * 5 and _labs(via_hl7) == labs
    registrations = _registrations(direct)
    assert len(registrations) == 2 * PATIENTS and _registrations(via_hl7) == registrations
    for patient_id, (_, family, birth, links) in registrations.items():
        if not patient_id.endswith("-dup"):  # the merge names the duplicate and its MRN
            (duplicate, duplicate_mrn, kind), = links
            assert kind == "replaces" and registrations[duplicate.removeprefix("Patient/")][:3] == (
                duplicate_mrn, family, birth
            )  # fmt: skip


def test_lab_dialect_on_the_wire() -> None:
    """cascade-lab sends its local codes, umol/L and K/uL, meridian-ehr its own result codes;
    the default dialect LOINC/UCUM."""
    options = _options()
    cascade = [t for _, t in cohort_messages(options, vendor_profile("cascade-lab"))]
    labs = [t for t in cascade if "|26436-6^Laboratory studies (set)^LN|" in t]
    assert labs and all("\rZLR|" in t for t in labs)
    text = "".join(labs)
    assert "CREAT^Creatinine^L" in text and "|umol/L|" in text and "|K/uL|" in text
    assert "TBIL^Bilirubin total^L" in text and "2160-0" not in text
    meridian = "".join(t for _, t in cohort_messages(options, vendor_profile("meridian-ehr")))
    assert "LAB-CREA^Creatinine serum^L" in meridian and "|x10E3/uL|" in meridian
    standard = "".join(t for _, t in cohort_messages(options, vendor_profile("standard")))
    assert "2160-0^^LN" in standard and "|mg/dL|" in standard
    assert "|ADT^A40^ADT_A40|" in standard and "\rMRG|" in standard


def test_labs_and_registrations_are_seeded_and_off_by_default() -> None:
    options = _options()
    first = [t.envelope.payload for t in generate_stream(options)]
    assert first == [t.envelope.payload for t in generate_stream(options)]
    other_seed = StreamOptions(patients=PATIENTS, seed=12, scenario=options.scenario)
    assert _labs(_direct(other_seed)) != _labs(_direct(options))
    plain = StreamOptions(patients=PATIENTS, seed=11, scenario=options.scenario.model_copy(
        update={"labs_interval_hours": 0.0, "duplicate_registration_fraction": 0.0}))  # fmt: skip
    resources = _direct(plain)
    assert not _labs(resources) and not _registrations(resources)
    # turning labs on changes nothing else in the stream (each phase draws from its own RNG)
    others = [p for p in first if b'"laboratory"' not in p and b"-dup" not in p]
    assert others == [t.envelope.payload for t in generate_stream(plain)]


def test_deteriorating_patients_labs_cross_sofa_thresholds() -> None:
    from clinflow.scoring.sofa import creatinine_points, platelet_points

    scenario = load_scenario(scenarios_dir() / "icu-labs.yaml").model_copy(
        update={"imaging_fraction": 0.0, "deterioration_fraction": 1.0,
                "deterioration_patterns": ("sepsis",), "vitals_hours": 36.0}
    )  # fmt: skip
    labs = _labs(_direct(StreamOptions(patients=3, seed=5, scenario=scenario)))
    worst: dict[str, dict[str, float]] = {}
    for (code, _, _, subject, _, value, _, _) in labs.values():
        held = worst.setdefault(subject, {})
        held[code] = max(held.get(code, value), value) if code != "777-3" else min(
            held.get(code, value), value)  # fmt: skip
    for held in worst.values():
        assert held["2524-7"] > 2.0  # lactate elevated
        assert creatinine_points(held["2160-0"]) >= 1 and platelet_points(held["777-3"]) >= 1


@pytest.mark.slow  # generate + one runtime run: ~5 s
def test_generated_feed_with_labs_and_merges_streams_through_run(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gen"
    code, _, stderr = run_cli(capsys, "generate", "--format", "hl7v2", "--vendor", "cascade-lab",
                              "--patients", "6", "--seed", "4", "--scenario",
                              str(scenarios_dir() / "icu-labs.yaml"), "--out", str(out),
                              "--quiet")  # fmt: skip
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    merges = summary["messages"]["ADT^A40"]
    assert summary["messages"]["ADT^A28"] == merges == 2  # seed 4: two of six registered twice
    assert summary["messages"]["ORU^R01"] > 6 * 96  # vitals and lab draws
    code, stdout, stderr = run_cli(capsys, "run", "--source", f"hl7:{out / 'hl7v2'}", "--json",
                                   "--no-progress", "--validation", "shallow")  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["hl7_file"]["rejected"] == 0
    quarantine = Quarantine(data_dir / "quarantine.db")
    assert quarantine.list() == []
    quarantine.close()
    with Deployment.open(data_dir) as deployment:
        assert len(deployment.lineage.merges.merges()) == merges
