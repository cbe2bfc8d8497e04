"""Helpers for the DICOM de-identification tests: pseudonym keys and small hand-built datasets
with known PHI."""

from __future__ import annotations

from io import BytesIO

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"

PATIENT = {
    "PatientName": "Lindqvist^Maren^Oda",
    "PatientID": "MRN-4417729",
    "PatientBirthDate": "19470312",
    "AccessionNumber": "ACC99887766",
    "ReferringPhysicianName": "Okafor^Chidi",
    "InstitutionName": "Saint Brigid Regional Medical Center",
    "StudyDate": "20240105",
    "SeriesDate": "20240105",
    "ContentDate": "20240107",
    "StudyTime": "143015",
}


def make_dataset(
    study_uid: str = "1.2.3.4.5.6789.1",
    series_uid: str = "1.2.3.4.5.6789.2",
    sop_uid: str = "1.2.3.4.5.6789.3",
    syntax: UID = ExplicitVRLittleEndian,
    modality: str = "CT",
    sop_class: str = CT_IMAGE,
    burned_in: str = "NO",
    rows: int = 16,
    frames: int = 1,
    charset: str | None = None,
    patient: dict[str, str] | None = None,
) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = syntax
    ds.file_meta = meta
    if charset:
        ds.SpecificCharacterSet = charset
    for keyword, value in (patient or PATIENT).items():
        setattr(ds, keyword, value)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = study_uid + ".9"
    ds.Modality = modality
    ds.StudyDescription = "CT CHEST for Maren Lindqvist MRN-4417729"
    ds.BurnedInAnnotation = burned_in
    ref = Dataset()
    ref.ReferencedSOPClassUID = sop_class
    ref.ReferencedSOPInstanceUID = sop_uid
    ds.ReferencedImageSequence = Sequence([ref])
    ds.Rows = rows
    ds.Columns = rows
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    shape = (frames, rows, rows) if frames > 1 else (rows, rows)
    if frames > 1:
        ds.NumberOfFrames = frames
    pixels = (np.arange(np.prod(shape), dtype=np.uint16) % 4000 + 1).reshape(shape)
    order = ">u2" if syntax == ExplicitVRBigEndian else "<u2"
    ds.PixelData = pixels.astype(order).tobytes()
    ds.add_new(0x00110010, "LO", "ACME PRIVATE")
    ds.add_new(0x00111010, "LO", "MRN-4417729")
    ds.add_new(0x00111011, "PN", "Lindqvist^Maren")
    return ds


def to_bytes(ds: Dataset) -> bytes:
    syntax = ds.file_meta.TransferSyntaxUID
    buffer = BytesIO()
    ds.save_as(
        buffer,
        implicit_vr=syntax == ImplicitVRLittleEndian,
        little_endian=syntax != ExplicitVRBigEndian,
        enforce_file_format=True,
    )
    return buffer.getvalue()


def nest(ds: Dataset, depth: int, inner: Dataset) -> None:
    """Put ``inner`` ``depth`` sequence levels below ``ds`` (generic, unlisted sequences)."""
    node = ds
    for _ in range(depth):
        item = Dataset()
        node.ReferencedSeriesSequence = Sequence([item])
        node = item
    for elem in inner:
        node.add(elem)
