"""The DICOM C-STORE source: pynetdicom's own SCU sends generated files on loopback; every
instance answered Success is on disk before the answer and becomes one raw DICOM envelope;
a restarted source yields what was acknowledged but not finished; a spool failure answers
0xA700 so the client resends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pynetdicom import AE

from clinflow.envelope import Envelope, SourceKind, content_message_id
from clinflow.errors import ConfigError
from clinflow.runtime import dicom_scp
from clinflow.runtime.dicom_scp import DicomScpSource, check_ae_title, parse_address
from helpers.dicom_conformance import write_every_kind
from helpers.ledger import assert_accounted_and_verified, ingested


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One generated file of every SOP class x transfer syntax (18 files)."""
    return sorted(write_every_kind(tmp_path_factory.mktemp("scp-in")).values())


def send(files: Iterable[Path], address: tuple[str, int], title: str = "CLINFLOW") -> list[int]:
    """C-STORE each file on one association (pynetdicom as the SCU); the status of each."""
    datasets = [dcmread(path) for path in files]
    ae = AE(ae_title="TESTSCU")
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate(address[0], address[1], ae_title=title)
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


async def _receive(
    source: DicomScpSource, files: list[Path], expect: int
) -> tuple[list[int], list[Envelope]]:
    items = source.__aiter__()
    first = asyncio.ensure_future(anext(items))
    await asyncio.wait_for(source.ready.wait(), 20)
    assert source.address is not None
    statuses = await asyncio.to_thread(send, files, source.address) if files else []
    received = [(await asyncio.wait_for(first, 20)).envelope] if expect else []
    while len(received) < expect:
        received.append((await asyncio.wait_for(anext(items), 20)).envelope)
    if not expect:
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
    await items.aclose()
    return statuses, received


def test_every_instance_answered_success_is_spooled_and_becomes_one_envelope(
    tmp_path: Path, studies: list[Path]
) -> None:
    source = DicomScpSource("127.0.0.1", 0, tmp_path / "spool")
    statuses, envelopes = asyncio.run(_receive(source, studies, len(studies)))
    assert statuses == [0x0000] * len(studies)
    assert source.stats.received == len(studies) and source.stats.failed == 0
    sent = {str(dcmread(p).SOPInstanceUID) for p in studies}
    got = set()
    for envelope in envelopes:
        assert envelope.source is SourceKind.DICOM
        assert envelope.attributes["format"] == "dicom"
        assert envelope.message_id == content_message_id(envelope.payload)
        got.add(str(dcmread(BytesIO(envelope.payload)).SOPInstanceUID))
    assert got == sent
    # no ledger said done: every acknowledged instance is still on disk, named by content id
    spooled = sorted(p.name for p in (tmp_path / "spool").iterdir())
    assert spooled == sorted(f"{e.message_id}.dcm" for e in envelopes)


def test_a_restarted_source_yields_what_was_acknowledged_and_releases_what_is_done(
    tmp_path: Path, studies: list[Path]
) -> None:
    spool = tmp_path / "spool"
    asyncio.run(_receive(DicomScpSource("127.0.0.1", 0, spool), studies[:5], 5))
    done: set[str] = set()

    def completed(ids: Iterable[str]) -> set[str]:
        return set(ids) & done

    again = DicomScpSource("127.0.0.1", 0, spool, completed=completed, release_every_s=0.05)

    async def resume() -> list[Envelope]:
        items = again.__aiter__()
        got = [(await asyncio.wait_for(anext(items), 20)).envelope for _ in range(5)]
        done.update(e.message_id for e in got)  # the pipeline's entry hop finished them
        waiter = asyncio.ensure_future(anext(items))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if not any(spool.glob("*.dcm")):
                break
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter  # the cancellation closes the source (its finally stops the server)
        await items.aclose()
        return got

    resumed = asyncio.run(resume())
    assert again.stats.resumed == 5 and len({e.message_id for e in resumed}) == 5
    assert again.stats.released == 5 and list(spool.glob("*.dcm")) == []


def test_an_instance_that_cannot_be_spooled_is_answered_out_of_resources(
    tmp_path: Path, studies: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: dicom_scp.Spool, data: bytes) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dicom_scp.Spool, "put", full)
    source = DicomScpSource("127.0.0.1", 0, tmp_path / "spool")
    statuses, envelopes = asyncio.run(_receive(source, studies[:2], 0))
    assert statuses == [0xA700, 0xA700] and envelopes == []
    assert source.stats.failed == 2 and source.stats.received == 0


@pytest.mark.parametrize("text", ["", "abc", "host:99999", "host:"])
def test_a_bad_address_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="dicom-scp"):
        parse_address(text)


def test_address_and_ae_title_forms() -> None:
    assert parse_address("11112") == ("127.0.0.1", 11112)
    assert parse_address("0.0.0.0:104") == ("0.0.0.0", 104)
    assert check_ae_title(" PACS_IN ") == "PACS_IN"
    for bad in ("", "A" * 17, "A\\B", "ÄE"):
        with pytest.raises(ConfigError, match="ae-title"):
            check_ae_title(bad)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_scp(data_dir: Path, port: int, files: list[Path]) -> tuple[list[int], dict[str, object]]:
    """``clinflow run --source dicom-scp:PORT``; send ``files``; SIGTERM; statuses, report."""
    import json
    import signal
    import socket
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "run", "--data-dir", str(data_dir), "--source",
         f"dicom-scp:{port}", "--ae-title", "CLINFLOW_IN", "--json", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # a plain probe: pynetdicom leaks its socket on a refused connection
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None and time.monotonic() < deadline, "SCP never listened"
            time.sleep(0.3)
        statuses = send(files, ("127.0.0.1", port), "CLINFLOW_IN")
        time.sleep(2)  # the entry hop takes them (acknowledged ones would survive a stop anyway)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    return statuses, json.loads(stdout)


