"""Throw-away PKI for the XMLVend tests: a CA, a server certificate for 127.0.0.1 and client
PKCS#12 bundles (valid and expired), all created at test time in a temporary directory."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Pki:
    ca_pem: Path
    server_cert: Path
    server_key: Path
    client_p12: Path
    expired_p12: Path
    password: str


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "SN"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    elif server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    now = datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(
        "Senelec Test CA",
        ca_key,
        _name("Senelec Test CA"),
        ca_key,
        ca=True,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=30),
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert(
        "127.0.0.1",
        server_key,
        ca.subject,
        ca_key,
        server=True,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=30),
    )
    password = secrets.token_urlsafe(12)

    def client_p12(name: str, not_before: datetime, not_after: datetime) -> Path:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert("6004708001234", key, ca.subject, ca_key, not_before=not_before, not_after=not_after)
        path = directory / name
        path.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"xmlvend", key, cert, [ca], serialization.BestAvailableEncryption(password.encode())
            )
        )
        return path

    ca_pem = directory / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_cert = directory / "server.pem"
    server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    server_key_path = directory / "server.key"
    server_key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_key_path.chmod(0o600)
    return Pki(
        ca_pem=ca_pem,
        server_cert=server_cert,
        server_key=server_key_path,
        client_p12=client_p12("client.p12", now - timedelta(days=1), now + timedelta(days=20)),
        expired_p12=client_p12("expired.p12", now - timedelta(days=30), now - timedelta(days=2)),
        password=password,
    )
