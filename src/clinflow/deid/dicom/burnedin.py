"""Burned-in annotation: decide which images may carry text in their pixels, and mask it.

An image is at risk when BurnedInAnnotation is YES or its modality / SOP class is one the
policy lists (ultrasound, secondary capture, ...). At-risk images get the policy's regions
masked (``clean_pixel_data``) or are refused with a reason: never passed on unchanged.
Compressed pixel data is decoded only here, and only for at-risk images; the masked result is
written uncompressed (explicit VR little endian) because re-encoding needs codecs we do not
ship. No decoder available means the file is quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from clinflow.deid.dicom.profile import BurnedInPolicy
from clinflow.errors import InputRejected

PIXEL_DATA = 0x7FE00010


@dataclass(frozen=True, slots=True)
class MaskResult:
    frames: int
    boxes: tuple[tuple[int, int, int, int], ...]  # x, y, w, h in pixels
    decompressed: bool


def burned_in_risk(ds: Dataset, policy: BurnedInPolicy) -> str | None:
    """Why this image may carry burned-in text, or None."""
    if PIXEL_DATA not in ds:
        return None
    flag = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if flag == "YES":
        return "BurnedInAnnotation=YES"
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality and modality in policy.modalities:
        return f"modality {modality}"
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if sop_class in policy.sop_classes:
        return f"SOP class {sop_class}"
    return None


def region_boxes(
    policy: BurnedInPolicy, modality: str, rows: int, columns: int
) -> tuple[tuple[int, int, int, int], ...]:
    """The policy's regions for this modality, in pixels, clipped (first matching rule wins)."""
    for rule in policy.regions:
        if rule.modality not in (modality, "*"):
            continue
        boxes = []
        for bx, by, bw, bh in rule.boxes:
            if rule.unit == "fraction":
                bx, bw, by, bh = bx * columns, bw * columns, by * rows, bh * rows
            x0 = int(bx) if bx >= 0 else columns + int(bx)
            y0 = int(by) if by >= 0 else rows + int(by)
            x0, y0 = max(0, x0), max(0, y0)
            x1, y1 = min(columns, x0 + int(round(bw))), min(rows, y0 + int(round(bh)))
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1 - x0, y1 - y0))
        return tuple(boxes)
    return ()


def mask_regions(ds: Dataset, policy: BurnedInPolicy, location: str) -> MaskResult:
    """Zero the policy's regions in every frame; raises InputRejected when that is impossible."""
    modality = str(ds.get("Modality", "") or "").strip().upper()
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    boxes = region_boxes(policy, modality, rows, columns)
    if not boxes:
        raise InputRejected(
            f"burned-in text risk and no mask region for modality {modality}", location
        )
    if int(ds.get("BitsAllocated", 8) or 8) == 1:
        raise InputRejected("burned-in text risk in 1-bit pixel data (cannot mask)", location)
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    decompressed = bool(syntax is not None and syntax.is_compressed)
    try:
        if decompressed:
            # keep the SOP Instance UID: the engine remaps it consistently afterwards
            ds.decompress(generate_instance_uid=False)
            for tag in list(ds.keys()):  # implicit VR raw elements need their VR to write
                ds[tag]
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for missing/failed decoders
        name = getattr(syntax, "name", "unknown transfer syntax")
        raise InputRejected(
            f"burned-in text risk and pixel data in {name} cannot be decoded here "
            f"({type(exc).__name__}); install a decoder (pylibjpeg/gdcm) or review by hand",
            location,
        ) from exc
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    arr = np.array(pixels, copy=True)
    for x, y, w, h in boxes:
        if frames > 1:
            arr[:, y : y + h, x : x + w, ...] = 0
        else:
            arr[y : y + h, x : x + w, ...] = 0
    if not ds.is_little_endian:
        arr = arr.astype(arr.dtype.newbyteorder(">"))
    data = arr.tobytes()
    if len(data) % 2:
        data += b"\x00"
    ds.PixelData = data
    if samples > 1:
        ds.PlanarConfiguration = 0  # pixel_array is always interleaved
    return MaskResult(frames, boxes, decompressed)
