"""A throw-away certificate authority with a server certificate for 127.0.0.1 and a client
certificate, made with ``cryptography`` per test session (TLS listener tests, ADR 0115)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


Issuer = tuple[str, ec.EllipticCurvePrivateKey]


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: Issuer | None,
          ca: bool = False, ip: str | None = None) -> x509.Certificate:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name = (
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]) if issuer else name
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(
    path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def make_pki(root: Path) -> dict[str, Path]:
    """PEM files under ``root``: ``ca``, server ``cert``/``key``, ``client_cert``/``client_key``."""
    root.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = _cert("clinflow test CA", ca_key, None, ca=True)
    server_key, client_key = _key(), _key()
    server = _cert("test listener", server_key, ("clinflow test CA", ca_key), ip="127.0.0.1")
    client = _cert("test sender", client_key, ("clinflow test CA", ca_key))
    ca_path, _ = _write(root / "ca", ca, ca_key)
    server_cert, server_key_path = _write(root / "server", server, server_key)
    client_cert, client_key_path = _write(root / "client", client, client_key)
    return {"ca": ca_path, "cert": server_cert, "key": server_key_path,
            "client_cert": client_cert, "client_key": client_key_path}  # fmt: skip
