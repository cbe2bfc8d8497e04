"""What each synthetic modality looks like: SOP class, pixel module, series plan, pixels.

One ``ModalitySpec`` per name accepted in ``write_imaging_for_patient(modalities=...)``:
CT, MR, CR, DX, US and SC (secondary capture; DICOM modality ``OT``, also accepted as a
name). Pixel-module values follow PS3.3 C.7.6.3 (Image Pixel) and the modality modules
(C.8.2.1 CT Image, C.8.3.1 MR Image, C.8.1.2 CR Image, C.8.11 DX, C.8.5.6 US Image,
C.8.6.2 SC Image). Every Type 1 and Type 2 attribute of the IODs emitted is set (Type 2 ones
empty where no value is known), so each file passes ``dciodvfy`` without errors (ADR 0025);
``policies/dicom/iod-modules.yaml`` lists them and the conformance tests check them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from clinflow.synthetic.dicom import pixels as px

# SOP classes (PS3.4 Annex B.5)
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

# (keyword, VR, value) triples of modality-specific attributes
Attr = tuple[str, str, object]
# (sequence keyword, (code value, coding scheme, code meaning)): a one-item code sequence
CodedAttr = tuple[str, tuple[str, str, str]]


@dataclass(frozen=True, slots=True)
class PixelModule:
    """The Image Pixel module values (PS3.3 C.7.6.3) every instance of a modality shares."""

    size: int  # rows == columns
    bits_allocated: int
    bits_stored: int
    photometric: str
    samples_per_pixel: int = 1


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """How a study of a modality is laid out: series per study, instances per series."""

    volumetric: bool  # has a frame of reference and slice positions
    burn_in_eligible: bool  # big enough for readable burned-in text
    series_range: tuple[int, int]
    instance_range: tuple[int, int]


# Cross-sectional modalities (CT, MR): small 12-bit slices, a few stacks of a few slices.
SLICE_PIXELS = PixelModule(size=64, bits_allocated=16, bits_stored=12, photometric="MONOCHROME2")
SLICE_PLAN = SeriesPlan(
    volumetric=True, burn_in_eligible=False, series_range=(2, 3), instance_range=(3, 6)
)
# Projection radiographs (CR, DX) and captures: larger single images, one or two a series.
SINGLE_IMAGE_PLAN = SeriesPlan(
    volumetric=False, burn_in_eligible=True, series_range=(1, 2), instance_range=(1, 2)
)


@dataclass(frozen=True, slots=True)
class ModalitySpec:
    name: str  # the name callers pass (CT, MR, CR, DX, US, SC)
    modality: str  # value of Modality (0008,0060)
    sop_class_uid: str
    pixels: PixelModule
    plan: SeriesPlan
    study_descriptions: tuple[str, ...]
    series_descriptions: tuple[str, ...]
    body_part: str
    attributes: tuple[Attr, ...]  # constant per series
    codes: tuple[CodedAttr, ...] = ()  # one-item code sequences, built fresh per series


SPECS: dict[str, ModalitySpec] = {
    spec.name: spec
    for spec in (
        ModalitySpec(
            "CT",
            "CT",
            CT_IMAGE,
            SLICE_PIXELS,
            SLICE_PLAN,
            study_descriptions=(
                "CT CHEST WITHOUT CONTRAST",
                "CT CHEST ABDOMEN PELVIS W CONTRAST",
                "CT PE PROTOCOL",
            ),
            series_descriptions=("AXIAL 5MM", "AXIAL LUNG 1MM", "CORONAL MPR", "SAGITTAL MPR"),
            body_part="CHEST",
            attributes=(
                ("ImageType", "CS", ["ORIGINAL", "PRIMARY", "AXIAL"]),
                ("KVP", "DS", "120"),
                ("SliceThickness", "DS", "5"),
                ("PixelSpacing", "DS", ["5.5", "5.5"]),
                ("RescaleIntercept", "DS", "-1024"),
                ("RescaleSlope", "DS", "1"),
                ("RescaleType", "LO", "HU"),
                ("WindowCenter", "DS", "40"),
                ("WindowWidth", "DS", "400"),
                ("ConvolutionKernel", "SH", "STANDARD"),
                ("PatientPosition", "CS", "HFS"),
                ("AcquisitionNumber", "IS", "1"),  # Type 2 in CT Image (C.8.2.1)
            ),
        ),
        ModalitySpec(
            "MR",
            "MR",
            MR_IMAGE,
            SLICE_PIXELS,
            SLICE_PLAN,
            study_descriptions=("MRI BRAIN WITHOUT CONTRAST", "MRI BRAIN W WO CONTRAST"),
            series_descriptions=("AX T1", "AX T2", "AX FLAIR", "SAG T1", "AX DWI"),
            body_part="HEAD",
            attributes=(
                ("ImageType", "CS", ["ORIGINAL", "PRIMARY", "OTHER"]),  # value 3: C.8.3.1.1.1
                ("ScanningSequence", "CS", "SE"),
                ("SequenceVariant", "CS", "NONE"),
                ("ScanOptions", "CS", ""),
                ("MRAcquisitionType", "CS", "2D"),
                ("RepetitionTime", "DS", "500"),
                ("EchoTime", "DS", "15"),
                ("EchoTrainLength", "IS", "1"),
                ("MagneticFieldStrength", "DS", "1.5"),
                ("ImagingFrequency", "DS", "63.87"),
                ("SliceThickness", "DS", "5"),
                ("PixelSpacing", "DS", ["3.6", "3.6"]),
                ("PatientPosition", "CS", "HFS"),
            ),
        ),
        ModalitySpec(
            "CR",
            "CR",
            CR_IMAGE,
            PixelModule(size=128, bits_allocated=16, bits_stored=12, photometric="MONOCHROME1"),
            SINGLE_IMAGE_PLAN,
            study_descriptions=("XR CHEST 2 VIEWS", "XR CHEST 1 VIEW PORTABLE"),
            series_descriptions=("PA", "LATERAL", "AP PORTABLE"),
            body_part="CHEST",
            attributes=(
                ("ImageType", "CS", ["ORIGINAL", "PRIMARY"]),
                ("ViewPosition", "CS", "PA"),
                ("KVP", "DS", "110"),
                ("ImagerPixelSpacing", "DS", ["3.2", "3.2"]),
                ("WindowCenter", "DS", "2048"),
                ("WindowWidth", "DS", "4096"),
                # Type 2C in General Image (no Image Plane module): PA view, rows to the
                # patient's left, columns to the feet
                ("PatientOrientation", "CS", ["L", "F"]),
            ),
        ),
        ModalitySpec(
            "DX",
            "DX",
            DX_PRESENTATION,
            PixelModule(size=128, bits_allocated=16, bits_stored=12, photometric="MONOCHROME2"),
            SINGLE_IMAGE_PLAN,
            study_descriptions=("XR CHEST PA AND LATERAL", "XR ABDOMEN 1 VIEW"),
            series_descriptions=("PA", "LATERAL", "AP SUPINE"),
            body_part="CHEST",
            attributes=(
                ("ImageType", "CS", ["ORIGINAL", "PRIMARY"]),
                ("PresentationIntentType", "CS", "FOR PRESENTATION"),
                ("PresentationLUTShape", "CS", "IDENTITY"),
                ("ViewPosition", "CS", "PA"),
                ("KVP", "DS", "110"),
                ("ImagerPixelSpacing", "DS", ["3.2", "3.2"]),
                ("RescaleIntercept", "DS", "0"),
                ("RescaleSlope", "DS", "1"),
                ("RescaleType", "LO", "US"),
                ("WindowCenter", "DS", "2048"),
                ("WindowWidth", "DS", "4096"),
                # DX Image (C.8.11.3): Type 1 and 1C
                ("PixelIntensityRelationship", "CS", "LIN"),
                ("PixelIntensityRelationshipSign", "SS", 1),
                ("LossyImageCompression", "CS", "00"),
                ("PatientOrientation", "CS", ["L", "F"]),
                ("ImageLaterality", "CS", "U"),  # DX Anatomy Imaged (C.8.11.2): unpaired
                ("DetectorType", "CS", "SCINTILLATOR"),  # DX Detector (C.8.11.4): Type 2
                ("PositionerType", "CS", "COLUMN"),  # DX Positioning (C.8.11.5): Type 2
                ("AcquisitionContextSequence", "SQ", []),  # Type 2 (C.7.6.14), empty
            ),
            codes=(
                ("AnatomicRegionSequence", ("43799004", "SCT", "Chest")),  # CID 4009
                ("ViewCodeSequence", ("399348003", "SCT", "postero-anterior")),  # CID 4010
            ),
        ),
        ModalitySpec(
            "US",
            "US",
            US_IMAGE,
            PixelModule(size=128, bits_allocated=8, bits_stored=8, photometric="MONOCHROME2"),
            SeriesPlan(
                volumetric=False, burn_in_eligible=True, series_range=(1, 3), instance_range=(1, 4)
            ),
            study_descriptions=("US ABDOMEN COMPLETE", "ECHO TRANSTHORACIC", "US RENAL"),
            series_descriptions=("LIVER", "GALLBLADDER", "KIDNEY RIGHT", "CINE LOOP"),
            body_part="ABDOMEN",
            attributes=(
                ("ImageType", "CS", ["ORIGINAL", "PRIMARY", "ABDOMINAL"]),
                ("LossyImageCompression", "CS", "00"),
                ("PatientOrientation", "CS", ""),  # Type 2C in General Image: unknown
            ),
        ),
        ModalitySpec(
            "SC",
            "OT",
            SECONDARY_CAPTURE,
            PixelModule(
                size=128, bits_allocated=8, bits_stored=8, photometric="RGB", samples_per_pixel=3
            ),
            SINGLE_IMAGE_PLAN,
            study_descriptions=("OUTSIDE IMAGES IMPORT", "3D RECONSTRUCTION"),
            series_descriptions=("SCREEN CAPTURE", "REPORT PAGE", "DOSE REPORT"),
            body_part="",
            attributes=(
                ("ConversionType", "CS", "WSD"),
                ("PatientOrientation", "CS", ""),  # Type 2C in General Image: unknown
                ("Laterality", "CS", ""),  # Type 2C in General Series: unknown
            ),
        ),
    )
}

# Names callers may use for a spec: the DICOM Modality value of secondary capture is OT.
ALIASES = {"OT": "SC"}


def spec_for(name: str) -> ModalitySpec | None:
    """The spec for a caller's modality name (case-insensitive), or None when unknown."""
    key = name.upper()
    return SPECS.get(ALIASES.get(key, key))


