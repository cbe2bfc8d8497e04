"""Invariants on random datasets: no D/X/Z-action value survives, at any nesting depth."""

from __future__ import annotations

from io import BytesIO

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.deid.dicom.profile import ActionCode, compile_policy
from clinflow.deid.pseudonym import Pseudonymizer

from .helpers import KEY_A, make_dataset, to_bytes

POLICY = compile_policy(options=[])  # the basic profile alone
ENGINE = DicomDeidentifier(POLICY, Pseudonymizer(KEY_A))
# Text-valued attributes the basic profile removes, empties or dummies.
_TEXT = {"LO": 64, "SH": 16, "PN": 64, "LT": 200, "ST": 200}
TARGETS = sorted(
    (tag, vr)
    for tag, code in POLICY.actions.items()
    if code in (ActionCode.REMOVE, ActionCode.EMPTY, ActionCode.DUMMY)
    and (vr := _vr(tag)) in _TEXT
) if (_vr := __import__("pydicom.datadict", fromlist=["dictionary_VR"]).dictionary_VR) else []
SECRET = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=8, max_size=12).map(
    lambda s: "Q" + s
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.sampled_from(TARGETS), min_size=1, max_size=8, unique=True),
    secrets=st.lists(SECRET, min_size=8, max_size=8, unique=True),
    depth=st.integers(min_value=0, max_value=7),
)
def test_no_removed_value_survives_at_any_depth(
    picks: list[tuple[int, str]], secrets: list[str], depth: int
) -> None:
    ds = make_dataset(rows=4)
    node = ds
    for _ in range(depth):  # a generic sequence the profile does not name
        item = Dataset()
        node.ReferencedSeriesSequence = Sequence([item])
        node = item
    planted = []
    for (tag, vr), secret in zip(picks, secrets, strict=False):
        node.add_new(tag, vr, secret[: _TEXT[vr]])
        planted.append(secret[: _TEXT[vr]])
    out, _ = ENGINE.deidentify_bytes(to_bytes(ds), "random.dcm")
    for secret in planted:
        assert secret.encode() not in out
    dcmread(BytesIO(out))  # still readable


@settings(max_examples=40, deadline=None)
@given(uid_suffix=st.integers(min_value=1, max_value=10**12), depth=st.integers(0, 6))
def test_uid_references_follow_their_targets_at_any_depth(uid_suffix: int, depth: int) -> None:
    sop = f"1.2.3.4.{uid_suffix}"
    ds = make_dataset(sop_uid=sop, rows=4)
    node = ds
    for _ in range(depth):
        item = Dataset()
        node.ReferencedSeriesSequence = Sequence([item])
        node = item
    node.ReferencedSOPInstanceUID = sop
    out = dcmread(BytesIO(ENGINE.deidentify_bytes(to_bytes(ds), "u.dcm")[0]))
    node = out
    for _ in range(depth):
        node = node.ReferencedSeriesSequence[0]
    assert node.ReferencedSOPInstanceUID == out.SOPInstanceUID != sop
