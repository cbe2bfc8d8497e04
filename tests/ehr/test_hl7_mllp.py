"""The MLLP listener over loopback: AA only for durably spooled messages, duplicates answered
AA and processed once, malformed ones NAKed (AE/AR) with a reason and quarantined, nothing
lost across a restart; a burst of 10,000 ORU^R01 in three vendor dialects (slow)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import orjson
import pytest

from clinflow.ehr.hl7.mllp import END, START, FrameReader, MllpSource, parse_address
from clinflow.ehr.hl7.parser import parse
from clinflow.envelope import Envelope
from clinflow.errors import ConfigError
from clinflow.quarantine import Quarantine
from clinflow.runtime.rejects import quarantine_reject
from helpers.fakes import RecordingAuditSink

from .helpers import msa, oru_messages

VENDORS = ("standard", "northwind-monitors", "meridian-ehr")


def _unique(text: str, number: int) -> str:
    """A distinct message from a template: its own MSH-10 (unless it has none) and OBR-3."""
    msh, rest = text.split("\r", 1)
    fields = msh.split("|")
    if fields[9]:
        fields[9] = f"B{number:07d}"
    rest = rest.replace("\rOBR|1||", f"\rOBR|1||b{number}-", 1)
    return "|".join(fields) + "\r" + rest


def _set_field(text: str, segment: str, number: int, value: str) -> str:
    """``text`` with field ``number`` of its first ``segment`` set to ``value``."""
    lines = text.split("\r")
    for index, line in enumerate(lines):
        if line.startswith(segment + "|"):
            fields = line.split("|")
            fields += [""] * (number + 1 - len(fields))
            fields[number] = value
            lines[index] = "|".join(fields)
            break
    return "\r".join(lines)


# (name, how to break a valid message, expected MSA code)
MALFORMED: list[tuple[str, Callable[[str], str], str]] = [
    ("non-numeric value", lambda t: _set_field(t, "OBX", 5, "eighty"), "AE"),
    ("no PID", lambda t: "\r".join(s for s in t.split("\r") if not s.startswith("PID")), "AE"),
    ("unsupported type", lambda t: t.replace("|ORU^R01^", "|ORU^R30^", 1), "AR"),
    ("bad delimiters", lambda t: "MSH|^^\\&" + t[8:], "AR"),
    ("not HL7 at all", lambda t: "GET / HTTP/1.1\r\nHost: x\r\n", "AR"),
    ("bad observation time", lambda t: _set_field(t, "OBX", 14, "20261301"), "AE"),
    ("unterminated escape", lambda t: t.replace("\rPID|1||", "\rPID|1||\\X4", 1), "AE"),
    ("no MRN", lambda t: t.replace("^MR~", "^XX~", 1).replace("^MRN~", "^XX~", 1), "AE"),
]


@dataclass
class Burst:
    frames: list[bytes]
    expected: list[str]  # per frame: "AA" / "AE" / "AR"
    valid_keys: int  # distinct valid messages
    malformed: int


def make_burst(total: int, seed: int, patients: int) -> Burst:
    rng = random.Random(seed)
    templates = [t for vendor in VENDORS for t in oru_messages(patients, vendor)]
    frames: list[bytes] = []
    expected: list[str] = []
    sent: list[bytes] = []
    malformed = 0
    valid = 0
    while len(frames) < total:
        roll = rng.random()
        if sent and roll < 0.03:  # a resend of an earlier message, byte for byte
            frames.append(rng.choice(sent))
            expected.append("AA")
            continue
        text = _unique(rng.choice(templates), len(frames))
        if roll > 0.97:
            _, breaker, code = MALFORMED[malformed % len(MALFORMED)]
            broken = breaker(text)
            assert broken != text
            frames.append(broken.encode())
            expected.append(code)
            malformed += 1
            continue
        frames.append(text.encode())
        sent.append(frames[-1])
        expected.append("AA")
        valid += 1
    return Burst(frames, expected, valid, malformed)


async def _send(host: str, port: int, frames: Iterable[bytes]) -> list[bytes]:
    """Original mode: one message, wait for its answer, next."""
    reader, writer = await asyncio.open_connection(host, port)
    answers = []
    try:
        for frame in frames:
            writer.write(START + frame + END)
            await writer.drain()
            answers.append(await asyncio.wait_for(reader.readuntil(END), 30))
    finally:
        writer.close()
        await writer.wait_closed()
    return [a.removeprefix(START).removesuffix(END) for a in answers]


async def _run(
    source: MllpSource, frames: list[bytes], connections: int
) -> tuple[list[bytes], list[Envelope]]:
    received: list[Envelope] = []

    async def consume() -> None:
        async for timed in source:
            received.append(timed.envelope)

    consumer = asyncio.ensure_future(consume())
    await asyncio.wait_for(source.ready.wait(), 10)
    assert source.address is not None
    host, port = source.address
    shares = [frames[i::connections] for i in range(connections)]
    results = await asyncio.gather(*(_send(host, port, share) for share in shares))
    for _ in range(200):  # the consumer drains what was acknowledged
        if len(received) >= source.stats.accepted + source.stats.resumed:
            break
        await asyncio.sleep(0.05)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    answers: list[bytes] = [b""] * len(frames)
    for index, share in enumerate(results):
        answers[index::connections] = share
    return answers, received


def _source(tmp_path: Path, audit: RecordingAuditSink, **kwargs: object) -> MllpSource:
    quarantine = Quarantine(tmp_path / "data" / "quarantine.db")
    return MllpSource(
        "127.0.0.1", 0, tmp_path / "spool", reject=quarantine_reject(quarantine, audit), **kwargs
    )  # type: ignore[arg-type]


def _check(burst: Burst, answers: list[bytes], received: list[Envelope], tmp_path: Path,
           audit: RecordingAuditSink) -> None:  # fmt: skip
    codes = [msa(a) for a in answers]
    for (code, _, reason), expected in zip(codes, burst.expected, strict=True):
        assert code == expected
        assert bool(reason) == (expected != "AA")  # a NAK says why
    ids = [e.message_id for e in received]
    assert len(ids) == len(set(ids)) == burst.valid_keys  # each valid message once, none lost
    for envelope in received[:50]:
        bundle = orjson.loads(envelope.payload)
        assert bundle["resourceType"] == "Bundle"
        assert envelope.attributes["source_system"].startswith("hl7v2:")
    quarantine = Quarantine(tmp_path / "data" / "quarantine.db")
    items = quarantine.list()
    assert len(items) == burst.malformed
    failures = [e for e in audit.events if e["code"]["coding"][0]["code"] == "validation-failure"]
    assert len(failures) == burst.malformed
    texts = " ".join(f"{i.location} {i.reason}" for i in items) + orjson.dumps(failures).decode()
    texts += b" ".join(answers).decode()
    # no answer, quarantine entry or audit event repeats a patient's name or MRN
    for frame, expected in zip(burst.frames[::50], burst.expected[::50], strict=True):
        if expected == "AA":
            pid = parse(frame).first("PID")
            assert pid is not None
            assert pid.value(5) not in texts and pid.value(3) not in texts
    quarantine.close()


def test_burst_small_then_restart_keeps_every_acknowledged_message(
    tmp_path: Path, data_dir: Path
) -> None:
    burst = make_burst(240, seed=3, patients=1)
    assert burst.malformed >= 4 and len(burst.frames) - burst.valid_keys - burst.malformed > 0
    audit = RecordingAuditSink()
    source = _source(tmp_path, audit)
    answers, received = asyncio.run(_run(source, burst.frames, connections=4))
    _check(burst, answers, received, tmp_path, audit)
    assert source.stats.duplicates == len(burst.frames) - burst.valid_keys - burst.malformed
    # a new run on the same spool hands out everything acknowledged before (no ledger here)...
    again = _source(tmp_path, RecordingAuditSink(), queue_size=5)  # more resumed than queued
    _, resumed = asyncio.run(_run(again, [], connections=1))
    assert sorted(e.message_id for e in resumed) == sorted(e.message_id for e in received)
    # ...and the ledger saying they were ingested frees the spool
    done = _source(tmp_path, RecordingAuditSink(), completed=lambda ids: set(ids),
                   release_every_s=0.05)  # fmt: skip
    asyncio.run(_run(done, [], connections=1))
    assert not list((tmp_path / "spool").glob("segment-*.log"))


def test_resent_message_during_its_own_write_is_answered_once(
    tmp_path: Path, data_dir: Path
) -> None:
    text = oru_messages(1, "standard")[0]
    audit = RecordingAuditSink()
    source = _source(tmp_path, audit)
    frames = [text.encode()] * 6
    answers, received = asyncio.run(_run(source, frames, connections=6))
    assert [msa(a)[0] for a in answers] == ["AA"] * 6
    assert len(received) == 1 and source.stats.duplicates == 5


def test_oversize_and_garbage_between_frames(tmp_path: Path, data_dir: Path) -> None:
    text = oru_messages(1, "standard")[0].encode()
    source = _source(tmp_path, RecordingAuditSink(), max_frame_bytes=4096)
    frames = [text, b"MSH|" + b"x" * 10_000, text.replace(b"|CF", b"|XX", 1)]
    answers, received = asyncio.run(_run(source, frames, connections=1))
    assert [msa(a)[0] for a in answers] == ["AA", "AR", "AA"]
    assert "larger than 4096" in msa(answers[1])[2]
    assert len(received) == 2


def test_frame_reader_splits_joins_and_discards() -> None:
    reader = FrameReader(max_bytes=100)
    stream = b"noise" + START + b"one" + END + START + b"tw"
    assert reader.feed(stream) == [b"one"]
    assert reader.feed(b"o" + END + b"x" + START + b"torn" + START + b"three" + END) == [
        b"two",
        b"three",
    ]
    assert reader.discarded == len(b"noise") + len(b"x") + len(b"torn")
    assert reader.feed(START + b"y" * 300) == [] and reader.feed(b"z" + END) == [None]


@pytest.mark.parametrize("text", ["x", "host:", "70000", "h:-1"])
def test_bad_addresses_are_usage_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_address(text)


@pytest.mark.slow
def test_burst_of_10000_oru_messages(tmp_path: Path, data_dir: Path) -> None:
    burst = make_burst(10_000, seed=19, patients=2)
    assert burst.malformed > 200
    audit = RecordingAuditSink()
    source = _source(tmp_path, audit)
    answers, received = asyncio.run(_run(source, burst.frames, connections=16))
    _check(burst, answers, received, tmp_path, audit)
    counts = Counter(msa(a)[0] for a in answers)
    assert counts["AA"] == burst.valid_keys + source.stats.duplicates
    assert source.spool.flushes < source.stats.accepted  # group commit did batch fsyncs
    names = Counter(parse(f).msh.value(3) for f in islice(burst.frames, 0, None, 97)
                    if f.startswith(b"MSH|^~"))  # fmt: skip
    assert {"CLINFLOW", "NWVITALS", "MERIDIAN"} <= set(names)
