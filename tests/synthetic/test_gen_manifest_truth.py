"""The manifest cannot claim what is not there: every entry resolves to its value, and the
identifiers we can enumerate in the notes are all covered by manifest spans."""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from pathlib import Path

import orjson

from clinflow.synthetic.manifest import PhiKind, read_manifest

from .helpers import resolve_dicom, resolve_fhir


def test_every_fhir_entry_is_at_its_location(small_cohort: Path) -> None:
    checked = 0
    for entry in read_manifest(small_cohort / "manifest.ndjson"):
        if not entry.file.startswith("fhir/"):
            continue
        assert resolve_fhir(small_cohort, entry) == entry.value, entry.location
        checked += 1
    assert checked > 300


def test_dicom_entries_are_in_their_files(small_cohort: Path) -> None:
    checked = pixels = 0
    for entry in read_manifest(small_cohort / "manifest.ndjson"):
        if not entry.file.startswith("dicom/"):
            continue
        dataset, text = resolve_dicom(small_cohort, entry)
        if text is None:  # burned-in text: the file must say so and the box must fit
            assert dataset.BurnedInAnnotation == "YES"
            x, y, w, h = (int(n) for n in entry.location.split(":")[1].split(","))
            assert 0 <= x and x + w <= dataset.Columns and 0 <= y and y + h <= dataset.Rows
            pixels += 1
        elif entry.detail.startswith(("free_text", "part_of_value")):
            assert entry.value in text, entry.location
        else:
            assert text == entry.value, entry.location
        checked += 1
    assert checked > 100 and pixels > 0


def test_ndjson_copy_holds_the_same_values(small_cohort: Path) -> None:
    """Entries name the Bundle; the ndjson copy of each resource is the same JSON."""
    lines = {}
    for path in (small_cohort / "fhir" / "ndjson").glob("*.ndjson"):
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            lines[f"{resource['resourceType']}/{resource['id']}"] = line
    for entry in read_manifest(small_cohort / "manifest.ndjson"):
        if entry.file.startswith("fhir/") and entry.kind is not PhiKind.DATE:
            assert entry.value.encode() in lines[entry.location.split("#")[0]] or "@" in (
                entry.location
            )


def test_note_identifiers_are_all_in_the_manifest(small_cohort: Path) -> None:
    """Every occurrence of a patient's MRN, SSN, phone and e-mail in a note has a span."""
    identifiers: dict[str, list[str]] = {}
    for line in (small_cohort / "fhir" / "ndjson" / "Patient.ndjson").read_bytes().splitlines():
        patient = orjson.loads(line)
        values = [i["value"] for i in patient["identifier"]]
        values += [t["value"] for t in patient["telecom"]]
        identifiers[f"Patient/{patient['id']}"] = values
    spans: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for entry in read_manifest(small_cohort / "manifest.ndjson"):
        if "@" in entry.location:
            reference, _, span = entry.location.partition("@")
            start, end = span.split("-")
            spans[reference.split("#")[0]].add((int(start), int(end)))
    notes = (small_cohort / "fhir" / "ndjson" / "DocumentReference.ndjson").read_bytes()
    for line in notes.splitlines():
        doc = orjson.loads(line)
        text = base64.b64decode(doc["content"][0]["attachment"]["data"]).decode()
        covered = spans[f"DocumentReference/{doc['id']}"]
        for value in identifiers[doc["subject"]["reference"]]:
            for match in re.finditer(re.escape(value), text):
                assert (match.start(), match.end()) in covered, "unlisted identifier in a note"


def test_labels_match_the_data(small_cohort: Path) -> None:
    labels = orjson.loads((small_cohort / "labels.json").read_bytes())
    assert labels["deterioration"], "the test scenario has deteriorating patients"
    consents = {}
    for line in (small_cohort / "fhir" / "ndjson" / "Consent.ndjson").read_bytes().splitlines():
        consent = orjson.loads(line)
        consents[consent["id"]] = consent
    assert labels["consent_revocations"]
    for revocation in labels["consent_revocations"]:
        consent = consents[revocation["consent"]]
        if "decision" in consent:  # R5: base deny, a permit exception per opted-in purpose
            assert consent["decision"] == "deny"
            purposes = [p["purpose"][0]["code"] for p in consent.get("provision", [])]
            assert revocation["purpose"] in purposes
        else:  # R4B: one consent per purpose, typed root provision
            assert consent["provision"]["type"] == "permit"
            assert revocation["purpose"] in orjson.dumps(consent).decode()
