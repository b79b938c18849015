"""Fixtures of the tariffs tests: the reference grids, a throw-away PKI and the XMLVend stand-in."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
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


XMLVEND_FIELDS = (
    "xmlvend_enabled",
    "xmlvend_wsdl_url",
    "xmlvend_endpoint",
    "xmlvend_client_p12",
    "xmlvend_client_p12_password",
    "xmlvend_ca_bundle",
    "xmlvend_client_ean",
    "xmlvend_operator",
    "xmlvend_operator_password",
    "xmlvend_connect_timeout_s",
    "xmlvend_read_timeout_s",
)


@pytest.fixture
async def xmlvend_on(
    app: FastAPI, settings: Settings, pki: Pki, standin: XmlVendStandIn
) -> AsyncIterator[Settings]:
    """The running app's settings pointed at the stand-in (restored afterwards)."""
    saved = {name: getattr(settings, name) for name in XMLVEND_FIELDS}
    settings.xmlvend_enabled = True
    settings.xmlvend_wsdl_url = standin.wsdl_url
    settings.xmlvend_endpoint = None
    settings.xmlvend_client_p12 = pki.client_p12
    settings.xmlvend_client_p12_password = SecretStr(pki.password)
    settings.xmlvend_ca_bundle = pki.ca_pem
    settings.xmlvend_client_ean = "6004708001234"
    settings.xmlvend_operator = "samaconso"
    settings.xmlvend_operator_password = SecretStr("op-Secret-<&>-2026")
    settings.xmlvend_connect_timeout_s = 2.0
    settings.xmlvend_read_timeout_s = 5.0
    yield settings
    for name, value in saved.items():
        setattr(settings, name, value)
    await app.state.vending.aclose()  # the next test's client is rebuilt from its settings
