"""Files no one here wrote: every file pydicom ships is de-identified or quarantined with a
reason, and no original PatientName / PatientID / birth date is left in any output."""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
import pytest
from pydicom import dcmread

from clinflow.deid.dicom.batch import deidentify_tree
from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.quarantine import Quarantine

TEST_FILES = Path(os.path.dirname(pydicom.__file__)) / "data" / "test_files"
_IDENTITY = ("PatientName", "PatientID", "PatientBirthDate")


def _originals(path: Path) -> list[str]:
    try:
        ds = dcmread(path, force=True)
        values = []
        for elem in ds.iterall():
            if elem.keyword in _IDENTITY and elem.value and len(str(elem.value).strip()) >= 3:
                values.append(str(elem.value).strip())
        return values
    except Exception:
        return []


@pytest.mark.filterwarnings("ignore")  # reading odd originals for the comparison
def test_every_shipped_file_is_deidentified_or_quarantined(
    tmp_path: Path, engine: DicomDeidentifier
) -> None:
    quarantine = Quarantine(tmp_path / "quarantine.db")
    report = deidentify_tree(TEST_FILES, tmp_path / "out", engine, quarantine)
    files = [p for p in TEST_FILES.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert report.files == len(files)
    assert report.deidentified + len(report.rejected) == report.files
    assert report.deidentified > 0.8 * report.files
    assert quarantine.count() == len(report.rejected)
    for item in report.rejected:
        assert item.reason  # a reason a user can act on
    rejected = {r.location for r in report.rejected}
    for path in files:
        location = path.relative_to(TEST_FILES).as_posix()
        out = tmp_path / "out" / location
        if location not in rejected and not out.exists():  # identifying folder names renamed
            out = next((tmp_path / "out").rglob(path.name))
        assert (location in rejected) != out.exists(), location
        if not out.exists():
            continue
        written = dcmread(out, force=True)  # readable by pydicom
        raw = out.read_bytes()
        values = {str(e.value).strip() for e in written.iterall() if e.VR not in ("OB", "OW")}
        for value in _originals(path):
            if value.startswith("PT-"):
                continue
            assert value not in values, (location, "identifier left")
            if len(value) >= 6:  # shorter ones occur by chance in pixel bytes
                assert value.encode("utf-8", "ignore") not in raw, (location, "identifier left")
        if "PixelData" in written and written.get("PatientIdentityRemoved") is not None:
            assert written.PatientIdentityRemoved == "YES"


def test_identifying_folder_names_are_renamed(tmp_path: Path, engine: DicomDeidentifier) -> None:
    """pydicom's DICOMDIR test set keeps files under a folder named by the PatientID."""
    source = TEST_FILES / "dicomdirtests"
    report = deidentify_tree(source, tmp_path / "out", engine, None)
    assert report.deidentified > 0
    outputs = [p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")]
    assert outputs and not any("77654033" in p for p in outputs)
    assert any(r.location.endswith("DICOMDIR") and "DICOMDIR" in r.reason for r in report.rejected)
