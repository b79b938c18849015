"""A local XMLVend 2.1 vending server (stand-in for Senelec's, which we cannot reach).

HTTPS on loopback that **requires a client certificate** signed by the configured CA
(``ssl.CERT_REQUIRED``), serves a WSDL (whose ``soap:address`` is a vendor placeholder host, as
shipped by real vending servers, so the client's fallback to ``<wsdl host>/xmlvend`` is exercised)
and answers ``TrialCreditVend`` from the same tariff engine as the app: one credit step per tranche,
a ``ServiceChrgTx`` for the monthly fee, ``lessRound`` for the rounding remainder, an optional
``DebtRecoveryTx``. Unknown meters get an ``xmlvendFaultResp`` (HTTP 500).

Used by the tests (``tests/tariffs``), which create a throw-away CA, server certificate and client
PKCS#12 at test time. It runs in a background thread: ``start()`` / ``stop()``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lxml import etree

from samaconso.tariffs.engine import ZERO, TariffError, TariffGrid, pick_version, prepaid_purchase
from samaconso.tariffs.xmlvend import NS_BASE, NS_REVENUE, NS_SOAP, NS_XSI, NSMAP, SOAP_ACTION

WSDL_PATH = "/xmlvend/xmlvend.wsdl"
ENDPOINT_PATH = "/xmlvend"
PLACEHOLDER_ADDRESS = "https://vending.manufacturer.example:8443/xmlvend/services/XMLVend21"
CURRENCY = "XOF"


@dataclass
class MeterAccount:
    """What the vending system knows about a meter."""

    tariff_code: str = "DPP"
    month_to_date_kwh: Decimal = ZERO
    fee_paid: bool = False
    customer_name: str = "CLIENT WOYOFAL"
    address: str = "DAKAR"
    account_no: str = "0000000001"
    debt: Decimal = ZERO  # recovered at 0 in a trial vend, balance shown


@dataclass
class StandInLog:
    requests: list[dict[str, Any]] = field(default_factory=list)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def wsdl_document(address: str = PLACEHOLDER_ADDRESS) -> bytes:
    ns_wsdl = "http://schemas.xmlsoap.org/wsdl/"
    ns_soap = "http://schemas.xmlsoap.org/wsdl/soap/"
    root = etree.Element(
        _q(ns_wsdl, "definitions"),
        nsmap={"wsdl": ns_wsdl, "soap": ns_soap, "tns": NS_REVENUE},
        targetNamespace=NS_REVENUE,
        name="XMLVend21",
    )
    port_type = etree.SubElement(root, _q(ns_wsdl, "portType"), name="XMLVendRevenuePortType")
    etree.SubElement(port_type, _q(ns_wsdl, "operation"), name="TrialCreditVendRequest")
    binding = etree.SubElement(
        root, _q(ns_wsdl, "binding"), name="XMLVendBinding", type="tns:XMLVendRevenuePortType"
    )
    etree.SubElement(
        binding, _q(ns_soap, "binding"), style="document", transport="http://schemas.xmlsoap.org/soap/http"
    )
    op = etree.SubElement(binding, _q(ns_wsdl, "operation"), name="TrialCreditVendRequest")
    etree.SubElement(op, _q(ns_soap, "operation"), soapAction=SOAP_ACTION)
    service = etree.SubElement(root, _q(ns_wsdl, "service"), name="XMLVendService")
    port = etree.SubElement(service, _q(ns_wsdl, "port"), name="XMLVendPort", binding="tns:XMLVendBinding")
    etree.SubElement(port, _q(ns_soap, "address"), location=address)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _fault(message: str) -> bytes:
    envelope = etree.Element(_q(NS_SOAP, "Envelope"), nsmap=NSMAP)
    body = etree.SubElement(envelope, _q(NS_SOAP, "Body"))
    fault = etree.SubElement(body, _q(NS_SOAP, "Fault"))
    etree.SubElement(fault, "faultcode").text = "SOAP-ENV:Client"
    etree.SubElement(fault, "faultstring").text = message
    detail = etree.SubElement(fault, "detail")
    resp = etree.SubElement(detail, _q(NS_BASE, "xmlvendFaultResp"))
    etree.SubElement(resp, _q(NS_BASE, "fault"), {_q(NS_XSI, "type"): "ns2:UnknownMeterEx"}).text = message
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def trial_vend_response(
    *,
    grid: TariffGrid,
    account: MeterAccount,
    meter_no: str,
    amount: Decimal,
    client_ean: str,
    terminal_id: str,
    msg_date_time: str,
    unique_number: str,
    receipt_no: str,
) -> bytes:
    """The XMLVend ``trialCreditVendResp`` for a purchase, computed with the tariff engine."""
    purchase = prepaid_purchase(
        grid, amount, month_to_date_kwh=account.month_to_date_kwh, fee_paid=account.fee_paid
    )
    xsi_type = _q(NS_XSI, "type")
    envelope = etree.Element(_q(NS_SOAP, "Envelope"), nsmap=NSMAP)
    body = etree.SubElement(envelope, _q(NS_SOAP, "Body"))
    resp = etree.SubElement(body, _q(NS_REVENUE, "trialCreditVendResp"))

    def base(
        parent: etree._Element, name: str, attrs: dict[str, str] | None = None, text: str | None = None
    ) -> etree._Element:
        el = etree.SubElement(parent, _q(NS_BASE, name), attrs or {})
        if text is not None:
            el.text = text
        return el

    def rev(
        parent: etree._Element, name: str, attrs: dict[str, str] | None = None, text: str | None = None
    ) -> etree._Element:
        el = etree.SubElement(parent, _q(NS_REVENUE, name), attrs or {})
        if text is not None:
            el.text = text
        return el

    def money(parent: etree._Element, ns_base: bool, name: str, value: Decimal) -> None:
        (base if ns_base else rev)(parent, name, {"value": _num(value), "symbol": CURRENCY})

    base(resp, "clientID", {xsi_type: "ns2:EANDeviceID", "ean": client_ean})
    base(resp, "serverID", {xsi_type: "ns2:EANDeviceID", "ean": "6004708000001"})
    base(resp, "terminalID", {xsi_type: "ns2:GenericDeviceID", "id": terminal_id})
    base(resp, "reqMsgID", {"dateTime": msg_date_time, "uniqueNumber": unique_number})
    base(resp, "respDateTime", text=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    base(resp, "dispHeader", text="ACHAT TEST WOYOFAL")
    status = base(resp, "clientStatus")
    money(status, True, "availCredit", Decimal(0))
    base(resp, "utility", {"name": "SENELEC", "address": "28 rue Vincens, Dakar"})
    base(resp, "vendor", {"name": "SAMACONSO STAND-IN", "address": "127.0.0.1"})
    base(
        resp,
        "custVendDetail",
        {
            "accNo": account.account_no,
            "name": f"  {account.customer_name}  ",
            "address": account.address,
            "locRef": "DKC",
            "daysLastPurchase": "3",
        },
    )
    receipt = rev(resp, "creditVendReceipt", {"receiptNo": receipt_no})
    txs = rev(receipt, "transactions")

    credit = rev(txs, "tx", {xsi_type: "ns3:CreditVendTx", "receiptNo": receipt_no})
    money(credit, False, "amt", sum((ln.amount for ln in purchase.lines), ZERO))
    issue = rev(credit, "creditTokenIssue", {xsi_type: "ns3:STS1CreditTokenIssue"})
    base(issue, "desc", text="Trial Credit Vend - token sans valeur")
    meter = base(issue, "meterDetail", {"msno": meter_no, "sgc": "600675", "krn": "1", "ti": "01"})
    base(meter, "meterType", {"at": "07", "tt": "02"})
    base(meter, "maxVendAmt", text="5000000")
    base(meter, "minVendAmt", text=_num(grid.minimum_purchase))
    base(meter, "maxVendEng", text="20000")
    base(meter, "minVendEng", text="0.1")
    token = base(issue, "token", {xsi_type: "ns2:STS1Token"})
    base(token, "stsCipher", text="0000" * 5)
    base(issue, "units", {"value": _num(purchase.kwh), "siUnit": "kWh"})
    base(issue, "resource", {xsi_type: "ns2:Electricity"})
    tariff = rev(credit, "tariff")
    base(tariff, "name", text=grid.code)
    steps = rev(credit, "creditStep")
    bounds = {t.position: t for t in grid.tranches}
    for line in purchase.lines:
        t = bounds[line.tranche]
        step = rev(steps, "creditStepTx")
        base(step, "stepB", text=_num(t.kwh_from))
        base(step, "stepE", text=_num(t.kwh_to) if t.kwh_to is not None else "")
        base(step, "price", text=_num(line.unit_price))
        money(step, True, "amt", line.amount)
        base(step, "units", {"value": _num(line.kwh), "siUnit": "kWh"})

    if purchase.fee > 0:
        fee = rev(txs, "tx", {xsi_type: "ns3:ServiceChrgTx", "receiptNo": receipt_no})
        money(fee, False, "amt", purchase.fee)
        rev(fee, "accNo", text=account.account_no)
        rev(fee, "accDesc", text="Redevance mensuelle")
        base(rev(fee, "tariff"), "name", text=grid.code)
    if account.debt > 0:
        debt = rev(txs, "tx", {xsi_type: "ns3:DebtRecoveryTx", "receiptNo": receipt_no})
        money(debt, False, "amt", Decimal(0))
        rev(debt, "accNo", text=account.account_no)
        rev(debt, "accDesc", text="Recouvrement de dette")
        money(debt, False, "balance", account.debt)
        base(rev(debt, "tariff"), "name", text=grid.code)
    money(txs, False, "lessRound", purchase.rounding)
    money(txs, False, "tenderAmt", amount)
    money(txs, False, "change", Decimal(0))
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client refused during the TLS handshake is expected here, not worth a traceback."""