# A CT study sometimes carries a dose-report screen capture as an extra series.
DOSE_REPORT = SPECS["SC"]


def pixel_array(
    spec: ModalitySpec,
    noise: np.random.Generator,
    position: float,
    frames: int,
) -> NDArray[np.uint8] | NDArray[np.uint16]:
    """Fresh pixels for one instance: ``(rows, cols)``, ``(frames, rows, cols)`` or RGB."""
    size = spec.pixels.size
    if spec.name == "CT":
        return px.ct_slice(size, position, noise)
    if spec.name == "MR":
        return px.mr_slice(size, position, noise)
    if spec.name in ("CR", "DX"):
        return px.radiograph(size, noise, invert=spec.pixels.photometric == "MONOCHROME1")
    if spec.name == "US":
        stack = px.ultrasound_frames(size, frames, noise)
        return stack if frames > 1 else stack[0]
    return px.secondary_capture(size, noise)


def text_value(spec: ModalitySpec) -> int:
    """The stored value that displays brightest, for burned-in text."""
    if spec.pixels.photometric == "MONOCHROME1":
        return 0
    return (1 << spec.pixels.bits_stored) - 1


def choose_frames(spec: ModalitySpec, rng: random.Random) -> int:
    """Frames per instance for a series: US series are cine loops about a third of the time."""
    if spec.name == "US" and rng.random() < 0.35:
        return rng.randint(3, 6)
    return 1
