"""Synthetic DICOM studies with every planted identifier recorded in the PHI manifest.

``write_imaging_for_patient`` writes one study per requested modality as DICOM Part 10 files
under ``<out>/dicom/p<index>/st<k>/se<n>/<i>.dcm`` (directory names carry no PHI) and reports
each identifier it planted through ``add_phi``: standard attributes, nested sequences, private
elements with and without a creator, free text, and text burned into pixels.

Manifest entries: ``value`` equals the element's whole value, except when ``detail`` starts
with ``free_text`` or ``part_of_value`` (the value is a substring of the element, e.g. a name
quoted in ImageComments or the zip inside PatientAddress). Burned-in entries give each text
line's box as ``pixels[frame]:x,y,w,h``; the line is drawn with ``dicom_pixels.text_mask``.
Ages are planted only when over 89 (Safe Harbor); times are recorded as kind ``date``.
``StudyRecord``/``SeriesRecord`` descriptions are the clean procedure names, never the
PHI-bearing variants, so the FHIR ImagingStudy built from them carries no extra PHI.

Speed: one template ``Dataset`` per study and per series; an instance is a shallow copy of the
series template (elements shared, never mutated) plus its own dozen elements and pixels.
Determinism: every choice comes from the caller's ``random.Random``; no clock, no uuid4.

``iter_imaging_for_patient`` is the lazy form the timed stream uses: it yields ``StudyStart``
before drawing a study, each ``BuiltFile`` as soon as it is built and the ``StudyRecord`` after
the study's last file, consuming the rng in exactly the order the eager build does, so both
give the same files.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from clinflow.errors import ConfigError
from clinflow.synthetic.dicom import pixels as px
from clinflow.synthetic.dicom.context import PatientContext, StudyPlan, dicom_time
from clinflow.synthetic.dicom.modalities import (
    DOSE_REPORT,
    SPECS,
    US_MULTIFRAME,
    ModalitySpec,
    PixelModule,
    choose_frames,
    pixel_array,
    spec_for,
    text_value,
)
from clinflow.synthetic.dicom.phi import Node, Planted, tag_and_vr
from clinflow.synthetic.dicom.study import build_study_template
from clinflow.synthetic.manifest import PhiEntry, PhiKind, Subject
from clinflow.synthetic.model import Patient, SeriesRecord, StudyRecord

__all__ = [
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "BuiltFile",
    "ImagingBuild",
    "ImagingEvent",
    "StudyStart",
    "build_imaging_for_patient",
    "dicom_file_bytes",
    "iter_imaging_for_patient",
    "write_built_files",
    "write_imaging_for_patient",
]

# Fixed so files are byte-identical across runs (PS3.7 D.3.3.2); 2.25 root, made once offline.
IMPLEMENTATION_CLASS_UID = "2.25.181529712233465893036405717311372812289"
IMPLEMENTATION_VERSION_NAME = "CLINFLOW_SYN_01"

ORPHAN_GROUP = 0x0013
_PIXEL_DATA = 0x7FE00010
_ORPHAN_SERIES_FRACTION = 0.5
_IMPLICIT_FRACTION = 0.15
_BIG_ENDIAN_FRACTION = 0.06  # only for 16-bit data, byte-swapped here (dcmwrite will not)


@dataclass(slots=True)
class BuiltFile:
    """A dataset ready for ``dcmwrite`` and the PHI entries that describe it."""

    path: str  # relative to the output directory
    dataset: Dataset
    phi: list[PhiEntry]
    acquired: datetime | None = None  # ContentDate/Time (without the fraction): when it arrives


@dataclass(slots=True)
class ImagingBuild:
    studies: list[StudyRecord]
    files: list[BuiltFile]


@dataclass(frozen=True, slots=True)
class StudyStart:
    """A study is about to be drawn and built (nothing of it exists yet)."""

    started: datetime


ImagingEvent = StudyStart | BuiltFile | StudyRecord


def write_imaging_for_patient(
    patient: Patient,
    rng: random.Random,
    study_time: datetime,
    out_dir: Path,
    modalities: Sequence[str],
    add_phi: Callable[[PhiEntry], None],
    burned_in_fraction: float,
) -> list[StudyRecord]:
    """Write one study per entry of ``modalities`` (CT, MR, CR, DX, US, SC or OT).

    ``burned_in_fraction`` is the share of burn-in-eligible instances (CR, DX, US, SC:
    128 pixels wide) that get name, MRN and date rendered into their pixels.
    Raises ``ConfigError`` naming an unknown modality.
    """
    build = build_imaging_for_patient(patient, rng, study_time, modalities, burned_in_fraction)
    write_built_files(build.files, out_dir, add_phi)
    return build.studies


def write_built_files(
    files: Sequence[BuiltFile], out_dir: Path, add_phi: Callable[[PhiEntry], None]
) -> None:
    """Write each dataset as a Part 10 file and report its PHI entries, in order."""
    made: set[Path] = set()
    for built in files:
        target = out_dir / built.path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        dcmwrite(target, built.dataset, enforce_file_format=True)
        for entry in built.phi:
            add_phi(entry)


def dicom_file_bytes(dataset: Dataset) -> bytes:
    """The Part 10 file ``write_built_files`` would write, as bytes (for streams)."""
    buffer = BytesIO()
    dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def build_imaging_for_patient(
    patient: Patient,
    rng: random.Random,
    study_time: datetime,
    modalities: Sequence[str],
    burned_in_fraction: float,
) -> ImagingBuild:
    """Build (without writing) every dataset of the patient's studies; same rng, same result."""
    build = ImagingBuild([], [])
    for event in iter_imaging_for_patient(
        patient, rng, study_time, modalities, burned_in_fraction
    ):
        if isinstance(event, BuiltFile):
            build.files.append(event)
        elif isinstance(event, StudyRecord):
            build.studies.append(event)
    return build


