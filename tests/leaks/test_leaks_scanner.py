"""The leak scanner: reformatted variants, locations, pixel boxes, scorecard arithmetic."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from clinflow.deid.leaks.scanner import scan, variants
from clinflow.synthetic.manifest import PhiEntry, PhiKind, Subject


def entry(value: str, kind: PhiKind, file: str, location: str = "text") -> PhiEntry:
    return PhiEntry(value, kind, Subject.PATIENT, "MRN1", file, location)


def write_manifest(path: Path, entries: list[PhiEntry]) -> Path:
    path.write_bytes(b"".join(e.to_json() + b"\n" for e in entries))
    return path


def test_date_variants() -> None:
    found = {text for _, text in variants("19500305", PhiKind.DATE)}
    assert {
        "19500305",
        "1950-03-05",
        "03/05/1950",
        "3/5/1950",
        "march 5, 1950",
        "5 march 1950",
        "mar 5, 1950",
    } <= found
    assert "1950-03-05" in {text for _, text in variants("03/05/1950", PhiKind.DATE)}


def test_name_and_digit_variants() -> None:
    names = {text for _, text in variants("Lindqvist^Maren^Oda", PhiKind.NAME)}
    assert {"lindqvist^maren", "maren lindqvist", "lindqvist, maren"} <= names
    assert "5551234567" in {text for _, text in variants("(555) 123-4567", PhiKind.PHONE)}
    assert "123456789" in {text for _, text in variants("123-45-6789", PhiKind.SSN)}


@pytest.mark.parametrize(
    ("text", "value", "kind", "leaked"),
    [
        ("Seen on March 5, 1950 by staff", "19500305", PhiKind.DATE, True),
        ("patient LINDQVIST, MAREN arrived", "Maren Lindqvist", PhiKind.NAME, True),
        ("call 5551234567", "(555) 123-4567", PhiKind.PHONE, True),
        ("uid 2.25.11950030512", "19500305", PhiKind.DATE, False),  # inside a longer number
        ("nothing to see", "Maren Lindqvist", PhiKind.NAME, False),
    ],
)
def test_text_files_are_scanned_with_variants(
    tmp_path: Path, text: str, value: str, kind: PhiKind, leaked: bool
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "note.txt").write_text(text, encoding="utf-8")
    manifest = write_manifest(tmp_path / "m.ndjson", [entry(value, kind, "note.txt")])
    report = scan(manifest, out)
    assert report.residual == int(leaked)
    if leaked:
        assert report.findings[0].file == "note.txt"


def test_base64_attachments_in_fhir_json_are_decoded(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    note = base64.b64encode(b"Discharge summary for Maren Lindqvist.").decode()
    resource = {"resourceType": "DocumentReference", "content": [{"attachment": {"data": note}}]}
    (out / "doc.json").write_text(json.dumps(resource), encoding="utf-8")
    manifest = write_manifest(
        tmp_path / "m.ndjson", [entry("Maren Lindqvist", PhiKind.NAME, "doc.json")]
    )
    report = scan(manifest, out)
    assert report.residual == 1
    assert report.findings[0].location.startswith("attachment[")
    assert report.to_json()["findings"][0].get("value") is None  # never by default
    assert report.to_json(show_values=True)["findings"][0]["value"] == "Maren Lindqvist"


def test_absent_files_count_as_removed_and_uid_entries_as_changed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("uid 1.2.3.4.5 is still here", encoding="utf-8")
    manifest = write_manifest(
        tmp_path / "m.ndjson",
        [entry("1.2.3.4.5", PhiKind.UID, "kept.txt"), entry("x", PhiKind.NAME, "gone.txt")],
    )
    report = scan(manifest, out)
    assert report.files_absent == 1
    assert report.checks["UID changed"].correct == 0
    assert report.checks["text removed"].correct == 1
    assert report.residual == 1 and report.by_kind() == {"uid": 1}


def test_letter_prefixed_ids_keep_their_letters() -> None:
    """The bare digits of study id S121029 are DICOM concept code 121029, not a leak."""
    found = {text for _, text in variants("S121029", PhiKind.OTHER_ID)}
    assert "121029" not in found
    assert "mrn4417729" in {text for _, text in variants("MRN-4417729", PhiKind.MRN)}


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("Mr X, a 93-year-old man, was seen.", True),
        ("Patient is 93 y/o.", True),
        ("Age: 93.", True),
        ("SpO2 93 % on air; HR 93; pseudonym PT-93ab0c; age 90+.", False),
    ],
)
def test_ages_over_89_are_matched_in_age_context_only(
    tmp_path: Path, text: str, leaked: bool
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "note.txt").write_text(text, encoding="utf-8")
    manifest = write_manifest(
        tmp_path / "m.ndjson", [entry("93", PhiKind.AGE_OVER_89, "note.txt")]
    )
    assert scan(manifest, out).residual == int(leaked)


def test_a_shifted_date_equal_to_another_planted_date_is_coincidental_not_residual(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # The admission 2024-01-08 shifted by -140 days is 2023-08-21, which is also the (original)
    # prior-admission date quoted in the patient's note.
    (out / "b.json").write_text('{"period": {"start": "2023-08-21"}}', encoding="utf-8")
    manifest = write_manifest(
        tmp_path / "m.ndjson",
        [entry("2024-01-08", PhiKind.DATE, "b.json"), entry("2023-08-21", PhiKind.DATE, "b.json")],
    )
    assert scan(manifest, out).residual == 1  # without the key it cannot be told apart
    report = scan(manifest, out, lambda patient: -140)
    assert report.residual == 0 and len(report.coincidental) == 1
    (out / "b.json").write_text('{"start": "2023-08-21", "old": "2024-01-08"}', encoding="utf-8")
    assert scan(manifest, out, lambda patient: -140).residual == 1  # the original still leaks


@pytest.mark.parametrize("style", [0, 1, 2, 3, 4])
def test_a_coincidental_shifted_date_is_recognised_in_every_note_spelling(
    tmp_path: Path, style: int
) -> None:
    """A note's "06 Jan 2026" shifted by -70 days is written "28 Oct 2025", also the prior
    admission quoted in another note: seen in a demo run (a per-data-dir key), reported as
    residual because the scanner could not read the "%d %b %Y" spelling."""
    from datetime import date

    from clinflow.synthetic.notes import format_date

    seen, prior = date(2026, 1, 6), date(2025, 10, 28)
    out = tmp_path / "out"
    out.mkdir()
    (out / "note.txt").write_text(f"was seen on {format_date(prior, style)}.", encoding="utf-8")
    manifest = write_manifest(
        tmp_path / "m.ndjson",
        [entry(format_date(seen, style), PhiKind.DATE, "note.txt"),
         entry(format_date(prior, style), PhiKind.DATE, "note.txt")],
    )  # fmt: skip
    report = scan(manifest, out, lambda patient: -70)
    assert report.residual == 0 and len(report.coincidental) == 1
