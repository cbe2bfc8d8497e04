"""The speed paths must not change a byte: fast writer vs pydicom, prefiltered text cleaning."""

from __future__ import annotations

import re
import warnings
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.deid.dicom.profile import compile_policy
from clinflow.deid.dicom.textclean import REDACTED, _generic, _prepared, known_tokens
from clinflow.deid.dicom.writer import write_file
from clinflow.deid.pseudonym import Pseudonymizer

from .helpers import KEY_A, make_dataset, nest, to_bytes

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"


def _both_ways(path: Path, engine: DicomDeidentifier | None) -> tuple[object, object]:
    outputs: list[object] = []
    for fast in (False, True):
        try:
            ds = pydicom.dcmread(path)
            if engine is not None:
                engine.deidentify_dataset(ds, path.name)
            buffer = BytesIO()
            if fast:
                write_file(ds, buffer)
            else:
                ds.save_as(buffer, enforce_file_format=False)
            outputs.append(buffer.getvalue())
        except Exception as exc:  # the same refusal either way is what matters
            outputs.append(type(exc).__name__)
    return outputs[0], outputs[1]


@pytest.mark.parametrize("deidentify", [False, True], ids=["as-read", "de-identified"])
def test_fast_writer_matches_pydicom_on_its_own_test_files(
    engine: DicomDeidentifier, deidentify: bool
) -> None:
    files = sorted(p for p in TEST_FILES.rglob("*") if p.is_file())
    assert len(files) > 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        differing = [
            p.name for p in files if (pair := _both_ways(p, engine if deidentify else None))
            and pair[0] != pair[1]
        ]
    assert differing == []


def test_fast_writer_matches_pydicom_on_the_generated_corpus(
    small_corpus: tuple[Path, Path, int], engine: DicomDeidentifier
) -> None:
    source, _, _ = small_corpus
    for path in sorted(source.rglob("*.dcm")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain, fast = _both_ways(path, engine)
        assert isinstance(plain, bytes) and plain == fast, path.name


def _full_alternation(known: frozenset[str]) -> object:
    tokens = sorted(known_tokens(known), key=len, reverse=True)
    if not tokens:
        return _generic
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(t) for t in tokens) + r")(?!\w)", re.IGNORECASE
    )
    return lambda text: _generic(pattern.sub(REDACTED, text))


# Letters whose IGNORECASE classes are unusual (dotless/dotted i, long s, Kelvin, micro...).
_TRICKY = "abcikKsSIİıſKµμΜßéÉöÖ ^-,.0123"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    known=st.frozensets(st.text(_TRICKY, min_size=1, max_size=8), min_size=1, max_size=5),
    text=st.text(_TRICKY, max_size=30),
    pick=st.integers(min_value=0, max_value=10),
)
def test_prefiltered_cleaner_equals_the_full_alternation(
    known: frozenset[str], text: str, pick: int
) -> None:
    identifier = sorted(known)[pick % len(known)]
    text = f"{text[:5]}{identifier.swapcase()} {text[5:]}"  # a planted, re-cased identifier
    full = _full_alternation(known)
    assert callable(full)
    assert _prepared(known)(text) == full(text)


_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian]
# What may sit inside a nested sequence: quiet codes, a named attribute, a date, free text,
# a private element: the raw scan must tell quiet sequences from the rest.
_INNER = {
    "code": (0x00080100, "SH", "T-D3000"),
    "meaning": (0x00080104, "LO", "Chest"),
    "uid": (0x00081155, "UI", "1.2.3.99"),
    "date": (0x00080023, "DA", "20200101"),
    "text": (0x0040A160, "UT", "seen by Maren Lindqvist"),
    "private": (0x00091010, "LO", "MRN-4417729"),
}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    syntax=st.sampled_from(_SYNTAXES),
    depth=st.integers(min_value=1, max_value=5),
    kinds=st.lists(st.sampled_from(sorted(_INNER)), max_size=3),
    cleaned=st.booleans(),
)
def test_skipping_quiet_sequences_changes_nothing(
    syntax: UID, depth: int, kinds: list[str], cleaned: bool
) -> None:
    ds = make_dataset(syntax=syntax, rows=4)
    inner = Dataset()
    for kind in kinds:
        tag, vr, value = _INNER[kind]
        inner.add_new(tag, vr, value)
    if cleaned:  # ContentSequence is cleaned: text and dates inside it are in scope
        item = Dataset()
        nest(item, depth - 1, inner)
        ds.ContentSequence = Sequence([item])
    else:
        nest(ds, depth, inner)
    data = to_bytes(ds)
    engine = DicomDeidentifier(compile_policy(), Pseudonymizer(KEY_A))
    fast, fast_result = engine.deidentify_bytes(data, "x.dcm")
    engine._quiet_depth = lambda *args: None  # type: ignore[method-assign]
    slow, slow_result = engine.deidentify_bytes(data, "x.dcm")
    assert fast == slow
    assert fast_result.actions == slow_result.actions
    assert fast_result.max_depth == slow_result.max_depth
    assert fast_result.changes == slow_result.changes