def iter_imaging_for_patient(
    patient: Patient,
    rng: random.Random,
    study_time: datetime,
    modalities: Sequence[str],
    burned_in_fraction: float,
) -> Iterator[ImagingEvent]:
    """The patient's studies lazily: ``StudyStart``, its ``BuiltFile``s, its ``StudyRecord``.

    Arguments are checked before the first event (a bad modality raises ``ConfigError`` at
    the call, not halfway through a stream).
    """
    specs = [spec_for(name) for name in modalities]
    for name, maybe_spec in zip(modalities, specs, strict=True):
        if maybe_spec is None:
            raise ConfigError(
                f"modalities: unknown modality {name!r} (expected one of {', '.join(SPECS)}, OT)"
            )
    if not 0.0 <= burned_in_fraction <= 1.0:
        raise ConfigError("burned_in_fraction: must be between 0 and 1")
    return _iter_studies(
        patient, rng, study_time, [s for s in specs if s is not None], burned_in_fraction
    )


def _iter_studies(
    patient: Patient,
    rng: random.Random,
    study_time: datetime,
    specs: list[ModalitySpec],
    burned_in_fraction: float,
) -> Iterator[ImagingEvent]:
    context = PatientContext.of(patient, rng)
    started = study_time
    for study_index, spec in enumerate(specs):
        yield StudyStart(started)
        plan = StudyPlan.draw(context, spec, study_index, started)
        study_node = build_study_template(context, plan, rng)
        series_specs = [spec] * rng.randint(*spec.plan.series_range)
        if spec.name == "CT" and rng.random() < 0.5:
            series_specs.append(DOSE_REPORT)
        series_records = []
        for series_number, series_spec in enumerate(series_specs, start=1):
            record = yield from _build_series(
                context, plan, study_node, series_spec, series_number, rng, burned_in_fraction
            )
            series_records.append(record)
        yield StudyRecord(
            uid=plan.study_uid,
            accession_number=plan.accession_number,
            started=started,
            description=plan.description,
            series=tuple(series_records),
        )
        started = started + timedelta(minutes=rng.randint(35, 150))


def _transfer_syntax(spec: ModalitySpec, rng: random.Random) -> str:
    draw = rng.random()
    if spec.pixels.bits_allocated == 16 and draw < _BIG_ENDIAN_FRACTION:
        return str(ExplicitVRBigEndian)
    if draw < _BIG_ENDIAN_FRACTION + _IMPLICIT_FRACTION:
        return str(ImplicitVRLittleEndian)
    return str(ExplicitVRLittleEndian)


