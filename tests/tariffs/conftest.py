"""Fixtures of the tariffs tests: the reference grids, a throw-away PKI and the XMLVend stand-in."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from samaconso.kit.db import Database
from samaconso.settings import Settings
from samaconso.tariffs.reference import REFERENCE_GRIDS
from samaconso.tariffs.seed import seed
from tests.support.xmlvend_standin import MeterAccount, XmlVendStandIn
from tests.tariffs.pki import Pki, make_pki


@pytest.fixture
async def grids(db: Database, settings: Settings) -> Database:
    """Empty tables, then the reference grids and bands, as ``samaconso seed`` loads them."""
    await seed(db, settings)
    return db


@pytest.fixture(scope="session")
def pki() -> Iterator[Pki]:
    with tempfile.TemporaryDirectory(prefix="xmlvend-pki-") as tmp:
        yield make_pki(Path(tmp))


@pytest.fixture
def vend_meters() -> dict[str, MeterAccount]:
    return {}


@pytest.fixture
def standin(pki: Pki, vend_meters: dict[str, MeterAccount]) -> Iterator[XmlVendStandIn]:
    server = XmlVendStandIn(
        server_cert=pki.server_cert,
        server_key=pki.server_key,
        client_ca=pki.ca_pem,
        grids=[grid for _, grid in REFERENCE_GRIDS],
        meters=vend_meters,
    ).start()
    yield server
    server.stop()


def xmlvend_fields(pki: Pki, standin: XmlVendStandIn) -> dict[str, Any]:
    """Settings that point the vending client at the stand-in, over mutual TLS."""
    return {
        "xmlvend_enabled": True,
        "xmlvend_wsdl_url": standin.wsdl_url,
        "xmlvend_endpoint": None,
        "xmlvend_client_p12": pki.client_p12,
        "xmlvend_client_p12_password": SecretStr(pki.password),
        "xmlvend_ca_bundle": pki.ca_pem,
        "xmlvend_client_ean": "6004708001234",
        "xmlvend_operator": "samaconso",
        "xmlvend_operator_password": SecretStr("op-Secret-<&>-2026"),
        "xmlvend_connect_timeout_s": 2.0,
        "xmlvend_read_timeout_s": 5.0,
    }


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A test that asks for ``xmlvend_on`` gets settings (and an app) wired to the stand-in."""
    if "xmlvend_on" not in request.fixturenames:
        return {}
    return xmlvend_fields(request.getfixturevalue("pki"), request.getfixturevalue("standin"))


@pytest.fixture
def xmlvend_on(settings: Settings) -> Settings:
    """This test's settings, pointed at the stand-in (see ``settings_overrides``)."""
    assert settings.xmlvend_enabled
    return settings
