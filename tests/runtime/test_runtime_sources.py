"""Sources for ``clinflow run``: the generator paced open loop by clinical time, and the drop
folder watcher (complete files only, ndjson lines, DICOM by preamble, restarts, odd names)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinflow.envelope import SourceKind, TimedInput, content_message_id
from clinflow.runtime.sources import (
    FolderSource,
    GeneratorSource,
    is_in_progress,
    location_of,
)
from clinflow.synthetic.manifest import read_manifest
from clinflow.synthetic.scenario import Scenario
from clinflow.synthetic.stream import StreamOptions, generate_stream

# One hour of vitals every 30 minutes for two patients, no imaging: a short stream.
TINY = Scenario(
    vitals_hours=1, vitals_interval_minutes=30, notes_per_patient=1, imaging_fraction=0.0
)
OPTIONS = StreamOptions(patients=2, seed=4, scenario=TINY)


class FakeClock:
    """``clock``/``sleep`` for a source: sleeping advances the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


async def collect(source: GeneratorSource | FolderSource, on_item: Callable[[TimedInput], None]
                  | None = None) -> list[TimedInput]:  # fmt: skip
    items = []
    async for item in source:
        items.append(item)
        if on_item is not None:
            on_item(item)
    return items


# ---------------------------------------------------------------------------- generator


def test_generator_source_yields_the_stream_at_its_schedule() -> None:
    fake = FakeClock()
    speed = 60.0
    arrivals: list[tuple[float, float]] = []
    source = GeneratorSource(OPTIONS, speed, clock=fake.clock, sleep=fake.sleep)
    items = asyncio.run(collect(source, lambda item: arrivals.append((item.at_s, fake.now))))
    expected = list(generate_stream(replace(OPTIONS, speed=speed)))
    assert [(i.at_s, i.envelope.message_id) for i in items] == [
        (i.at_s, i.envelope.message_id) for i in expected
    ]
    assert all(now == pytest.approx(at) for at, now in arrivals)  # never early, never late
    assert fake.now == pytest.approx(items[-1].at_s)
    assert items[-1].at_s > 60  # an hour of charting at x60 takes a minute or more


def test_a_slow_consumer_does_not_shift_the_schedule() -> None:
    """Open loop: after a consumer stall the source catches up instead of sliding."""
    schedule = [i.at_s for i in generate_stream(replace(OPTIONS, speed=60.0))]
    stall = (schedule[-1] - schedule[0]) / 2
    assert stall > 5
    fake = FakeClock()
    source = GeneratorSource(OPTIONS, 60.0, clock=fake.clock, sleep=fake.sleep)
    arrivals: list[tuple[float, float]] = []

    def slow_first(item: TimedInput) -> None:
        if not arrivals:
            fake.now += stall  # the consumer takes a while over the first item
        arrivals.append((item.at_s, fake.now))

    items = asyncio.run(collect(source, slow_first))
    assert [i.at_s for i in items] == schedule
    caught_up = schedule[0] + stall
    for at, now in arrivals[1:]:
        assert now == pytest.approx(max(at, caught_up))  # late ones at once, then on time
    assert fake.now == pytest.approx(schedule[-1])  # not schedule[-1] + stall


def test_speed_override_scales_the_schedule_and_flat_out_is_zero() -> None:
    slow_clock, fast_clock = FakeClock(), FakeClock()
    slow = asyncio.run(collect(GeneratorSource(OPTIONS, 30.0, clock=slow_clock.clock,
                                               sleep=slow_clock.sleep)))  # fmt: skip
    fast = asyncio.run(collect(GeneratorSource(replace(OPTIONS, speed=30.0), 120.0,
                                               clock=fast_clock.clock, sleep=fast_clock.sleep)))
    assert [i.at_s / 4 for i in slow] == pytest.approx([i.at_s for i in fast])
    assert fast_clock.now == pytest.approx(slow_clock.now / 4)
    flat = asyncio.run(collect(GeneratorSource(OPTIONS)))
    assert {i.at_s for i in flat} == {0.0}


def test_generator_source_paces_with_real_sleeps() -> None:
    speed = 3600 / 0.4  # the hour of vitals in 0.4 s
    started = time.monotonic()
    arrivals: list[tuple[float, float]] = []
    def arrived(item: TimedInput) -> None:
        arrivals.append((item.at_s, time.monotonic() - started))

    asyncio.run(collect(GeneratorSource(OPTIONS, speed), arrived))
    assert all(elapsed >= at - 0.01 for at, elapsed in arrivals)
    assert arrivals[-1][1] == pytest.approx(arrivals[-1][0], abs=0.25)


