"""XMLVend 2.1 TrialCreditVend: the real client against the stand-in over mutual TLS, and the
simulator's fallback to the engine when the vending system is disabled, down or unusable."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from decimal import Decimal as D

import httpx
import pytest
from httpx import AsyncClient
from lxml import etree

from samaconso.kit.db import Database
from samaconso.kit.metrics import REGISTRY
from samaconso.meters.models import LinkStatus
from samaconso.settings import Settings
from samaconso.tariffs import engine, xmlvend
from samaconso.tariffs.reference import DPP_2026
from tests.support.settings import Serve, override
from tests.support.users import make_user
from tests.support.xmlvend_standin import MeterAccount, XmlVendStandIn, wsdl_document
from tests.tariffs.helpers import make_meter
from tests.tariffs.pki import Pki

SIM = "/api/v1/simulator/prepaid"
NS = {"soap": xmlvend.NS_SOAP, "b": xmlvend.NS_BASE, "r": xmlvend.NS_REVENUE, "xsi": xmlvend.NS_XSI}


def node(parent: etree._Element, path: str) -> etree._Element:
    found = parent.find(path, NS)
    assert found is not None, path
    return found


def test_request_is_built_by_lxml_with_nrs_namespaces_and_escaping() -> None:
    raw = xmlvend.build_trial_credit_vend_request(
        client_ean="6004708001234",
        operator="op<1>",
        password='p&"w',
        meter_no="14221234567",
        amount=D("5000.99"),
        date_time="202611250312",
        unique_number=12345,
    )
    root = etree.fromstring(raw)
    req = node(root, "soap:Body/r:trialCreditVendReq")
    xsi = f"{{{xmlvend.NS_XSI}}}type"
    client = node(req, "b:clientID")
    assert client.get("ean") == "6004708001234"
    assert client.get(xsi) == "ns2:EANDeviceID"
    assert node(req, "b:terminalID").get(xsi) == "ns2:GenericDeviceID"
    assert dict(node(req, "b:msgID").attrib) == {"dateTime": "202611250312", "uniqueNumber": "12345"}
    assert node(req, "b:authCred/b:opName").text == "op<1>"
    assert node(req, "b:authCred/b:password").text == 'p&"w'
    assert node(req, "r:resource").get(xsi) == "ns2:Electricity"
    meter = node(req, "r:idMethod/b:meterIdentifier")
    assert meter.get("msno") == "14221234567"
    assert meter.get(xsi) == "ns2:MeterNumber"
    amt = node(req, "r:purchaseValue/b:amt")
    assert dict(amt.attrib) == {"value": "5000", "symbol": "AZM"}  # int(amount): fractions cut


def test_message_id_format() -> None:
    when, unique = xmlvend.new_message_id(datetime(2026, 6, 4, 9, 5))
    assert when == "202606040905"
    assert 10000 <= unique <= 99999


async def test_endpoint_choice_override_placeholder_and_unresolvable() -> None:
    wsdl = "https://10.101.1.160:8443/xmlvend/xmlvend.wsdl"
    declared = xmlvend.extract_endpoint(wsdl_document("https://127.0.0.1:9443/xmlvend/services"))
    assert declared == "https://127.0.0.1:9443/xmlvend/services"
    assert await xmlvend.choose_endpoint(wsdl, declared, None) == declared
    assert await xmlvend.choose_endpoint(wsdl, declared, "https://override/x") == "https://override/x"
    for placeholder in (
        "https://vendor.manufacturer.com/x",
        "https://PLACEHOLDER/x",
        "https://changeme.local/x",
    ):
        assert await xmlvend.choose_endpoint(wsdl, placeholder, None) == "https://10.101.1.160:8443/xmlvend"
    assert await xmlvend.choose_endpoint(wsdl, "https://vend.does-not-exist.invalid/x", None) == (
        "https://10.101.1.160:8443/xmlvend"
    )
    assert await xmlvend.choose_endpoint(wsdl, None, None) == "https://10.101.1.160:8443/xmlvend"


def test_unparseable_answer_is_a_parse_error_not_a_crash() -> None:
    bad = xmlvend.parse_trial_credit_vend_response(
        b"<html>oops", http_status=200, request_date_time="x", unique_number=1
    )
    assert bad.success is False
    assert bad.error is not None
    assert bad.error.startswith("parse error: ")
    assert bad.raw == "<html>oops"
    empty = xmlvend.parse_trial_credit_vend_response(
        b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body/></SOAP-ENV:Envelope>',
        http_status=200,
        request_date_time="x",
        unique_number=1,
    )
    assert empty.success is False
    assert empty.error is not None
    assert empty.error.startswith("parse error: ")


async def test_client_parses_the_full_typed_result_over_mutual_tls(
    pki: Pki, standin: XmlVendStandIn, vend_meters: dict[str, MeterAccount], xmlvend_on: Settings
) -> None:
    vend_meters["14229999999"] = MeterAccount(
        month_to_date_kwh=D(100), fee_paid=False, customer_name="FATOU SALL", debt=D(2500)
    )
    identity = xmlvend.load_client_identity(pki.client_p12, pki.password)
    client = xmlvend.XmlVendClient(xmlvend_on, identity)
    try:
        result = await client.trial_credit_vend("14229999999", D(20000))
    finally:
        await client.aclose()
    assert result.success, result.error
    assert result.http_status == 200
    assert result.endpoint == f"https://127.0.0.1:{standin.port}/xmlvend"  # placeholder in the WSDL
    info, customer, meter, purchase = result.device_info, result.client, result.meter, result.purchase
    token, debt, totals = result.token, result.debt_recovery, result.transaction_totals
    assert info is not None
    assert customer is not None
    assert meter is not None
    assert purchase is not None
    assert token is not None
    assert debt is not None
    assert totals is not None
    assert debt.balance is not None
    assert totals.less_round is not None
    assert totals.tender_amount is not None
    assert info.client_id.ean == "6004708001234"
    assert info.terminal_id.id == "6004708001234"
    assert customer.name == "FATOU SALL"  # trimmed
    assert customer.days_since_last_purchase == 3
    assert meter.number == "14229999999"
    assert purchase.units.unit == "kWh"
    assert token.sts_cipher == "0" * 20
    assert debt.balance.value == 2500
    assert [c.description for c in result.service_charges] == ["Redevance mensuelle"]
    assert result.service_charges[0].amount.value == 429
    expected = engine.prepaid_purchase(DPP_2026, D(20000), month_to_date_kwh=D(100))
    bounds = {1: (D(0), D(150)), 2: (D(150), D(250)), 3: (D(250), None)}
    assert [(s.step_begin, s.step_end, s.units.value, s.amount.value) for s in result.credit_steps] == [
        (*bounds[ln.tranche], ln.kwh, ln.amount) for ln in expected.lines
    ]
    assert [s.units.value for s in result.credit_steps][:2] == [50, 100]  # 100 kWh already bought
    assert result.credit_steps[-1].step_end is None
    assert purchase.units.value == expected.kwh
    assert totals.less_round.value == expected.rounding
    assert totals.tender_amount.value == 20000
    seen = standin.log.requests[-1]
    assert seen["headers"]["SOAPAction"] == "TrialCreditVendRequest"
    assert seen["headers"]["Content-Type"] == "text/xml; charset=utf-8"
    assert seen["headers"]["Accept"] == "text/xml"
    assert seen["peer"]  # the stand-in saw our client certificate


async def test_simulator_answers_through_vending_and_agrees_with_the_engine(
    client: AsyncClient,
    grids: Database,
    settings: Settings,
    standin: XmlVendStandIn,
    vend_meters: dict[str, MeterAccount],
    xmlvend_on: Settings,
) -> None:
    user = await make_user(grids, settings)
    meter = await make_meter(grids, users={user.id: LinkStatus.active})
    vend_meters[meter.number] = MeterAccount()
    for body in ({"amount": 30000}, {"amount": 1000}, {"kwh": 150}):
        r = await client.post(SIM, json={**body, "meter_id": str(meter.id)}, headers=user.headers)
        assert r.status_code == 200, r.text
        vend = r.json()
        assert vend["source"] == "vending", vend["fallback_reason"]
        assert vend["fallback_reason"] is None
        assert vend["vending"]["receipt_no"].startswith("TV")
        # the same question answered offline by the engine
        offline = await client.post(SIM, json={**body, "month_to_date_kwh": 0}, headers=user.headers)
        eng = offline.json()
        assert eng["source"] == "engine"
        keys = ("tranche", "kwh", "unit_price", "amount", "energy_amount", "municipal_tax", "vat")
        if "amount" in body:
            assert [{k: t[k] for k in keys} for t in vend["tranches"]] == [
                {k: t[k] for k in keys} for t in eng["tranches"]
            ]
            for field in ("kwh", "monthly_fee", "total", "rounding", "municipal_tax", "vat", "amount"):
                assert vend[field] == eng[field], field
        else:  # kWh question: the vending system is asked for the amount to pay
            assert vend["amount"] == eng["amount_to_pay"] == 13037
            assert vend["kwh"] >= 150
    assert [r["path"] for r in standin.log.requests] == ["/xmlvend/xmlvend.wsdl"] + ["/xmlvend"] * 3


async def test_simulator_falls_back_when_vending_is_stopped_disabled_or_cert_expired(
    client: AsyncClient,
    grids: Database,
    settings: Settings,
    pki: Pki,
    standin: XmlVendStandIn,
    vend_meters: dict[str, MeterAccount],
    xmlvend_on: Settings,
    serve: Serve,
) -> None:
    user = await make_user(grids, settings)
    meter = await make_meter(grids, users={user.id: LinkStatus.active})
    vend_meters[meter.number] = MeterAccount()
    body = {"amount": 5000, "meter_id": str(meter.id)}
    ok = await client.post(SIM, json=body, headers=user.headers)
    assert ok.json()["source"] == "vending"
    expected_kwh = ok.json()["kwh"]

    # unknown meter on the vending side: SOAP fault → engine
    vend_meters.clear()
    fault = await client.post(SIM, json=body, headers=user.headers)
    assert fault.json()["source"] == "engine"
    assert fault.json()["fallback_reason"] == "vending_error"
    vend_meters[meter.number] = MeterAccount()

    # the same deployment restarted with vending disabled
    async with serve(override(settings, xmlvend_enabled=False)) as disabled:
        off = await disabled.post(SIM, json=body, headers=user.headers)
    assert off.json()["source"] == "engine"
    assert off.json()["fallback_reason"] == "xmlvend_disabled"
    assert off.json()["kwh"] == expected_kwh

    # ... with an expired client certificate: never presented, the engine answers
    async with serve(override(settings, xmlvend_client_p12=pki.expired_p12)) as expired_cert:
        expired = await expired_cert.post(SIM, json=body, headers=user.headers)
    assert expired.status_code == 200
    assert expired.json()["source"] == "engine"
    assert expired.json()["fallback_reason"] == "certificate_expired"

    # stopped vending server
    standin.stop()
    down = await client.post(SIM, json=body, headers=user.headers)
    assert down.status_code == 200
    assert down.json()["source"] == "engine"
    assert down.json()["fallback_reason"] == "vending_unavailable"
    assert down.json()["kwh"] == expected_kwh


async def test_standin_rejects_a_client_without_certificate(pki: Pki, standin: XmlVendStandIn) -> None:
    ctx = ssl.create_default_context(cafile=str(pki.ca_pem))
    async with httpx.AsyncClient(verify=ctx, timeout=5) as anonymous:
        with pytest.raises((httpx.HTTPError, ssl.SSLError)):
            await anonymous.get(standin.wsdl_url)
    assert not any(r["path"].endswith(".wsdl") for r in standin.log.requests)
    identity = xmlvend.load_client_identity(pki.client_p12, pki.password)
    async with httpx.AsyncClient(verify=xmlvend.make_ssl_context(identity, pki.ca_pem), timeout=5) as holder:
        answer = await holder.get(standin.wsdl_url)
    assert answer.status_code == 200
    assert b"soap:address" in answer.content
    assert [r["path"] for r in standin.log.requests] == ["/xmlvend/xmlvend.wsdl"]


async def test_endpoint_override_is_used(
    grids: Database,
    settings: Settings,
    standin: XmlVendStandIn,
    vend_meters: dict[str, MeterAccount],
    xmlvend_on: Settings,
    serve: Serve,
) -> None:
    user = await make_user(grids, settings)
    meter = await make_meter(grids, users={user.id: LinkStatus.active})
    vend_meters[meter.number] = MeterAccount()
    body = {"amount": 5000, "meter_id": str(meter.id)}
    nowhere = override(settings, xmlvend_endpoint=f"https://127.0.0.1:{standin.port}/nowhere")
    async with serve(nowhere) as client:
        r = await client.post(SIM, json=body, headers=user.headers)
    assert r.json()["source"] == "engine"  # the stand-in answers 404 on that path
    assert standin.log.requests[-1]["path"] == "/nowhere"
    right = override(settings, xmlvend_endpoint=f"https://127.0.0.1:{standin.port}/xmlvend")
    async with serve(right) as client:
        r = await client.post(SIM, json=body, headers=user.headers)
    assert r.json()["source"] == "vending"
    assert standin.log.requests[-1]["path"] == "/xmlvend"
    assert "endpoint" not in r.json()["vending"]  # internal addresses never reach the app


async def test_certificate_days_to_expiry_in_readiness_and_metrics(
    client: AsyncClient, settings: Settings, pki: Pki, xmlvend_on: Settings, serve: Serve
) -> None:
    ready = await client.get("/health/ready")
    cert = ready.json()["details"]["xmlvend"]["certificate"]
    assert cert["status"] == "expiring"  # 20 days left
    assert 19 < cert["days_left"] <= 20
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    line = next(
        ln
        for ln in metrics.text.splitlines()
        if ln.startswith('samaconso_certificate_days_to_expiry{name="xmlvend"}')
    )
    assert 19 < float(line.split()[-1]) <= 20
    async with serve(override(settings, xmlvend_client_p12=pki.expired_p12)) as renewed_badly:
        ready = await renewed_badly.get("/health/ready")
    cert = ready.json()["details"]["xmlvend"]["certificate"]
    assert cert["status"] == "expired"
    assert cert["days_left"] < 0
    days_metric = REGISTRY.get_sample_value("samaconso_certificate_days_to_expiry", {"name": "xmlvend"})
    assert days_metric is not None
    assert days_metric < 0
    assert datetime.fromisoformat(cert["not_after"]) < datetime.now(UTC)


async def test_hanging_vending_server_costs_a_customer_the_budget_then_nothing(
    grids: Database,
    settings: Settings,
    vend_meters: dict[str, MeterAccount],
    xmlvend_on: Settings,
    serve: Serve,
) -> None:
    """A vending server that accepts connections and never answers: each simulation waits at most
    the simulator budget, then the breaker opens and the engine answers at once."""
    import asyncio
    import time

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hanging = override(
        settings,
        xmlvend_simulator_budget_s=1.0,
        xmlvend_wsdl_url=f"https://127.0.0.1:{port}/xmlvend/xmlvend.wsdl",
    )
    try:
        user = await make_user(grids, settings)
        meter = await make_meter(grids, users={user.id: LinkStatus.active})
        vend_meters[meter.number] = MeterAccount()
        body = {"amount": 5000, "meter_id": str(meter.id)}
        waits = []
        async with serve(hanging) as client:
            for _ in range(4):
                start = time.perf_counter()
                answer = await client.post(SIM, json=body, headers=user.headers)
                waits.append(time.perf_counter() - start)
                assert answer.status_code == 200
                assert answer.json()["source"] == "engine"
                assert answer.json()["fallback_reason"] == "vending_unavailable"
        assert all(w < 2.5 for w in waits[:3]), waits  # the budget (1 s), not DOMAIN's 30 s + 60 s
        assert waits[3] < 0.5, waits  # three timeouts opened the breaker
    finally:
        server.close()
