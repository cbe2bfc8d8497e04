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

from clinflow.deid.dicom_engine import DicomDeidentifier
from clinflow.deid.dicom_textclean import REDACTED, _generic, _prepared, known_tokens
from clinflow.deid.dicom_writer import write_file

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
