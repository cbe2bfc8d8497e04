"""De-identification keeps files IOD-conformant (issue 17, ADR 0025): no error in an output
that its input did not have, by dciodvfy (dicom3tools) where installed and by the table-driven
IOD check everywhere; the fixes come from policies/dicom/iod-modules.yaml."""

from __future__ import annotations

import os
import warnings
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset

from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.deid.dicom.iod import check_dataset, load_iod_table
from clinflow.deid.dicom.profile import ActionCode, compile_policy
from clinflow.errors import InputRejected, PolicyError
from helpers.dicom_conformance import dciodvfy, write_every_kind

from .helpers import CT_IMAGE, make_dataset, to_bytes

TEST_FILES = Path(os.path.dirname(pydicom.__file__)) / "data" / "test_files"
SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
RESPONSIBLE_PERSON, RESPONSIBLE_ROLE = 0x00102297, 0x00102298
DEVICE_SERIAL = 0x00181000
Kind = tuple[str, str, bool]
_OPTION_SETS = {
    "default": None,
    "basic": ["clean_pixel_data"],  # the basic profile (plus masking, else US/SC are refused)
    "retain-all": [
        "retain_uids", "retain_device_identity", "retain_institution_identity",
        "retain_patient_characteristics", "retain_long_full_dates", "retain_safe_private",
        "clean_pixel_data",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def every_kind(
    tmp_path_factory: pytest.TempPathFactory, engine: DicomDeidentifier
) -> dict[Kind, tuple[Path, Path]]:
    """One generated file of every kind and its de-identified output."""
    root = tmp_path_factory.mktemp("conformance")
    pairs = {}
    for kind, source in write_every_kind(root / "in").items():
        target = root / "out" / source.relative_to(root / "in")
        engine.deidentify_file(source, target, source.name)
        pairs[kind] = (source, target)
    return pairs


def _findings(ds: Dataset) -> set[str]:
    return {str(f) for f in check_dataset(ds)}


def test_deidentified_files_of_every_kind_pass_the_iod_check(
    every_kind: dict[Kind, tuple[Path, Path]],
) -> None:
    assert len(every_kind) == 18
    problems = {k: _findings(dcmread(out)) for k, (_, out) in every_kind.items()}
    assert {k: v for k, v in problems.items() if v} == {}
    for source, out in every_kind.values():
        before, after = dcmread(source), dcmread(out)
        assert after.PatientIdentityRemoved == "YES"
        if RESPONSIBLE_ROLE in before:  # the 249/249: the role outlived the person
            assert RESPONSIBLE_PERSON not in after and RESPONSIBLE_ROLE not in after


def test_deidentified_files_of_every_kind_pass_dciodvfy_without_errors(
    every_kind: dict[Kind, tuple[Path, Path]],
) -> None:
    verdicts = {kind: (dciodvfy(src), dciodvfy(out)) for kind, (src, out) in every_kind.items()}
    assert {k: sorted(before.errors) for k, (before, _) in verdicts.items() if before.errors} == {}
    assert {k: sorted(after.errors) for k, (_, after) in verdicts.items() if after.errors} == {}


@pytest.mark.slow
@pytest.mark.parametrize("options", list(_OPTION_SETS.values()), ids=list(_OPTION_SETS))
def test_a_deidentified_corpus_passes_dciodvfy_under_each_option_set(
    tmp_path: Path, small_corpus: tuple[Path, Path, int], options: list[str] | None
) -> None:
    """Two patients, every modality (tens of files), de-identified under three option sets."""
    from clinflow.deid.pseudonym import Pseudonymizer

    from .helpers import KEY_A

    engine = DicomDeidentifier(compile_policy(options=options), Pseudonymizer(KEY_A))
    folder, _, count = small_corpus
    failing = {}
    for path in sorted(folder.rglob("*.dcm")):
        target = tmp_path / path.relative_to(folder)
        engine.deidentify_file(path, target, path.name)
        verdict = dciodvfy(target)
        if verdict.errors:
            failing[path.relative_to(folder).as_posix()] = sorted(verdict.errors)
    assert count > 40
    assert failing == {}


def test_combined_codes_resolve_by_the_type_in_the_files_iod() -> None:
    """X/Z/D is X where the IOD does not need the attribute, D for Type 1, Z for Type 2."""
    policy = compile_policy()
    assert policy.actions[DEVICE_SERIAL] is ActionCode.REMOVE  # Type 3 in General Equipment
    assert policy.iod_actions[SEGMENTATION][DEVICE_SERIAL] is ActionCode.DUMMY
    assert policy.iod_actions[BASIC_TEXT_SR][0x00081111] is ActionCode.EMPTY
    assert DEVICE_SERIAL not in policy.iod_actions.get(CT_IMAGE, {})
    assert {d.name for d in policy.dependents} >= {"ResponsiblePersonRole"}


def _deid(engine: DicomDeidentifier, ds: Dataset) -> Dataset:
    data, _ = engine.deidentify_bytes(to_bytes(ds), "test.dcm")
    return dcmread(BytesIO(data))


def test_type_1_device_serial_gets_a_dummy_in_a_segmentation_and_goes_in_a_ct(
    engine: DicomDeidentifier,
) -> None:
    seg = make_dataset(sop_class=SEGMENTATION, modality="SEG")
    seg.DeviceSerialNumber = "SN-PHI-4417"
    ct = make_dataset()
    ct.DeviceSerialNumber = "SN-PHI-4417"
    seg_out, ct_out = _deid(engine, seg), _deid(engine, ct)
    assert seg_out.DeviceSerialNumber not in ("", None, "SN-PHI-4417")
    assert "DeviceSerialNumber" not in ct_out


def test_an_overlay_whose_data_the_profile_removes_is_removed_whole(
    engine: DicomDeidentifier,
) -> None:
    ds = make_dataset()
    ds.add_new(0x60000010, "US", 16)  # OverlayRows
    ds.add_new(0x60000011, "US", 16)  # OverlayColumns
    ds.add_new(0x60000040, "CS", "G")  # OverlayType
    ds.add_new(0x60000050, "SS", [1, 1])  # OverlayOrigin
    ds.add_new(0x60000100, "US", 1)  # OverlayBitsAllocated
    ds.add_new(0x60000102, "US", 0)  # OverlayBitPosition
    ds.add_new(0x60003000, "OW", bytes(32))  # OverlayData: X (C under clean_graphics)
    out = _deid(engine, ds)
    assert [e for e in out if e.tag >> 16 == 0x6000] == []
    assert out.Rows == 16  # the image itself is untouched


def test_a_responsible_person_role_without_a_person_in_the_input_is_removed_too(
    engine: DicomDeidentifier,
) -> None:
    """The rule is the condition, not the profile's action: an input already missing the
    person loses the orphan role (it was an error in the input)."""
    ds = make_dataset()
    ds.ResponsiblePersonRole = "PARENT"
    assert "ResponsiblePersonRole" not in _deid(engine, ds)


_OPTIONAL = {
    "ResponsiblePerson": "Okafor^Ada",
    "ResponsiblePersonRole": "PARENT",
    "PatientSex": "F",
    "PatientBirthDate": "19470312",
    "DeviceSerialNumber": "SN-1",
    "OperatorsName": "Tech^Ann",
    "PatientOrientation": ["L", "F"],
    "AcquisitionNumber": "1",
}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    present=st.sets(st.sampled_from(sorted(_OPTIONAL))),
    sop_class=st.sampled_from([CT_IMAGE, SEGMENTATION, BASIC_TEXT_SR]),
)
def test_deidentification_adds_no_iod_finding_to_any_input(
    engine: DicomDeidentifier, present: set[str], sop_class: str
) -> None:
    ds = make_dataset(sop_class=sop_class)
    for keyword in present:
        setattr(ds, keyword, _OPTIONAL[keyword])
    before = _findings(ds)
    after = _findings(_deid(engine, ds))
    assert after <= before


def _shipped_files() -> list[Path]:
    return sorted(p for p in TEST_FILES.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_pydicoms_files_gain_no_iod_finding(engine: DicomDeidentifier) -> None:
    checked, gained = 0, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd originals
        for path in _shipped_files():
            try:
                data, _ = engine.deidentify_bytes(path, path.name)
                before = _findings(dcmread(path, force=True))
            except InputRejected:
                continue
            after = _findings(dcmread(BytesIO(data), force=True))
            checked += 1
            if after - before:
                gained[path.name] = sorted(after - before)
    assert checked > 140
    assert gained == {}




@pytest.mark.slow
@pytest.mark.parametrize("options", list(_OPTION_SETS.values()), ids=list(_OPTION_SETS))
def test_pydicoms_files_gain_no_dciodvfy_error(tmp_path: Path, options: list[str] | None) -> None:
    """Every shipped file pydicom can de-identify: the output's dciodvfy errors are among its
    input's (UIDs normalized). Inputs dciodvfy cannot read through (it stops at an illegal
    element the de-identifier removes, or at deflated data) are compared only when readable."""
    from clinflow.deid.pseudonym import Pseudonymizer

    from .helpers import KEY_A

    engine = DicomDeidentifier(compile_policy(options=options), Pseudonymizer(KEY_A))
    gained, compared, unreadable = {}, 0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in _shipped_files():
            target = tmp_path / path.relative_to(TEST_FILES)
            try:
                engine.deidentify_file(path, target, path.name)
            except InputRejected:
                continue
            before, after = dciodvfy(path), dciodvfy(target)
            if not before.readable:
                unreadable += 1
                continue
            compared += 1
            if after.errors - before.errors:
                gained[path.name] = sorted(after.errors - before.errors)
    assert compared > 130
    assert unreadable < 10
    assert gained == {}


def test_an_iod_table_error_names_the_file_and_the_attribute(tmp_path: Path) -> None:
    bad = tmp_path / "iod.yaml"
    bad.write_text(
        "source: test\n"
        "modules:\n"
        "  Patient:\n"
        "    section: C.7.1.1\n"
        "    attributes:\n"
        "      - {tag: '(0010,0010)', name: PatientID, type: '2'}\n"
        "iods: {}\n"
    )
    load_iod_table.cache_clear()
    with pytest.raises(PolicyError, match=r"iod\.yaml:6.*PatientID.*PatientName"):
        load_iod_table(bad)