class XmlVendStandIn:
    """The server. ``grids`` and ``meters`` describe the vending system's data."""

    def __init__(
        self,
        *,
        server_cert: Path,
        server_key: Path,
        client_ca: Path,
        grids: Sequence[TariffGrid],
        meters: dict[str, MeterAccount],
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        host: str = "127.0.0.1",
    ) -> None:
        self.grids = list(grids)
        self.meters = meters
        self.today = today
        self.log = StandInLog()
        self._receipts = iter(range(1, 10**9))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(client_ca))
        ctx.load_cert_chain(str(server_cert), str(server_key))
        self._ctx = ctx
        self._server = _QuietServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._server.socket = ctx.wrap_socket(
            self._server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._thread: threading.Thread | None = None
        self._connections: set[Any] = set()  # open client connections, closed by stop()
        self._lock = threading.Lock()
        self.host = host

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def wsdl_url(self) -> str:
        return f"https://{self.host}:{self.port}{WSDL_PATH}"

    def start(self) -> XmlVendStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="xmlvend-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """The vending server goes down: no new connection, and the kept-alive ones are cut (a
        client holding one must not go on getting answers)."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def setup(self) -> None:
                self.request.settimeout(10)
                self.request.do_handshake()  # raises (and drops the connection) without a valid client cert
                with standin._lock:
                    standin._connections.add(self.request)
                super().setup()

            def finish(self) -> None:
                with standin._lock:
                    standin._connections.discard(self.request)
                super().finish()

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                peer = self.request.getpeercert() or {}
                standin.log.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "peer": peer}
                )
                if self.path.split("?")[0] == WSDL_PATH:
                    self._send(200, wsdl_document())
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 1_000_000))
                peer = self.request.getpeercert() or {}
                entry: dict[str, Any] = {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": raw,
                    "peer": peer,
                }
                standin.log.requests.append(entry)
                if self.path != ENDPOINT_PATH:
                    self._send(404, b"not found", "text/plain")
                    return
                if self.headers.get("SOAPAction", "").strip('"') != SOAP_ACTION:
                    self._send(500, _fault("unsupported SOAPAction"))
                    return
                try:
                    status, body = standin.answer(raw)
                except Exception:
                    status, body = 500, _fault("malformed request")
                self._send(status, body)

        return Handler

    def answer(self, raw: bytes) -> tuple[int, bytes]:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(raw, parser=parser)
        req = root.find(f"{{{NS_SOAP}}}Body/{{{NS_REVENUE}}}trialCreditVendReq")
        if req is None:
            return 500, _fault("expected trialCreditVendReq")
        client = req.find(_q(NS_BASE, "clientID"))
        terminal = req.find(_q(NS_BASE, "terminalID"))
        msg = req.find(_q(NS_BASE, "msgID"))
        meter = req.find(f"{{{NS_REVENUE}}}idMethod/{{{NS_BASE}}}meterIdentifier")
        amt = req.find(f"{{{NS_REVENUE}}}purchaseValue/{{{NS_BASE}}}amt")
        if client is None or terminal is None or msg is None or meter is None or amt is None:
            return 500, _fault("incomplete request")
        meter_no = meter.get("msno", "")
        account = self.meters.get(meter_no)
        if account is None:
            return 500, _fault(f"unknown meter {meter_no}")
        grid = pick_version(self.grids, account.tariff_code, self.today())
        if grid is None:
            return 500, _fault("no tariff in force")
        try:
            amount = Decimal(int(amt.get("value", "0")))
            body = trial_vend_response(
                grid=grid,
                account=account,
                meter_no=meter_no,
                amount=amount,
                client_ean=client.get("ean", ""),
                terminal_id=terminal.get("id", ""),
                msg_date_time=msg.get("dateTime", ""),
                unique_number=msg.get("uniqueNumber", ""),
                receipt_no=f"TV{next(self._receipts):08d}",
            )
        except (TariffError, ValueError) as exc:
            return 500, _fault(f"vend refused: {exc}")
        return 200, body
