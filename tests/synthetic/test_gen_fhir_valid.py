"""Every generated FHIR resource validates with fhir.resources (R5 and R4B), and the Bundle and
ndjson copies are the same bytes."""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path

import orjson
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from clinflow.synthetic.fhir.vitals import ACVPU_CODES


def _version(cohort: Path) -> str:
    return str(orjson.loads((cohort / "summary.json").read_bytes())["fhir_version"])


def test_every_ndjson_resource_validates(small_cohort: Path) -> None:
    model_of = r5_model if _version(small_cohort) == "R5" else r4b_model
    seen: Counter[str] = Counter()
    for path in sorted((small_cohort / "fhir" / "ndjson").glob("*.ndjson")):
        model = model_of(path.stem)
        for line in path.read_bytes().splitlines():
            resource = model.model_validate_json(line)
            assert resource.get_resource_type() == path.stem
            seen[path.stem] += 1
    for kind in ("Patient", "Encounter", "Observation", "Consent", "DocumentReference"):
        assert seen[kind] > 0, kind
    assert seen["ImagingStudy"] > 0


def test_every_bundle_validates_and_matches_ndjson(small_cohort: Path) -> None:
    model_of = r5_model if _version(small_cohort) == "R5" else r4b_model
    bundle_model = model_of("Bundle")
    ndjson_lines = {
        line
        for path in (small_cohort / "fhir" / "ndjson").glob("*.ndjson")
        for line in path.read_bytes().splitlines()
    }
    bundles = sorted((small_cohort / "fhir" / "bundles").glob("*.json"))
    assert len(bundles) == orjson.loads((small_cohort / "summary.json").read_bytes())["patients"]
    in_bundles = 0
    for path in bundles:
        raw = path.read_bytes()
        bundle_model.model_validate_json(raw)
        for entry in orjson.loads(raw)["entry"]:
            resource = entry["resource"]
            assert entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}")
            assert entry["request"] == {
                "method": "PUT",
                "url": f"{resource['resourceType']}/{resource['id']}",
            }
            assert orjson.dumps(resource) in ndjson_lines  # serialized once, reused
            in_bundles += 1
    assert in_bundles == len(ndjson_lines)


def test_vital_signs_use_reference_codes_and_units(small_cohort: Path) -> None:
    expected = {
        "8867-4": "/min",
        "9279-1": "/min",
        "2708-6": "%",
        "8310-5": "Cel",
        "3151-8": "L/min",
    }
    found: dict[str, set[str]] = {}
    path = small_cohort / "fhir" / "ndjson" / "Observation.ndjson"
    for line in path.read_bytes().splitlines():
        obs = orjson.loads(line)
        assert obs["category"][0]["coding"][0]["code"] == "vital-signs"
        codes = [coding["code"] for coding in obs["code"]["coding"]]
        if "valueQuantity" in obs:
            quantity = obs["valueQuantity"]
            assert quantity["system"] == "http://unitsofmeasure.org"
            found.setdefault(codes[0], set()).add(quantity["code"])
        elif "component" in obs:
            assert codes == ["85354-9"]
            parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in obs["component"]}
            assert set(parts) == {"8480-6", "8462-4"}
            assert {q["code"] for q in parts.values()} == {"mm[Hg]"}
            assert parts["8480-6"]["value"] > parts["8462-4"]["value"]
        else:
            assert codes == ["1104441000000107"]
            assert obs["valueCodeableConcept"]["text"] in ACVPU_CODES
    assert {code: {unit} for code, unit in expected.items()} == {
        code: units for code, units in found.items() if code in expected
    }
    spo2 = next(orjson.loads(line) for line in path.read_bytes().splitlines() if b"2708-6" in line)
    assert [c["code"] for c in spo2["code"]["coding"]] == ["2708-6", "59408-5"]


def test_patient_carries_identifiers_and_us_core_extensions(small_cohort: Path) -> None:
    lines = (small_cohort / "fhir" / "ndjson" / "Patient.ndjson").read_bytes().splitlines()
    for line in lines:
        patient = orjson.loads(line)
        types = [i["type"]["coding"][0]["code"] for i in patient["identifier"]]
        assert types[:2] == ["MR", "SS"]
        urls = {ext["url"].rsplit("/", 1)[-1] for ext in patient["extension"]}
        assert urls == {"us-core-race", "us-core-ethnicity"}
        assert patient["contact"], "relatives are planted as contacts"


def test_notes_are_base64_utf8_text(small_cohort: Path) -> None:
    lines = (small_cohort / "fhir" / "ndjson" / "DocumentReference.ndjson").read_bytes()
    for line in lines.splitlines():
        attachment = orjson.loads(line)["content"][0]["attachment"]
        assert attachment["contentType"].startswith("text/plain")
        text = base64.b64decode(attachment["data"]).decode("utf-8")
        assert "MRN" in text
