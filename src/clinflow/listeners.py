"""Who may connect to a listening source, and over what (ADR 0113).

An HL7 v2 feed carries names, MRNs and dates of birth in the clear. A listener bound to
loopback (the default) is reachable only from this machine; one bound to any other address
must say who may connect: TLS (``--tls-cert``/``--tls-key``, with ``--tls-client-ca`` the
sender must present a certificate that CA signed: mutual TLS, as IHE ATNA asks of HL7 v2
nodes) and/or an allow-list of peer networks (``--allow-peers 10.1.0.0/16,10.2.3.4``).
Without either, starting is refused with the reason. A refused peer's connection is closed
before a byte is read; the count is reported, the peer's address is not logged.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinflow.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_networks(text: str, option: str = "--allow-peers") -> tuple[Network, ...]:
    """``CIDR[,CIDR...]`` (a bare address is a /32 or /128); ConfigError naming the bad one."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ConfigError(f"{option}: {part!r} is not an IP address or network") from exc
    if not networks:
        raise ConfigError(f"{option}: no network given")
    return tuple(networks)


def server_tls(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context; with ``client_ca`` the peer must present a certificate
    that CA signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"--tls-cert/--tls-key: cannot load {cert.name} / {key.name} "
            f"({getattr(exc, 'strerror', None) or type(exc).__name__})"
        ) from exc
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--tls-client-ca: cannot load {client_ca.name}") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass(frozen=True)
class PeerPolicy:
    """``networks`` empty: any peer that reaches the socket; ``tls`` None: plain TCP."""

    networks: tuple[Network, ...] = ()
    tls: ssl.SSLContext | None = None

    @classmethod
    def for_listener(
        cls,
        source: str,
        host: str,
        *,
        allow_peers: str | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        tls_client_ca: Path | None = None,
    ) -> PeerPolicy:
        """The policy of ``source`` (e.g. ``mllp``) bound to ``host``; ConfigError when a
        non-loopback listener would take PHI in the clear from anyone."""
        if (tls_cert is None) != (tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        if tls_client_ca is not None and tls_cert is None:
            raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key")
        networks = parse_networks(allow_peers) if allow_peers is not None else ()
        tls = server_tls(tls_cert, tls_key, tls_client_ca) if tls_cert and tls_key else None
        if not is_loopback(host) and tls is None and not networks:
            raise ConfigError(
                f"--source {source}: listening on {host} would take PHI in the clear from "
                "anyone who can connect: give --tls-cert/--tls-key, --allow-peers CIDR,... "
                "or both (or listen on 127.0.0.1)"
            )
        return cls(networks, tls)

    def admits(self, peername: Any) -> bool:
        """Whether the peer (``transport.get_extra_info('peername')``) may connect."""
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(str(peername[0]).split("%", 1)[0])
        except (ValueError, TypeError, IndexError):
            return False
        mapped = getattr(address, "ipv4_mapped", None)
        candidates = (address, mapped) if mapped is not None else (address,)
        return any(
            a in net for a in candidates for net in self.networks if a.version == net.version
        )