def _build_series(
    context: PatientContext,
    plan: StudyPlan,
    study_node: Node,
    spec: ModalitySpec,
    series_number: int,
    rng: random.Random,
    burned_in_fraction: float,
) -> Generator[BuiltFile, None, SeriesRecord]:
    """Build the series template, then yield each instance; returns the series record.

    The record (UIDs, file names) is known before the first instance: ``instance_uids`` are
    drawn up front, so the instances can be handed out one at a time.
    """
    patient = context.patient
    frames = choose_frames(spec, rng)
    count = rng.randint(*spec.plan.instance_range) if frames == 1 else rng.randint(1, 2)
    series_uid = context.new_uid()
    instance_uids = [context.new_uid() for _ in range(count)]
    sop_class = US_MULTIFRAME if frames > 1 else spec.sop_class_uid
    transfer_syntax = _transfer_syntax(spec, rng)
    description = rng.choice(spec.series_descriptions)
    series_time = plan.started + timedelta(
        minutes=2 + 4 * series_number, seconds=rng.randint(0, 59)
    )
    noise = np.random.default_rng(rng.getrandbits(64))

    series_phi: list[Planted] = []
    series_ds = Dataset(dict(study_node.ds.items()))
    node = Node(series_ds, "", series_phi)
    node.put("SOPClassUID", sop_class)
    node.put("Modality", spec.modality)
    node.plant("SeriesInstanceUID", series_uid, PhiKind.UID, Subject.PATIENT, "series")
    node.put("SeriesNumber", str(series_number))
    node.plant("SeriesDate", plan.date_text, PhiKind.DATE, Subject.PATIENT, "series_date")
    series_time_text = dicom_time(series_time, rng.randint(0, 999_999))
    node.plant("SeriesTime", series_time_text, PhiKind.DATE, Subject.PATIENT, "series_time")
    context.plant_series_text(node, description, plan, rng)
    context.plant_series_staff(node)
    if spec.body_part:
        node.put("BodyPartExamined", spec.body_part)
    node.put("ProtocolName", description)
    if spec.plan.volumetric:
        node.plant(
            "FrameOfReferenceUID",
            context.new_uid(),
            PhiKind.UID,
            Subject.PATIENT,
            "frame_of_reference",
        )
        node.put("PositionReferenceIndicator", "")
        node.put("ImageOrientationPatient", ["1", "0", "0", "0", "1", "0"])
    node.put_all(spec.attributes)
    for keyword, (value, scheme, meaning) in spec.codes:
        code = node.sequence(keyword, 1)[0]
        code.put("CodeValue", value)
        code.put("CodingSchemeDesignator", scheme)
        code.put("CodeMeaning", meaning)
    _put_pixel_module(node, spec.pixels, frames)
    if rng.random() < _ORPHAN_SERIES_FRACTION:
        node.plant_private(
            (ORPHAN_GROUP << 16) | 0x1010, "LO", patient.mrn, PhiKind.MRN, Subject.PATIENT, ""
        )
        node.plant_private(
            (ORPHAN_GROUP << 16) | 0x1011,
            "LO",
            patient.person.full_name,
            PhiKind.NAME,
            Subject.PATIENT,
            "",
        )

    files: list[str] = []
    series_dir = f"dicom/p{patient.index:06d}/st{plan.index:02d}/se{series_number:02d}"
    for number, sop_uid in enumerate(instance_uids, start=1):
        rel = f"{series_dir}/{number}.dcm"
        files.append(rel)
        instance_phi: list[Planted] = []
        ds = Dataset(dict(series_ds.items()))
        inst = Node(ds, "", instance_phi)
        inst.plant("SOPInstanceUID", sop_uid, PhiKind.UID, Subject.PATIENT, "sop_instance")
        inst.put("InstanceNumber", str(number))
        acquired = series_time + timedelta(seconds=7 * number)
        content_time = dicom_time(acquired, rng.randint(0, 999_999))
        for keyword in ("AcquisitionDate", "ContentDate"):
            inst.plant(keyword, plan.date_text, PhiKind.DATE, Subject.PATIENT, "content_date")
        for keyword in ("AcquisitionTime", "ContentTime"):
            inst.plant(keyword, content_time, PhiKind.DATE, Subject.PATIENT, "content_time")
        if count > 1:
            ref = inst.sequence("ReferencedImageSequence", 1)[0]
            ref.put("ReferencedSOPClassUID", sop_class)
            ref.plant(
                "ReferencedSOPInstanceUID",
                instance_uids[number % count],
                PhiKind.UID,
                Subject.PATIENT,
                "referenced_image",
            )
        if spec.plan.volumetric:
            z = f"{-100 + 5 * number:.1f}"
            inst.put("ImagePositionPatient", ["-176", "-176", z])
            inst.put("SliceLocation", z)
        context.plant_image_comment(inst, plan, rng)
        pixels = pixel_array(spec, noise, (number - 0.5) / count, frames)
        burn = spec.plan.burn_in_eligible and rng.random() < burned_in_fraction
        inst.put("BurnedInAnnotation", "YES" if burn else "NO")
        if burn:
            _burn_identifiers(context, plan, spec, pixels, frames, rng, instance_phi)
        _put_pixel_data(ds, pixels, spec, transfer_syntax)

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(sop_class)
        meta.MediaStorageSOPInstanceUID = UID(sop_uid)
        meta.TransferSyntaxUID = UID(transfer_syntax)
        meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
        ds.file_meta = meta
        planted = [*study_node.phi, *series_phi, *instance_phi]
        planted.append(
            Planted(
                "meta.(0002,0003)",
                sop_uid,
                PhiKind.UID,
                Subject.PATIENT,
                "media_storage_sop_instance",
            )
        )
        yield BuiltFile(
            rel,
            ds,
            [
                PhiEntry(p.value, p.kind, p.subject, patient.mrn, rel, p.location, p.detail)
                for p in planted
            ],
            acquired,
        )
    return SeriesRecord(
        series_uid, series_number, spec.modality, description, tuple(instance_uids), tuple(files)
    )


