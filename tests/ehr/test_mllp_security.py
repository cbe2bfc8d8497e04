"""Who may send HL7 v2 to the MLLP listener (ADR 0113): a non-loopback listener without TLS or
an allow-list is refused at start; a peer outside ``--allow-peers`` is closed unread; over
TLS a sender that trusts the listener's CA gets AA, a plaintext sender gets nothing and
nothing is processed; with ``--tls-client-ca`` a sender without a certificate that CA signed
is refused (mutual TLS)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from clinflow.ehr.hl7.mllp import END, START, MllpSource
from clinflow.errors import ConfigError
from clinflow.listeners import PeerPolicy, parse_networks, server_tls
from clinflow.quarantine import Quarantine
from clinflow.runtime.rejects import quarantine_reject
from helpers.cli import run_cli
from helpers.fakes import RecordingAuditSink
from helpers.pki import make_pki

from .helpers import msa, oru_messages


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_pki(tmp_path_factory.mktemp("pki"))


# ----- policy ---------------------------------------------------------------------------------
def test_a_non_loopback_listener_must_say_who_may_connect(pki: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="in the clear"):
        PeerPolicy.for_listener("mllp", "0.0.0.0")
    assert PeerPolicy.for_listener("mllp", "0.0.0.0", allow_peers="10.1.0.0/16").networks
    assert PeerPolicy.for_listener("mllp", "0.0.0.0", tls_cert=pki["cert"], tls_key=pki["key"]).tls
    assert PeerPolicy.for_listener("mllp", "127.0.0.1") == PeerPolicy()
    with pytest.raises(ConfigError, match="go together"):
        PeerPolicy.for_listener("mllp", "127.0.0.1", tls_cert=pki["cert"])
    with pytest.raises(ConfigError, match="is not an IP"):
        parse_networks("10.0.0.0/8,ward-7")
    with pytest.raises(ConfigError, match="cannot load"):
        server_tls(pki["ca"].with_name("missing.crt"), pki["key"])


def test_allow_list_matches_addresses_and_networks() -> None:
    policy = PeerPolicy(parse_networks("10.1.0.0/16, 192.0.2.7, 2001:db8::/32"))
    assert policy.admits(("10.1.200.3", 5000))
    assert policy.admits(("192.0.2.7", 1))
    assert policy.admits(("::ffff:10.1.0.9", 1, 0, 0))  # IPv4-mapped on a dual-stack socket
    assert policy.admits(("2001:db8::5", 1, 0, 0))
    assert not policy.admits(("10.2.0.1", 5000))
    assert not policy.admits(("127.0.0.1", 5000))
    assert not policy.admits(None)


def test_the_cli_refuses_a_clear_text_listener_on_all_interfaces(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, "run", "--source", "mllp:0.0.0.0:0", "--data-dir",
                             str(tmp_path / "d"), "--no-progress")  # fmt: skip
    assert code != 0
    assert "in the clear" in out + err and "Traceback" not in out + err


# ----- the listener ---------------------------------------------------------------------------
def _source(tmp_path: Path, peers: PeerPolicy) -> MllpSource:
    quarantine = Quarantine(tmp_path / "data" / "quarantine.db")
    reject = quarantine_reject(quarantine, RecordingAuditSink())
    return MllpSource("127.0.0.1", 0, tmp_path / "spool", reject=reject, peers=peers)


async def _exchange(source: MllpSource, frame: bytes, tls: ssl.SSLContext | None) -> bytes | None:
    """Send one framed message; its answer, or None when the listener closes or fails."""
    received = []

    async def consume() -> None:
        async for timed in source:
            received.append(timed)

    consumer = asyncio.ensure_future(consume())
    try:
        await asyncio.wait_for(source.ready.wait(), 10)
        assert source.address is not None
        host, port = source.address
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        except (ssl.SSLError, ConnectionError):
            return None
        try:
            writer.write(START + frame + END)
            await writer.drain()
            answer = await asyncio.wait_for(reader.readuntil(END), 10)
        except (asyncio.IncompleteReadError, ssl.SSLError, ConnectionError, TimeoutError):
            return None
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ssl.SSLError, ConnectionError):
                pass
        return answer.removeprefix(START).removesuffix(END)
    finally:
        consumer.cancel()
        try:
            await consumer
        except asyncio.CancelledError:
            pass


def _frame() -> bytes:
    return oru_messages(1, "standard")[0].encode()


def test_a_peer_outside_the_allow_list_is_closed_unread(tmp_path: Path) -> None:
    source = _source(tmp_path, PeerPolicy(parse_networks("10.0.0.0/8")))
    answer = asyncio.run(_exchange(source, _frame(), None))
    assert answer is None
    assert source.stats.refused_peers == 1
    assert source.stats.received == 0 and source.stats.accepted == 0


def test_tls_sender_gets_aa_and_a_plaintext_sender_gets_nothing(
    tmp_path: Path, pki: dict[str, Path]
) -> None:
    policy = PeerPolicy(tls=server_tls(pki["cert"], pki["key"]))
    client = ssl.create_default_context(cafile=pki["ca"])
    source = _source(tmp_path / "tls", policy)
    answer = asyncio.run(_exchange(source, _frame(), client))
    assert answer is not None and msa(answer)[0] == "AA"
    assert source.stats.accepted == 1

    plain = _source(tmp_path / "plain", policy)
    assert asyncio.run(_exchange(plain, _frame(), None)) is None
    assert plain.stats.received == 0 and plain.stats.accepted == 0


def test_mutual_tls_refuses_a_sender_without_a_signed_certificate(
    tmp_path: Path, pki: dict[str, Path]
) -> None:
    policy = PeerPolicy(tls=server_tls(pki["cert"], pki["key"], client_ca=pki["ca"]))
    anonymous = ssl.create_default_context(cafile=pki["ca"])
    source = _source(tmp_path / "anon", policy)
    assert asyncio.run(_exchange(source, _frame(), anonymous)) is None
    assert source.stats.accepted == 0

    signed = ssl.create_default_context(cafile=pki["ca"])
    signed.load_cert_chain(pki["client_cert"], pki["client_key"])
    source = _source(tmp_path / "signed", policy)
    answer = asyncio.run(_exchange(source, _frame(), signed))
    assert answer is not None and msa(answer)[0] == "AA"
