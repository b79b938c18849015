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
from httpx import AsyncClient
from pydantic import SecretStr

from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API
from tests.identity.slapd import BASE_DN, SERVICE_DN, Directory, start_slapd, stop_slapd
from tests.identity.test_ldap import PASSWORD, _ldap_staff
from tests.support.settings import Serve, override


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(workdir: Path, cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = workdir / f"{cn}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, path


def _server_cert(
    workdir: Path,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path],
    names: list[x509.GeneralName],
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("directory"))
        .issuer_name(ca[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca[1], hashes.SHA256())
    )
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


async def _login(client: AsyncClient) -> Any:
    return await client.post(f"{API}/auth/staff/login", json={"login": "awa.tls", "password": PASSWORD})


async def test_right_ca_logs_in_over_ldaps(
    settings: Settings,
    db: Database,
    agencies: dict[str, Any],
    directory_tls: Directory,
    pki: dict[str, Any],
    serve: Serve,
) -> None:
    await _ldap_staff(db, settings, "awa.tls", agencies["DKC"].id)
    async with serve(_ldaps(settings, directory_tls, pki["right"][2])) as client:
        response = await _login(client)
    assert response.status_code == 200, response.text


async def test_wrong_ca_is_refused_with_503(
    settings: Settings,
    db: Database,
    agencies: dict[str, Any],
    directory_tls: Directory,
    pki: dict[str, Any],
    serve: Serve,
) -> None:
    await _ldap_staff(db, settings, "awa.tls", agencies["DKC"].id)
    async with serve(_ldaps(settings, directory_tls, pki["wrong"][2])) as client:
        response = await _login(client)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "ldap_unavailable"


async def test_certificate_for_another_host_is_refused_with_503(
    settings: Settings,
    db: Database,
    agencies: dict[str, Any],
    directory_other_name: Directory,
    pki: dict[str, Any],
    serve: Serve,
) -> None:
    await _ldap_staff(db, settings, "awa.tls", agencies["DKC"].id)
    async with serve(_ldaps(settings, directory_other_name, pki["right"][2])) as client:
        response = await _login(client)
    assert response.status_code == 503, response.text
