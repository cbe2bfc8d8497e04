"""Running the DICOM community's IOD validator (dicom3tools' ``dciodvfy``) from tests.

``make dicom-tools`` installs it where apt-get runs as root (CI does, through ``make test``);
elsewhere the tests that need it skip with the reason. Messages are normalized (every number
and UID becomes ``N``) so an error in a de-identified file compares equal to the same error in
its input even though the UIDs inside were remapped. Warnings the generator is allowed to
have are listed here with the reason (ADR 0025); any other warning fails the tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread

DCIODVFY = "dciodvfy"
_NUMBER = re.compile(r"\b[0-9][0-9.]*\b")
_SPACE = re.compile(r"\s+")
# The validator could not read the whole input: its errors stop where it stopped, so an
# output it reads further (illegal elements removed) shows errors the input had unseen.
UNREADABLE = ("Dicom dataset read failed", "Tag read failed", "Tags out of order")

# Warnings the synthetic generator keeps on purpose (ADR 0025), as message fragments.
ALLOWED_WARNINGS: dict[str, str] = {
    "Attribute is not present in standard DICOM IOD": (
        "planted PHI outside the IOD (PatientAddress, PatientTelephoneNumbers, an SR-style "
        "ContentSequence, relatives): the de-identification benchmark needs them"
    ),
    "this is a Standard Extended SOP Class": "the summary line of the warning above",
    "Private tag without owner": "planted orphan private elements (group 0013, no creator)",
    "Unrecognized tag - assuming explicit value representation OK": (
        "the planted private block (group 0011) is not in dciodvfy's dictionary"
    ),
    "should be absent (not empty) if an unpaired body part": (
        "Laterality of a secondary capture is empty because it is unknown (Type 2C allows it)"
    ),
}


@dataclass(frozen=True)
class Verdict:
    errors: frozenset[str]
    warnings: frozenset[str]

    @property
    def readable(self) -> bool:
        return not any(marker in error for error in self.errors for marker in UNREADABLE)


def require_dciodvfy() -> str:
    """The dciodvfy path, or skip the test saying how to get it."""
    found = shutil.which(DCIODVFY)
    if found is None:
        pytest.skip("dciodvfy not installed (Debian package dicom3tools: run `make dicom-tools`)")
    return found


def dciodvfy(path: Path) -> Verdict:
    """Run dciodvfy on one file; normalized error and warning lines."""
    run = subprocess.run(
        [require_dciodvfy(), str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    errors, warnings = set(), set()
    for line in (run.stdout + run.stderr).splitlines():
        text = _NUMBER.sub("N", _SPACE.sub(" ", line.strip()))
        if "Error" in text:
            errors.add(text)
        elif "Warning" in text:
            warnings.add(text)
    return Verdict(frozenset(errors), frozenset(warnings))


def unexplained_warnings(warnings: Iterable[str]) -> list[str]:
    return sorted(w for w in warnings if not any(a in w for a in ALLOWED_WARNINGS))


def file_kind(path: Path) -> tuple[str, str, bool]:
    """(SOP class UID, transfer syntax UID, multi-frame) of a Part 10 file."""
    ds = dcmread(path, stop_before_pixels=True)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID), frames > 1


def one_per_kind(files: Iterable[Path]) -> dict[tuple[str, str, bool], Path]:
    """The first file of every (SOP class, transfer syntax, multi-frame) combination."""
    chosen: dict[tuple[str, str, bool], Path] = {}
    for path in sorted(files):
        chosen.setdefault(file_kind(path), path)
    return chosen


def expected_kinds() -> set[tuple[str, str, bool]]:
    """Every (SOP class, transfer syntax, multi-frame) the synthetic generator can emit."""
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    from clinflow.synthetic.dicom.modalities import SPECS, US_MULTIFRAME

    kinds: set[tuple[str, str, bool]] = set()
    for spec in SPECS.values():
        syntaxes = [str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)]
        if spec.pixels.bits_allocated == 16:
            syntaxes.append(str(ExplicitVRBigEndian))
        for syntax in syntaxes:
            kinds.add((spec.sop_class_uid, syntax, False))
            if spec.name == "US":
                kinds.add((US_MULTIFRAME, syntax, True))
    return kinds


def write_every_kind(
    out: Path, seed: int = 11, max_patients: int = 60
) -> dict[tuple[str, str, bool], Path]:
    """Generate patients until one file of every expected kind is written under ``out``.

    Datasets are built in memory; only the first of each kind is written (fast, deterministic).
    """
    import random
    from datetime import UTC, datetime

    from clinflow.synthetic.dicom.imaging import (
        BuiltFile,
        dicom_file_bytes,
        iter_imaging_for_patient,
    )
    from clinflow.synthetic.dicom.modalities import SPECS, US_MULTIFRAME
    from clinflow.synthetic.dicom.sample_patients import sample_patient

    wanted = expected_kinds()
    chosen: dict[tuple[str, str, bool], Path] = {}
    for index in range(max_patients):
        missing = {sop for sop, _, _ in wanted - set(chosen)}
        modalities = [
            name
            for name, spec in SPECS.items()
            if spec.sop_class_uid in missing or (name == "US" and US_MULTIFRAME in missing)
        ]
        patient = sample_patient(index)
        rng = random.Random(f"{seed}:{index}")
        events = iter_imaging_for_patient(
            patient, rng, datetime(2026, 3, 14, 9, 15, tzinfo=UTC), modalities, 0.5
        )
        for event in events:
            if not isinstance(event, BuiltFile):
                continue
            ds = event.dataset
            kind = (
                str(ds.SOPClassUID),
                str(ds.file_meta.TransferSyntaxUID),
                int(ds.get("NumberOfFrames", 1) or 1) > 1,
            )
            if kind in chosen:
                continue
            target = out / event.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(dicom_file_bytes(ds))
            chosen[kind] = target
        if wanted <= set(chosen):
            break
    return chosen


def write_ct_study(folder: Path, instances: int) -> list[Path]:
    """A generated CT instance (planted PHI) as a study of ``instances`` (``write_study``)."""
    kinds = write_every_kind(folder / "every-kind")
    ct = next(p for p in sorted(kinds.values()) if dcmread(p).Modality == "CT")
    return write_study(ct, folder / "study", instances)


def write_study(source: Path, folder: Path, instances: int) -> list[Path]:
    """``instances`` copies of one DICOM file with fresh SOP Instance UIDs (one study)."""
    from pydicom.uid import generate_uid

    template = dcmread(source)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, instances + 1):
        uid = generate_uid(entropy_srcs=["clinflow-test-study", str(number)])
        template.SOPInstanceUID = uid
        template.file_meta.MediaStorageSOPInstanceUID = uid
        template.InstanceNumber = number
        path = folder / f"{number:05d}.dcm"
        template.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