def _put_pixel_module(node: Node, pixels: PixelModule, frames: int) -> None:
    """Image Pixel module (PS3.3 C.7.6.3) plus multi-frame attributes for cine loops."""
    node.put("SamplesPerPixel", pixels.samples_per_pixel)
    node.put("PhotometricInterpretation", pixels.photometric)
    if pixels.samples_per_pixel > 1:
        node.put("PlanarConfiguration", 0)
    node.put("Rows", pixels.size)
    node.put("Columns", pixels.size)
    node.put("BitsAllocated", pixels.bits_allocated)
    node.put("BitsStored", pixels.bits_stored)
    node.put("HighBit", pixels.bits_stored - 1)
    node.put("PixelRepresentation", 0)
    if frames > 1:
        node.put("NumberOfFrames", str(frames))
        node.put("FrameTime", "33.3")
        node.put("FrameIncrementPointer", tag_and_vr("FrameTime")[0])


def _put_pixel_data(ds: Dataset, pixels: np.ndarray, spec: ModalitySpec, syntax: str) -> None:
    """Native pixel data; 16-bit values byte-swapped for Explicit VR Big Endian."""
    if spec.pixels.bits_allocated == 16:
        order = ">u2" if syntax == ExplicitVRBigEndian else "<u2"
        raw = pixels.astype(order, copy=False).tobytes()
        ds[_PIXEL_DATA] = DataElement(_PIXEL_DATA, "OW", raw)
    else:
        ds[_PIXEL_DATA] = DataElement(_PIXEL_DATA, "OB", pixels.tobytes())


def _burn_identifiers(
    context: PatientContext,
    plan: StudyPlan,
    spec: ModalitySpec,
    pixels: np.ndarray,
    frames: int,
    rng: random.Random,
    phi: list[Planted],
) -> None:
    """Render name, MRN and study date into every frame and record each line's box."""
    lines = context.burned_in_lines(plan)
    placed = px.layout_text(
        [text for text, _, _ in lines], spec.pixels.size, spec.pixels.size, top=rng.random() < 0.6
    )
    kinds = {text: (kind, detail) for text, kind, detail in lines}
    value = text_value(spec)
    for frame in range(frames):
        target = pixels[frame] if frames > 1 else pixels
        px.burn_in(target, placed, value)
        for item in placed:
            kind, detail = kinds[item.text]
            location = f"pixels[{frame}]:{item.x},{item.y},{item.width},{item.height}"
            phi.append(Planted(location, item.text, kind, Subject.PATIENT, f"burned_in;{detail}"))
