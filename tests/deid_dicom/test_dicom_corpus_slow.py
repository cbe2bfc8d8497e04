"""Must-show run on a generated corpus of >= 2,000 files with PHI planted everywhere."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread

from clinflow.deid.dicom.batch import deidentify_tree
from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.deid.dicom.profile import compile_policy
from clinflow.deid.leaks.scanner import scan
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.synthetic.dicom.corpus import build_corpus
from clinflow.synthetic.manifest import read_manifest

from .helpers import KEY_A, KEY_B

pytestmark = pytest.mark.slow


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.dcm"))
    }


def _copy_sample(source: Path, target: Path, count: int) -> Path:
    for path in sorted(source.rglob("*.dcm"))[:count]:
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(path.read_bytes())
    return target


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def test_corpus_of_2000_files(tmp_path: Path) -> None:
    manifest, files = build_corpus(tmp_path / "gen", patients=66, seed=2024)
    assert files >= 2000
    source = tmp_path / "gen" / "dicom"
    policy = compile_policy()
    engine = DicomDeidentifier(policy, Pseudonymizer(KEY_A))
    first = deidentify_tree(source, tmp_path / "a", engine)
    assert first.deidentified == files and not first.rejected

    # residual PHI = 0, and a perfect MIDI-B-style scorecard (UID references all resolve)
    report = scan(manifest, tmp_path / "a")
    assert report.files_scanned == files
    assert report.residual == 0, report.by_kind()
    assert report.overall() == 1.0, report.scorecard()

    outputs = sorted((tmp_path / "a").rglob("*.dcm"))
    assert len(outputs) == files
    for path in outputs:  # every output readable by pydicom, without force
        dcmread(path, stop_before_pixels=True)

    # same key again (on a quarter of the corpus, to keep the test short): byte-identical
    quarter = _copy_sample(source, tmp_path / "quarter", files // 4)
    engine_again = DicomDeidentifier(policy, Pseudonymizer(KEY_A))
    second = deidentify_tree(quarter, tmp_path / "b", engine_again)
    assert second.deidentified == files // 4
    again = _digest(tmp_path / "b")
    assert again == {k: v for k, v in _digest(tmp_path / "a").items() if k in again}

    # every output readable; intervals between a patient's dates preserved (Modified Dates)
    offset_by_patient: dict[str, set[int]] = defaultdict(set)
    pseudonym_by_patient: dict[str, set[str]] = defaultdict(set)
    headers: dict[str, Dataset] = {}  # each output's header read once, not once per date
    for entry in read_manifest(manifest):
        if entry.location in ("(0008,0020)", "(0008,0023)", "(0008,0021)"):
            if entry.file not in headers:
                headers[entry.file] = dcmread(
                    tmp_path / "a" / Path(entry.file).relative_to("dicom"), stop_before_pixels=True
                )
            out = headers[entry.file]
            shifted = out[int(entry.location[1:5] + entry.location[6:10], 16)].value
            offset_by_patient[entry.patient].add((_day(shifted) - _day(entry.value)).days)
            pseudonym_by_patient[entry.patient].add(out.PatientID)
    pseudonymizer = Pseudonymizer(KEY_A)
    for patient, offsets in offset_by_patient.items():
        assert offsets == {pseudonymizer.date_offset_days(patient)}
        assert pseudonym_by_patient[patient] == {pseudonymizer.patient_pseudonym(patient)}

    # a different key: different pseudonyms (checked on a sample of 100 files)
    sample = _copy_sample(source, tmp_path / "sample", 100)
    other_engine = DicomDeidentifier(policy, Pseudonymizer(KEY_B))
    other = deidentify_tree(sample, tmp_path / "c", other_engine)
    assert other.deidentified == 100
    for path in sorted((tmp_path / "c").rglob("*.dcm"))[:20]:
        theirs = dcmread(path)
        ours = dcmread(tmp_path / "a" / path.relative_to(tmp_path / "c"))
        assert theirs.PatientID != ours.PatientID
        assert theirs.SOPInstanceUID != ours.SOPInstanceUID