def test_ingest_time_is_the_arrival_and_envelopes_are_raw() -> None:
    before = datetime.now(UTC)
    items = asyncio.run(collect(GeneratorSource(OPTIONS)))
    for item in items:
        envelope = item.envelope
        assert envelope.ingest_time >= before
        assert envelope.patient == "" and envelope.message_id == content_message_id(
            envelope.payload
        )


def test_cancelling_stops_cleanly_and_closes_the_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "stream-manifest.ndjson"
    fake = FakeClock()

    async def sleep(seconds: float) -> None:
        if seconds > 0 and fake.sleeps:  # the first wait passes, the next never ends
            await asyncio.Event().wait()
        await fake.sleep(seconds)

    source = GeneratorSource(replace(OPTIONS, manifest=manifest), 60.0, clock=fake.clock,
                             sleep=sleep)  # fmt: skip
    received: list[TimedInput] = []

    async def main() -> None:
        task = asyncio.create_task(collect(source, received.append))
        while not received:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert received and {i.at_s for i in received} == {received[0].at_s}  # then it waited
    entries = list(read_manifest(manifest))  # closed, so flushed: the yielded items' PHI
    assert {e.patient for e in entries}


# ---------------------------------------------------------------------------- folder

DICOM_PREAMBLE = b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\x00\x00\x00\x00"


def _old(path: Path) -> None:
    """Make a file look finished long ago (a complete export)."""
    stamp = time.time() - 3600
    os.utime(path, (stamp, stamp))


