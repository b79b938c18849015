"""Point 2: LDAPS verifies the directory (chain against a configurable CA bundle, host name),
against a real slapd over TLS with a test CA: right CA → login; wrong CA or wrong name → 503
before any password leaves."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API
from tests.identity.slapd import BASE_DN, SERVICE_DN, Directory, start_slapd, stop_slapd
from tests.identity.test_ldap import PASSWORD, _ldap_staff
from tests.support.settings import Serve, override


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


Issuer = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _certificate(
    subject: str, issuer: Issuer | None, extension: x509.ExtensionType, *, critical: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A day-long certificate for ``subject``, signed by ``issuer`` (self-signed without one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(extension, critical=critical)
        .sign(issuer[1] if issuer else key, hashes.SHA256())
    )
    return cert, key


def _ca(workdir: Path, cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path]:
    cert, key = _certificate(cn, None, x509.BasicConstraints(ca=True, path_length=None), critical=True)
    path = workdir / f"{cn}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, path


def _server_cert(
    workdir: Path,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path],
    names: list[x509.GeneralName],
) -> tuple[Path, Path]:
    cert, key = _certificate("directory", (ca[0], ca[1]), x509.SubjectAlternativeName(names), critical=False)
    cert_path, key_path = workdir / "server.pem", workdir / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("pki")
    right = _ca(workdir, "senelec-test-ca")
    wrong = _ca(workdir, "rogue-ca")
    return {"dir": workdir, "right": right, "wrong": wrong}


def _directory(
    tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Any], names: list[x509.GeneralName]
) -> Iterator[Directory]:
    workdir = tmp_path_factory.mktemp("slapd-tls")
    tls = _server_cert(workdir, pki["right"], names)
    directory = start_slapd(workdir / "slapd", tls=tls)
    directory.add_user("awa.tls", PASSWORD)
    yield directory
    stop_slapd(directory, workdir / "slapd")


@pytest.fixture(scope="module")
def directory_tls(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Any]) -> Iterator[Directory]:
    yield from _directory(tmp_path_factory, pki, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])


@pytest.fixture(scope="module")
def directory_other_name(
    tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Any]
) -> Iterator[Directory]:
    yield from _directory(tmp_path_factory, pki, [x509.DNSName("ldap.senelec.sn")])


def _ldaps(settings: Settings, directory: Directory, ca: Path) -> Settings:
    """The deployment pointed at this directory over LDAPS, trusting ``ca``."""
    assert directory.ldaps_url
    return override(
        settings,
        ldap_enabled=True,
        ldap_url=directory.ldaps_url,
        ldap_ca_bundle=ca,
        ldap_bind_dn=SERVICE_DN,
        ldap_bind_password=SecretStr(directory.service_password),
        ldap_base_dn=BASE_DN,
        ldap_timeout_s=3.0,
    )


@pytest.mark.parametrize(
    ("directory_fixture", "trusted_ca", "status"),
    [
        pytest.param("directory_tls", "right", 200, id="right-ca-logs-in"),
        pytest.param("directory_tls", "wrong", 503, id="wrong-ca-refused"),
        pytest.param("directory_other_name", "right", 503, id="certificate-for-another-host-refused"),
    ],
)
async def test_ldaps_logs_in_only_to_the_verified_directory(
    directory_fixture: str,
    trusted_ca: str,
    status: int,
    request: pytest.FixtureRequest,
    settings: Settings,
    db: Database,
    agencies: dict[str, Any],
    pki: dict[str, Any],
    serve: Serve,
) -> None:
    directory: Directory = request.getfixturevalue(directory_fixture)
    await _ldap_staff(db, settings, "awa.tls", agencies["DKC"].id)
    async with serve(_ldaps(settings, directory, pki[trusted_ca][2])) as client:
        response = await client.post(
            f"{API}/auth/staff/login", json={"login": "awa.tls", "password": PASSWORD}
        )
    assert response.status_code == status, response.text
    if status == 503:  # refused before any password leaves, as the directory being down
        assert response.json()["code"] == "ldap_unavailable"