@pytest.mark.slow
def test_clinflow_run_receives_deidentifies_and_audits_each_instance_once(
    tmp_path: Path, studies: list[Path]
) -> None:
    """Two runs on one data folder: the second gets everything again (a client resending)
    plus new instances; every instance is ingested and de-identified exactly once."""
    data_dir, port = tmp_path / "data", _free_port()
    statuses, first = _run_scp(data_dir, port, studies[:10])
    assert statuses == [0] * 10
    assert first["source"] == f"dicom-scp:127.0.0.1:{port}"
    scp = first["dicom_scp"]
    assert isinstance(scp, dict) and scp["received"] == 10 and scp["ae_title"] == "CLINFLOW_IN"
    hops = first["hops"]
    assert isinstance(hops, dict) and hops["ingest"]["received"] == 10
    spool = data_dir / "sources" / f"dicom-scp-{port}"
    left = len(list(spool.glob("*.dcm")))  # acknowledged, not yet released: resumed next run
    statuses, second = _run_scp(data_dir, port, studies)
    resumed = second["dicom_scp"]
    assert isinstance(resumed, dict) and resumed["resumed"] == left
    assert statuses == [0] * len(studies)
    hops = second["hops"]
    assert isinstance(hops, dict)
    assert hops["ingest"]["duplicates"] == 10  # resent: the ledger drops them
    assert hops["ingest"]["received"] - hops["ingest"]["duplicates"] == len(studies) - 10
    assert_accounted_and_verified([second], data_dir)


def test_dcmtk_storescu_sends_every_kind_and_each_is_acknowledged(
    tmp_path: Path, studies: list[Path]
) -> None:
    """dcmtk's storescu (``make dicom-tools``) as the client: every instance answered."""
    import shutil
    import subprocess

    storescu = shutil.which("storescu")
    if storescu is None:
        pytest.skip("storescu not installed (Debian package dcmtk: run `make dicom-tools`)")
    source = DicomScpSource("127.0.0.1", 0, tmp_path / "spool")

    async def run() -> list[Envelope]:
        items = source.__aiter__()
        first = asyncio.ensure_future(anext(items))
        await asyncio.wait_for(source.ready.wait(), 20)
        assert source.address is not None
        sent = await asyncio.to_thread(
            subprocess.run,
            [storescu, "-aec", "CLINFLOW", "127.0.0.1", str(source.address[1]),
             *map(str, studies)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        got = [(await asyncio.wait_for(first, 20)).envelope]
        while len(got) < len(studies):
            got.append((await asyncio.wait_for(anext(items), 20)).envelope)
        await items.aclose()
        return got

    envelopes = asyncio.run(run())
    assert source.stats.received == len(studies) and source.stats.failed == 0
    assert {e.message_id for e in envelopes} == {
        content_message_id(p.read_bytes()) for p in (tmp_path / "spool").glob("*.dcm")
    }


@pytest.mark.slow
def test_storescu_study_of_200_stopped_mid_transfer_is_processed_once_after_restart(
    tmp_path: Path, studies: list[Path]
) -> None:
    """dcmtk's storescu sends a 200-instance study; the runtime is stopped (SIGTERM) after
    some are acknowledged; restarted, storescu sends the whole study again: every instance is
    ingested exactly once over both runs, and the audit log verifies."""
    import json
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time

    from helpers.dicom_conformance import write_study

    storescu = shutil.which("storescu")
    if storescu is None:
        pytest.skip("storescu not installed (Debian package dcmtk: run `make dicom-tools`)")
    ct = next(p for p in studies if dcmread(p).Modality == "CT")
    study = tmp_path / "study"
    write_study(ct, study, 200)
    data_dir, port = tmp_path / "data", _free_port()
    spool = data_dir / "sources" / f"dicom-scp-{port}"

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "clinflow", "run", "--data-dir", str(data_dir), "--source",
             f"dicom-scp:{port}", "--json", "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return process
            assert process.poll() is None and time.monotonic() < deadline, "never listened"
            time.sleep(0.3)

    def send_all() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [storescu, "-aec", "CLINFLOW", "+sd", "127.0.0.1", str(port), str(study)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    def stop(process: subprocess.Popen[str]) -> dict[str, object]:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
        return dict(json.loads(stdout))

    first = start()
    try:
        client = send_all()
        deadline = time.monotonic() + 120
        while len(list(spool.glob("*.dcm"))) + ingested(data_dir) < 40:
            assert time.monotonic() < deadline and client.poll() is None, "transfer stalled"
            time.sleep(0.05)
        report = stop(first)  # mid-transfer: storescu loses its association
        client.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert client.returncode != 0  # it did not get through
    scp = report["dicom_scp"]
    assert isinstance(scp, dict) and 0 < scp["received"] < 200
    second = start()
    try:
        client = send_all()
        assert client.wait(timeout=300) == 0  # every instance acknowledged this time
        deadline = time.monotonic() + 120
        while ingested(data_dir) < 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        report = stop(second)
    finally:
        if second.poll() is None:
            second.kill()
    assert ingested(data_dir) == 200  # each instance once, over both runs
    assert_accounted_and_verified([report], data_dir)
