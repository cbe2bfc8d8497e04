"""Helpers for the synthetic DICOM tests: generate a small cohort, and check a manifest entry
against the file (location resolver, burned-in text)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileDataset

from clinflow.synthetic.dicom.imaging import write_imaging_for_patient
from clinflow.synthetic.dicom.pixels import BurnedText, anchor_of, text_mask
from clinflow.synthetic.dicom.sample_patients import sample_patient
from clinflow.synthetic.manifest import PhiEntry
from clinflow.synthetic.model import Patient, StudyRecord

ALL_MODALITIES = ("CT", "MR", "CR", "DX", "US", "SC")
STUDY_TIME = datetime(2026, 3, 14, 9, 15, 0, tzinfo=UTC)
COHORT = 8


@dataclass
class Generated:
    out: Path
    patients: list[Patient]
    studies: dict[int, list[StudyRecord]]  # by patient index
    entries: list[PhiEntry]

    def files(self) -> list[Path]:
        return sorted(self.out.rglob("*.dcm"))

    def entries_by_file(self) -> dict[str, list[PhiEntry]]:
        grouped: dict[str, list[PhiEntry]] = {}
        for entry in self.entries:
            grouped.setdefault(entry.file, []).append(entry)
        return grouped


def generate(out: Path, seed: int, patients: int = COHORT, burned: float = 0.5) -> Generated:
    cohort = [sample_patient(i) for i in range(patients)]
    entries: list[PhiEntry] = []
    studies = {}
    for patient in cohort:
        rng = random.Random(f"{seed}:{patient.index}")
        studies[patient.index] = write_imaging_for_patient(
            patient, rng, STUDY_TIME, out, ALL_MODALITIES, entries.append, burned
        )
    return Generated(out, cohort, studies, entries)


_STEP = re.compile(r"\(([0-9A-F]{4}),([0-9A-F]{4})\)(?:\[(\d+)\])?")
_PIXELS = re.compile(r"pixels\[(\d+)\]:(\d+),(\d+),(\d+),(\d+)")


def _python_codec(ds: Dataset) -> str:
    charset = ds.get("SpecificCharacterSet", "")
    return {"ISO_IR 192": "utf-8", "ISO_IR 100": "latin-1"}.get(str(charset), "ascii")


def element_text(elem: DataElement, codec: str) -> str:
    """The element's value as text, whether decoded or read back as raw UN bytes."""
    value = elem.value
    if isinstance(value, bytes):
        return value.decode(codec).rstrip(" \x00")
    return str(value)


def resolve(ds: FileDataset, location: str) -> DataElement:
    """Follow a manifest tag path such as ``(0008,1110)[0].(0008,1155)`` or ``meta.(...)``."""
    node: Dataset = ds
    if location.startswith("meta."):
        node, location = ds.file_meta, location[len("meta.") :]
    steps = location.split(".")
    for position, step in enumerate(steps):
        match = _STEP.fullmatch(step)
        assert match, f"bad location step {step!r} in {location!r}"
        tag = int(match.group(1) + match.group(2), 16)
        assert tag in node, f"{location}: {step} missing"
        elem = node[tag]
        if position == len(steps) - 1:
            return elem
        node = elem.value[int(match.group(3))]
    raise AssertionError(f"empty location {location!r}")


def check_entry(ds: FileDataset, entry: PhiEntry) -> None:
    """Assert that ``entry`` is really present where the manifest says."""
    pixels = _PIXELS.fullmatch(entry.location)
    if pixels:
        frame_no, x, y, w, h = (int(g) for g in pixels.groups())
        assert ds.BurnedInAnnotation == "YES"
        array = ds.pixel_array
        frames = int(ds.get("NumberOfFrames", 1))
        frame = array[frame_no] if frames > 1 else array
        mask = text_mask(entry.value, ds.Rows, ds.Columns, *anchor_of(BurnedText(entry.value,
                                                                               x, y, w, h)))
        assert mask.any()
        ys, xs = np.nonzero(mask)
        assert x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h
        if ds.PhotometricInterpretation == "MONOCHROME1":
            expected = 0
        else:
            expected = (1 << ds.BitsStored) - 1
        assert (frame[mask] == expected).all(), f"text not burned at {entry.location}"
        return
    elem = resolve(ds, entry.location)
    text = element_text(elem, _python_codec(ds))
    if entry.detail.startswith(("free_text", "part_of_value")):
        assert entry.value in text, f"{entry.file} {entry.location}: value not in text"
    else:
        assert text == entry.value, f"{entry.file} {entry.location}: {text!r} != {entry.value!r}"
