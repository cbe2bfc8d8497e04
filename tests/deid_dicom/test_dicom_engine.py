"""The engine on hand-built datasets: every profile action users rely on, and refusals."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from clinflow.deid.dicom.actions import shift_da, shift_dt, shift_tm
from clinflow.deid.dicom.engine import DicomDeidentifier, time_offset_seconds
from clinflow.deid.dicom.profile import compile_policy
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.errors import InputRejected

from .helpers import KEY_A, KEY_B, PATIENT, US_IMAGE, make_dataset, nest, to_bytes


def run(engine: DicomDeidentifier, ds: Dataset) -> Dataset:
    out, _ = engine.deidentify_bytes(to_bytes(ds), "test.dcm")
    return dcmread(BytesIO(out))


def all_text(ds: Dataset) -> str:
    parts = [str(e.value) for e in ds.iterall() if e.VR not in ("OB", "OW", "SQ")]
    parts += [str(e.value) for e in ds.file_meta]
    return "\n".join(parts)


@pytest.mark.parametrize(
    "syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian]
)
def test_identifiers_are_removed_or_replaced(engine: DicomDeidentifier, syntax: UID) -> None:
    out = run(engine, make_dataset(syntax=syntax))
    text = all_text(out)
    for value in (
        "Lindqvist",
        "Maren",
        "MRN-4417729",
        "4417729",
        "19470312",
        "ACC99887766",
        "Okafor",
        "Saint Brigid",
        "20240105",
        "1.2.3.4.5.6789",
    ):
        assert value not in text
    pseudonymizer = Pseudonymizer(KEY_A)
    assert out.PatientID == pseudonymizer.patient_pseudonym(PATIENT["PatientID"])
    assert str(out.PatientName) == out.PatientID
    assert out.PatientBirthDate == ""  # Z
    assert out.AccessionNumber == ""  # Z
    assert "InstitutionName" not in out  # X
    assert not any(elem.tag.is_private for elem in out)
    assert out.PatientIdentityRemoved == "YES"
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert codes[0] == "113100" and "113107" in codes
    assert out.file_meta.TransferSyntaxUID == syntax


def test_uids_are_remapped_consistently_including_references_and_meta(
    engine: DicomDeidentifier,
) -> None:
    out = run(engine, make_dataset())
    expected = Pseudonymizer(KEY_A).uid("1.2.3.4.5.6789.3")
    assert out.SOPInstanceUID == expected
    assert out.file_meta.MediaStorageSOPInstanceUID == expected
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == expected
    assert out.ReferencedImageSequence[0].ReferencedSOPClassUID == out.SOPClassUID  # kept
    assert out.StudyInstanceUID.startswith("2.25.")
    assert len(out.StudyInstanceUID) <= 64


def test_dates_shift_by_the_patients_offset_and_intervals_survive(
    engine: DicomDeidentifier,
) -> None:
    out = run(engine, make_dataset())
    offset = Pseudonymizer(KEY_A).date_offset_days(PATIENT["PatientID"])
    study = date.fromisoformat(f"{out.StudyDate[:4]}-{out.StudyDate[4:6]}-{out.StudyDate[6:]}")
    content = date.fromisoformat(
        f"{out.ContentDate[:4]}-{out.ContentDate[4:6]}-{out.ContentDate[6:]}"
    )
    assert (date(2024, 1, 5) - study).days == -offset
    assert (content - study).days == 2  # interval preserved
    assert out.StudyTime != PATIENT["StudyTime"]  # times move too (PS3.15 E.3.6)


def test_shift_helpers() -> None:
    assert shift_da("20240105", -7) == "20231229"
    assert shift_da("20240101-20240131", -7) == "20231225-20240124"
    assert shift_da("2024", -7) == ""  # cannot shift a year safely
    assert shift_da("20241341", -7) == ""  # invalid date
    assert shift_tm("235930", 60) == "000030"
    assert shift_tm("1430", 60) == "143100"
    assert shift_tm("143015.123", 60) == "143115.123"
    assert shift_dt("20240105235930+0100", -7, 60) == "20231230000030+0100"
    assert shift_dt("20240105", -7, 60) == "20231229"
    assert 60 <= time_offset_seconds(Pseudonymizer(KEY_A), "x") < 86400


def test_descriptors_are_cleaned_with_the_datasets_own_identifiers(
    engine: DicomDeidentifier,
) -> None:
    out = run(engine, make_dataset())
    assert out.StudyDescription.startswith("CT CHEST for")
    assert "Maren" not in out.StudyDescription and "4417729" not in out.StudyDescription


def test_nested_sequences_are_cleaned_at_any_depth(engine: DicomDeidentifier) -> None:
    ds = make_dataset()
    inner = Dataset()
    inner.PatientName = "Hidden^Deep"
    inner.ReferencedSOPInstanceUID = "1.2.3.4.5.6789.3"
    inner.StudyDate = "20240105"
    nest(ds, 6, inner)
    out = run(engine, ds)
    node = out
    for _ in range(6):
        node = node.ReferencedSeriesSequence[0]
    assert "Hidden" not in str(node.PatientName)
    assert node.ReferencedSOPInstanceUID == out.SOPInstanceUID
    assert node.StudyDate == out.StudyDate


def test_same_key_same_bytes_different_key_different_pseudonyms() -> None:
    data = to_bytes(make_dataset())
    policy = compile_policy()
    first, _ = DicomDeidentifier(policy, Pseudonymizer(KEY_A)).deidentify_bytes(data, "a")
    second, _ = DicomDeidentifier(policy, Pseudonymizer(KEY_A)).deidentify_bytes(data, "a")
    other, _ = DicomDeidentifier(policy, Pseudonymizer(KEY_B)).deidentify_bytes(data, "a")
    assert first == second
    a, b = dcmread(BytesIO(first)), dcmread(BytesIO(other))
    assert a.PatientID != b.PatientID
    assert a.StudyInstanceUID != b.StudyInstanceUID


def test_retain_safe_private_keeps_only_listed_private_elements() -> None:
    ds = make_dataset()
    ds.add_new(0x00190010, "LO", "GEMS_ACQU_01")
    ds.add_new(0x00191010, "LO", "safe value")
    ds.add_new(0x00191011, "LO", "unsafe value")
    engine = DicomDeidentifier(
        compile_policy(options=["retain_safe_private"]), Pseudonymizer(KEY_A)
    )
    out = run(engine, ds)
    assert out[0x00191010].value == "safe value"
    assert 0x00191011 not in out
    assert 0x00111010 not in out and 0x00111011 not in out


def test_burned_in_images_are_masked_or_quarantined(engine: DicomDeidentifier) -> None:
    ds = make_dataset(modality="US", sop_class=US_IMAGE, rows=200, frames=2)
    out = run(engine, ds)
    pixels = out.pixel_array
    assert pixels.shape == (2, 200, 200)
    assert (pixels[:, :64, :] == 0).all() and (pixels[:, -64:, :] == 0).all()
    assert (pixels[:, 64:-64, :] != 0).all()  # the rest is untouched
    strict = DicomDeidentifier(compile_policy(options=[]), Pseudonymizer(KEY_A))
    with pytest.raises(InputRejected, match="burned-in text risk.*clean_pixel_data"):
        strict.deidentify_bytes(to_bytes(make_dataset(burned_in="YES")), "x.dcm")


def test_compressed_pixels_are_not_decoded_unless_masking_needs_it(
    engine: DicomDeidentifier,
) -> None:
    ds = make_dataset(rows=32)
    ds.compress(RLELossless, generate_instance_uid=False)
    data = to_bytes(ds)
    out, result = engine.deidentify_bytes(data, "rle.dcm")
    written = dcmread(BytesIO(out))
    assert written.file_meta.TransferSyntaxUID == RLELossless
    assert written.PixelData == ds.PixelData  # untouched, still encapsulated
    assert result.mask is None
    ds.BurnedInAnnotation = "YES"
    out, result = engine.deidentify_bytes(to_bytes(ds), "rle-burned.dcm")
    written = dcmread(BytesIO(out))
    assert result.mask is not None and result.mask.decompressed
    assert written.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert (written.pixel_array[:32, :] == 0).all()


def test_non_ascii_character_sets_survive(engine: DicomDeidentifier) -> None:
    patient = {**PATIENT, "PatientName": "Müller^Jürgen", "PatientID": "MRN-5512"}
    ds = make_dataset(charset="ISO_IR 100", patient=patient)
    ds.StudyDescription = "Kontrolle Jürgen Müller"
    out = run(engine, ds)
    assert "Müller" not in all_text(out) and "Jürgen" not in all_text(out)
    assert out.StudyDescription.startswith("Kontrolle")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"this is not DICOM at all, just text" * 10, "not a DICOM file"),
        (b"", "not a DICOM file"),
    ],
)
def test_non_dicom_is_rejected(engine: DicomDeidentifier, payload: bytes, reason: str) -> None:
    with pytest.raises(InputRejected, match=reason):
        engine.deidentify_bytes(payload, "bad.dcm")


def test_truncated_file_is_rejected(engine: DicomDeidentifier) -> None:
    data = to_bytes(make_dataset(rows=64))
    with pytest.raises(InputRejected) as caught:
        engine.deidentify_bytes(data[: len(data) // 2], "truncated.dcm")
    assert caught.value.location == "truncated.dcm"
    assert "Lindqvist" not in str(caught.value)


def test_masked_pixels_keep_dtype_and_byte_order(engine: DicomDeidentifier) -> None:
    ds = make_dataset(syntax=ExplicitVRBigEndian, burned_in="YES", rows=100)
    original = ds.pixel_array.copy()
    out = run(engine, ds)
    assert out.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    assert np.array_equal(out.pixel_array[64:-64], original[64:-64])