def _drop_folder(root: Path) -> dict[str, bytes]:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
    consent = {"resourceType": "Consent", "id": "c1", "status": "active"}
    files = {
        "export/bundle.json": orjson.dumps(bundle),
        "export/consent.json": orjson.dumps(consent),
        "export/Observation.ndjson": b'{"resourceType":"Observation","id":"o1"}\n\n'
        b'{"resourceType":"Consent","id":"c2"}\n{not json\n',
        "pacs/st1/IM0001": DICOM_PREAMBLE + b"rest",
        "pacs/st1/IM0002.dcm": b"no preamble but named .dcm",
        "pacs/DICOMDIR": DICOM_PREAMBLE,
        "export/broken.json": b"{",
        "export/README.txt": b"not data",
        "export/late.json.part": b"{}",
        "export/.hidden.json": b"{}",
        ".cache/x.json": b"{}",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        _old(path)
    odd = os.path.join(os.fsencode(root / "export"), b"caf\xe9-\xff.json")
    with open(odd, "wb") as handle:
        handle.write(b'{"resourceType":"Patient","id":"p"}')
    os.utime(odd, (time.time() - 3600,) * 2)
    return files


def _by_location(items: list[TimedInput]) -> dict[str, tuple[SourceKind, str, bytes]]:
    return {
        i.envelope.attributes["path"]: (i.envelope.source, i.envelope.attributes["format"],
                                        i.envelope.payload)
        for i in items
    }  # fmt: skip


def test_folder_once_yields_each_complete_input(tmp_path: Path) -> None:
    files = _drop_folder(tmp_path / "drop")
    source = FolderSource(tmp_path / "drop", poll_s=0.05, once=True)
    items = asyncio.run(collect(source))
    found = _by_location(items)
    odd = "hex:" + b"export/caf\xe9-\xff.json".hex()
    assert set(found) == {
        "export/bundle.json",
        "export/consent.json",
        "export/Observation.ndjson:1",
        "export/Observation.ndjson:3",
        "export/Observation.ndjson:4",
        "pacs/st1/IM0001",
        "pacs/st1/IM0002.dcm",
        "export/broken.json",  # bad JSON still goes in: ingest quarantines it, visibly
        odd,
    }
    assert found["export/bundle.json"][:2] == (SourceKind.FHIR, "fhir-json")
    assert found["export/consent.json"][0] is SourceKind.CONSENT
    assert found["export/Observation.ndjson:3"][0] is SourceKind.CONSENT
    assert found["export/Observation.ndjson:4"][2] == b"{not json"
    assert found["pacs/st1/IM0001"] == (SourceKind.DICOM, "dicom", files["pacs/st1/IM0001"])
    assert found[odd][2] == b'{"resourceType":"Patient","id":"p"}'
    for item in items:
        assert item.envelope.message_id == content_message_id(item.envelope.payload)
        assert item.envelope.patient == ""
    assert "export/README.txt: neither FHIR JSON nor DICOM" in source.stats.skipped


def test_restart_with_state_does_not_yield_again_but_a_rewritten_file_is(tmp_path: Path) -> None:
    _drop_folder(tmp_path / "drop")
    state = tmp_path / "data" / "folder.seen"
    first = asyncio.run(collect(FolderSource(tmp_path / "drop", 0.05, True, state_file=state)))
    again = asyncio.run(collect(FolderSource(tmp_path / "drop", 0.05, True, state_file=state)))
    assert len(first) == 9 and again == []
    (tmp_path / "drop" / "export" / "bundle.json").write_bytes(b'{"resourceType":"Bundle"}')
    _old(tmp_path / "drop" / "export" / "bundle.json")
    third = asyncio.run(collect(FolderSource(tmp_path / "drop", 0.05, True, state_file=state)))
    assert [i.envelope.attributes["path"] for i in third] == ["export/bundle.json"]
    without_state = asyncio.run(collect(FolderSource(tmp_path / "drop", 0.05, True)))
    assert len(without_state) == 9


def _scripted(
    actions: list[Callable[[], None]], fake: FakeClock
) -> Callable[[float], Awaitable[None]]:
    """A ``sleep`` that runs the next scripted action on each poll interval."""

    async def sleep(seconds: float) -> None:
        if actions:
            actions.pop(0)()
        await fake.sleep(seconds)

    return sleep


def test_a_file_still_being_written_is_taken_only_when_it_stops_changing(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    growing = drop / "study.dcm"
    growing.write_bytes(DICOM_PREAMBLE)  # fresh: modified now, poll_s is long

    def grow() -> None:
        with growing.open("ab") as handle:
            handle.write(b"more pixels")

    fake = FakeClock()
    polls: list[int] = []
    source = FolderSource(drop, poll_s=30.0, clock=fake.clock,
                          sleep=_scripted([grow, grow, lambda: None], fake))  # fmt: skip

    async def main() -> list[TimedInput]:
        items: list[TimedInput] = []
        async for item in source:
            items.append(item)
            polls.append(len(fake.sleeps))
            break
        return items

    (item,) = asyncio.run(main())
    assert item.envelope.payload == DICOM_PREAMBLE + b"more pixels" * 2  # the whole file
    assert polls == [3]  # seen growing twice, then unchanged for one poll


def test_once_skips_a_file_that_keeps_changing(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    growing = drop / "busy.json"
    growing.write_bytes(b"{")
    fake = FakeClock()
    source = FolderSource(drop, poll_s=30.0, once=True, clock=fake.clock,
                          sleep=_scripted([lambda: growing.write_bytes(b"{}")], fake))  # fmt: skip
    assert asyncio.run(collect(source)) == []


def test_watcher_picks_up_files_renamed_into_place(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    source = FolderSource(drop, poll_s=0.05)

    async def main() -> TimedInput:
        async def writer() -> None:
            await asyncio.sleep(0.1)
            part = drop / "Patient.ndjson.part"
            part.write_bytes(b'{"resourceType":"Patient","id":"p9"}\n')
            await asyncio.sleep(0.1)  # the watcher polls the .part file: ignored
            _old(part)
            part.rename(drop / "Patient.ndjson")

        task = asyncio.create_task(writer())
        async for item in source:
            await task
            return item
        raise AssertionError("watcher ended")

    item = asyncio.run(asyncio.wait_for(main(), timeout=10))
    assert item.envelope.attributes["path"] == "Patient.ndjson:1"
    assert item.at_s > 0.1


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_locations_are_lossless_and_never_raise(first: bytes, second: bytes) -> None:
    assert (location_of(first) == location_of(second)) == (first == second)
    name = location_of(first)
    if name.startswith("hex:"):
        assert bytes.fromhex(name[4:]) == first
    else:
        assert name.encode("utf-8") == first


@pytest.mark.parametrize(
    ("name", "in_progress"),
    [(b"a.dcm", False), (b"a.dcm.part", True), (b".a.dcm", True), (b"A.TMP", True),
     (b"export.ndjson~", True), (b"x.json", False), (b"x.crdownload", True)],
)  # fmt: skip
def test_in_progress_names(name: bytes, in_progress: bool) -> None:
    assert is_in_progress(name) is in_progress


def test_symlink_loops_in_the_drop_folder_are_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "ok.json").write_bytes(b'{"resourceType":"Patient","id":"p"}')
    _old(drop / "ok.json")
    (drop / "loop.json").symlink_to(drop / "loop.json")
    (drop / "back").symlink_to(drop)
    source = FolderSource(drop, poll_s=0.05, once=True)
    with caplog.at_level("WARNING", logger="clinflow.sources"):
        items = asyncio.run(collect(source))
    assert [i.envelope.attributes["path"] for i in items] == ["ok.json"]
    assert source.stats.skipped == [
        "back: symbolic link to a folder (not followed)",
        "loop.json: symbolic link loop (not followed)",
    ]  # once each, though the folder was polled twice
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [f"input folder: {line}" for line in source.stats.skipped]
