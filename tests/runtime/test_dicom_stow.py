"""``clinflow run --source stow``: instances the API accepted by DICOMweb STOW-RS are read from
the deployment's STOW spool (left by an earlier run first, then new ones as they arrive),
become RAW DICOM envelopes like the SCP's, and their spool files are deleted only once the
ledger says the entry hop completed them; a study POSTed again is processed once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread

from clinflow.api.app import create_app
from clinflow.api.auth import TokenStore, api_tokens_path
from clinflow.api.settings import Settings
from clinflow.config import DataDir
from clinflow.envelope import Envelope, SourceKind, content_message_id
from clinflow.runtime.dicom_scp import Spool
from clinflow.runtime.dicom_stow import StowSource, stow_spool
from clinflow.runtime.run_command import parse_source
from helpers.dicom_conformance import write_ct_study
from helpers.ledger import assert_accounted_and_verified, ingested

with warnings.catch_warnings():  # Starlette's httpx2 notice (see tests/api/helpers.py)
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

BOUNDARY = "stow-runtime-test"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A generated CT instance as a 20-instance study."""
    return write_ct_study(tmp_path_factory.mktemp("stow-study"), 20)


def test_stow_and_dicomweb_name_the_source() -> None:
    assert parse_source("stow") == ("stow", None) == parse_source("dicomweb")


def test_the_source_yields_spooled_then_arriving_instances_and_releases_completed_ones(
    tmp_path: Path, study: list[Path]
) -> None:
    spool = Spool(stow_spool(tmp_path))
    early = [spool.put(p.read_bytes()) for p in study[:3]]  # left by an earlier run
    done: set[str] = set()

    def completed(ids: Iterable[str]) -> set[str]:
        return set(ids) & done

    source = StowSource(tmp_path, completed=completed, poll_s=0.05)

    async def run() -> list[Envelope]:
        items = source.__aiter__()
        got = [(await asyncio.wait_for(anext(items), 10)).envelope for _ in range(3)]
        late = [spool.put(p.read_bytes()) for p in study[3:5]]  # the API accepts more
        got += [(await asyncio.wait_for(anext(items), 10)).envelope for _ in range(2)]
        ids = [e.message_id for e in got]  # spooled ones first (same mtime: by name)
        assert set(ids[:3]) == set(early) and set(ids[3:]) == set(late)
        assert len(list(spool.folder.glob("*.dcm"))) == 5  # nothing released before done
        done.update(e.message_id for e in got)
        waiter = asyncio.ensure_future(anext(items))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if not any(spool.folder.glob("*.dcm")):
                break
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        await items.aclose()
        return got

    envelopes = asyncio.run(run())
    for envelope in envelopes:
        assert envelope.source is SourceKind.DICOM and envelope.attributes["format"] == "dicom"
        assert envelope.message_id == content_message_id(envelope.payload)
    got = {dcmread(BytesIO(e.payload)).SOPInstanceUID for e in envelopes}
    assert got == {dcmread(p).SOPInstanceUID for p in study[:5]}
    assert (source.stats.resumed, source.stats.received, source.stats.released) == (3, 2, 5)
    assert list(spool.folder.iterdir()) == []


def _multipart(files: list[Path]) -> bytes:
    parts = [
        f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + p.read_bytes()
        for p in files
    ]
    return b"\r\n".join(parts) + f"\r\n--{BOUNDARY}--\r\n".encode()


def _poster(data_dir: Path) -> Callable[[list[Path]], int]:
    root = DataDir.open(data_dir)
    store = TokenStore(api_tokens_path(root))
    token = store.create("service")[1]
    store.close()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}',
    }

    def post(files: list[Path]) -> int:
        with TestClient(create_app(Settings(data_dir=root))) as client:
            answer = client.post("/dicomweb/studies", content=_multipart(files), headers=headers)
        return int(answer.status_code)

    return post


def _run_until(data_dir: Path, during: Callable[[], None], want: int) -> dict[str, object]:
    """``clinflow run --source stow``; ``during()`` once it runs; SIGTERM once ``want`` are
    ingested and the spool is empty (every file released); the run report."""
    spool = stow_spool(data_dir)
    process = subprocess.Popen(
        [sys.executable, "-m", "clinflow", "run", "--data-dir", str(data_dir), "--source",
         "stow", "--json", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        during()
        deadline = time.monotonic() + 90
        while ingested(data_dir) < want or any(spool.glob("*.dcm")):
            assert process.poll() is None and time.monotonic() < deadline, "never drained"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    return dict(json.loads(stdout))


@pytest.mark.slow
def test_posted_studies_are_ingested_deidentified_and_audited_once(
    tmp_path: Path, study: list[Path]
) -> None:
    """Half the study POSTed before the run (resumed at its start), half while it runs
    (picked up by polling); then the whole study POSTed again and a second run: every
    instance ingested exactly once, the spool emptied, accounting balanced, audit verifies."""
    data_dir = tmp_path / "data"
    post = _poster(data_dir)
    assert post(study[:10]) == 200

    def post_while_running() -> None:
        deadline = time.monotonic() + 60
        while ingested(data_dir) < 10:  # the run has started and taken what was spooled
            assert time.monotonic() < deadline, "the run never ingested the spooled half"
            time.sleep(0.1)
        assert post(study[10:]) == 200

    first = _run_until(data_dir, post_while_running, 20)
    assert first["source"] == "stow"
    stow = first["dicom_stow"]
    assert isinstance(stow, dict) and stow["resumed"] == 10 and stow["received"] == 10
    assert stow["released"] == 20
    hops = first["hops"]
    assert isinstance(hops, dict) and hops["ingest"]["received"] == 20
    assert hops["ingest"]["rejected"] == 0
    assert hops["deid-dicom"]["received"] == 20 and hops["deid-dicom"]["rejected"] == 0
    assert post(study) == 200  # the same study again
    second = _run_until(data_dir, lambda: None, 20)
    hops = second["hops"]
    assert isinstance(hops, dict) and hops["ingest"]["duplicates"] == 20
    assert ingested(data_dir) == 20
    assert_accounted_and_verified([first, second], data_dir)
