"""Recordings (``clinflow record``): versioned, length-prefixed envelopes with their timing
that replay byte for byte."""

from __future__ import annotations

import hashlib
from itertools import islice
from pathlib import Path

import pytest

from clinflow.config import scenarios_dir
from clinflow.runtime.recording import (
    MAGIC,
    RecordingError,
    copy_recording,
    read_header,
    read_recording,
    write_recording,
)
from clinflow.runtime.replay_load import (
    FaultInjector,
    Patients,
    ScheduleState,
    open_source,
    schedule,
)
from clinflow.runtime.replay_spec import FaultPlan, parse_rate
from clinflow.synthetic.scenario import load_scenario
from clinflow.synthetic.stream import StreamOptions, generate_stream
from helpers.cli import run_cli


def _stream(limit: int = 60) -> list:  # type: ignore[type-arg]
    options = StreamOptions(patients=2, seed=5, speed=1.0,
                            scenario=load_scenario(scenarios_dir() / "icu-ward.yaml"))  # fmt: skip
    return list(islice(generate_stream(options), limit))


def _fingerprint(items: list) -> list[tuple[str, str, float]]:  # type: ignore[type-arg]
    return [(i.envelope.message_id, hashlib.sha256(i.envelope.payload).hexdigest(), i.at_s)
            for i in items]  # fmt: skip


def test_record_then_read_gives_the_same_inputs_in_the_same_order(tmp_path: Path) -> None:
    items = _stream()
    path = tmp_path / "ward.cfrec"
    assert write_recording(path, {"source": "test"}, items) == len(items)
    assert path.read_bytes().startswith(MAGIC)
    assert read_header(path)["version"] == 1
    back = list(read_recording(path))
    assert _fingerprint(back) == _fingerprint(items)
    assert [b.envelope.attributes for b in back] == [i.envelope.attributes for i in items]


def test_recording_twice_and_re_recording_are_byte_identical(tmp_path: Path) -> None:
    first, second, copy = tmp_path / "a.cfrec", tmp_path / "b.cfrec", tmp_path / "c.cfrec"
    write_recording(first, {"source": "test"}, _stream())
    write_recording(second, {"source": "test"}, _stream())  # a new stream of the same seed
    copy_recording(first, copy)
    assert first.read_bytes() == second.read_bytes() == copy.read_bytes()


def test_a_replay_schedule_of_a_recording_keeps_ids_and_payloads(tmp_path: Path) -> None:
    items = _stream()
    path = tmp_path / "ward.cfrec"
    write_recording(path, {}, items)
    source = open_source(str(path), patients=1, seed=1, manifest=None)
    assert source.kind == "recording"
    injector = FaultInjector(FaultPlan(), 1, Patients(lambda mrn: "PT-" + mrn))
    scheduled = list(schedule(source.items(), parse_rate("x3600"), injector, duration_s=None,
                              state=ScheduleState()))  # fmt: skip
    assert [(s.envelope.message_id, hashlib.sha256(s.envelope.payload).hexdigest())
            for s in scheduled] == [f[:2] for f in _fingerprint(items)]  # fmt: skip
    assert [s.at_s for s in scheduled] == pytest.approx([i.at_s / 3600 for i in items])


@pytest.mark.parametrize(
    ("mangle", "named"),
    [(lambda b: b"NOT-A-RECORDING" + b, "not a clinflow recording"),
     (lambda b: b[:-7], "truncated at byte"),
     (lambda b: MAGIC + b"\x00\x09" + b[len(MAGIC) + 2:], "recording version 9")],
)  # fmt: skip
def test_a_damaged_recording_is_named_with_its_offset(tmp_path: Path, mangle, named) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.cfrec"
    write_recording(good, {}, _stream(5))
    bad = tmp_path / "bad.cfrec"
    bad.write_bytes(mangle(good.read_bytes()))
    with pytest.raises(RecordingError, match=named):
        list(read_recording(bad))


def test_clinflow_record_writes_a_recording_and_its_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rec" / "ward.cfrec"
    code, stdout, stderr = run_cli(capsys, "record", "icu-ward", "--patients", "1", "--seed",
                                   "3", "--duration", "1h", "--out", str(out))  # fmt: skip
    assert code == 0, stderr
    items = list(read_recording(out))
    assert items and all(i.at_s < 3600 for i in items)
    assert (tmp_path / "rec" / "ward.cfrec.manifest.ndjson").stat().st_size > 0
    again = tmp_path / "again.cfrec"
    assert run_cli(capsys, "record", str(out), "--out", str(again))[0] == 0
    assert again.read_bytes() == out.read_bytes()
