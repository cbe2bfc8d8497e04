"""Who may C-STORE to the DICOM SCP source (ADR 0115): a peer outside ``--allow-peers`` is
closed before an association; over TLS (PS3.15 Annex B secure transport) an SCU that trusts
the SCP's CA stores, a plaintext SCU gets no association and nothing is spooled."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import pytest
from pydicom import dcmread
from pynetdicom import AE

from clinflow.listeners import PeerPolicy, parse_networks, server_tls
from clinflow.runtime.dicom_scp import DicomScpSource
from helpers.dicom_conformance import write_every_kind
from helpers.pki import make_pki


@pytest.fixture(scope="module")
def one_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sorted(write_every_kind(tmp_path_factory.mktemp("scp-sec")).values())[0]


def _store(path: Path, address: tuple[str, int], tls: ssl.SSLContext | None) -> int | None:
    """C-STORE one file; its status, or None when no association could be made."""
    ds = dcmread(path)
    ae = AE(ae_title="TESTSCU")
    ae.acse_timeout = ae.network_timeout = 5
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    tls_args = (tls, "127.0.0.1") if tls is not None else None
    assoc = ae.associate(address[0], address[1], ae_title="CLINFLOW", tls_args=tls_args)
    if not assoc.is_established:
        sock = getattr(assoc.dul, "socket", None)  # pynetdicom leaves it open on a failed
        if sock is not None and sock.socket is not None:  # TLS association: close it here
            sock.socket.close()
        return None
    try:
        return int(assoc.send_c_store(ds).Status)
    finally:
        assoc.release()


def _try(source: DicomScpSource, path: Path, tls: ssl.SSLContext | None) -> int | None:
    async def run() -> int | None:
        items = source.__aiter__()
        first = asyncio.ensure_future(anext(items))
        await asyncio.wait_for(source.ready.wait(), 20)
        assert source.address is not None
        status = await asyncio.to_thread(_store, path, source.address, tls)
        if status == 0:
            await asyncio.wait_for(first, 20)
        else:
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first
        await items.aclose()
        return status

    return asyncio.run(run())


def test_a_peer_outside_the_allow_list_gets_no_association(
    tmp_path: Path, one_file: Path
) -> None:
    policy = PeerPolicy(parse_networks("10.0.0.0/8"))
    source = DicomScpSource("127.0.0.1", 0, tmp_path / "spool", peers=policy)
    assert _try(source, one_file, None) is None
    assert source.stats.refused_peers >= 1 and source.stats.received == 0
    assert not any((tmp_path / "spool").glob("*.dcm"))


def test_tls_scu_stores_and_a_plaintext_scu_gets_nothing(tmp_path: Path, one_file: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    policy = PeerPolicy(tls=server_tls(pki["cert"], pki["key"]))
    client = ssl.create_default_context(cafile=pki["ca"])
    source = DicomScpSource("127.0.0.1", 0, tmp_path / "tls", peers=policy)
    assert _try(source, one_file, client) == 0x0000
    assert source.stats.received == 1

    plain = DicomScpSource("127.0.0.1", 0, tmp_path / "plain", peers=policy)
    assert _try(plain, one_file, None) is None
    assert plain.stats.received == 0 and not any((tmp_path / "plain").glob("*.dcm"))
