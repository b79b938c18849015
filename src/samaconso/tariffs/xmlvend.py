"""XMLVend 2.1 ``TrialCreditVend`` client (the vending system's trial purchase), DOMAIN §6.

Steps: (1) GET the WSDL (30 s timeout) over mutual TLS; (2) take its ``soap:address`` (or soap12)
location, unless ``settings.xmlvend_endpoint`` (env ``SAMACONSO_XMLVEND_ENDPOINT`` or
``XMLVEND_ENDPOINT``) overrides it; a placeholder host (``manufacturer``, ``placeholder``,
``example``, ``changeme``) or one that does not resolve falls back to the WSDL's scheme and host
with path ``/xmlvend``; (3) POST the SOAP envelope (60 s read timeout) with the three headers.

The request is built with lxml (escaping serialiser, never string formatting); the response is
parsed with a hardened parser (no entities, no network) into :class:`TrialVendResult`.

Transport: the client certificate comes from a PKCS#12 file (path and passphrase from settings,
never from source), loaded with ``cryptography`` and handed to ``ssl``; the server certificate is
verified against ``settings.xmlvend_ca_bundle``; TLS 1.2 is allowed and legacy renegotiation is
enabled when OpenSSL supports it (the vending server is old). The client certificate's days to
expiry are published as the ``samaconso_certificate_days_to_expiry{name="xmlvend"}`` metric and in
``/health/ready`` details; an expired certificate is never presented (the simulator falls back to
the engine).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree
from pydantic import BaseModel

from samaconso.kit.metrics import CERT_DAYS_LEFT
from samaconso.kit.outbound import CircuitBreaker
from samaconso.settings import Settings

log = structlog.get_logger(__name__)

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_BASE = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
NS_REVENUE = "http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
NS_WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
NSMAP = {"SOAP-ENV": NS_SOAP, "ns2": NS_BASE, "ns3": NS_REVENUE, "xsi": NS_XSI}

SOAP_ACTION = "TrialCreditVendRequest"
REQUEST_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": SOAP_ACTION,
    "Accept": "text/xml",
}
CURRENCY_SYMBOL = "AZM"
PLACEHOLDER_TOKENS = ("manufacturer", "placeholder", "example", "changeme")
OP_LEGACY_SERVER_CONNECT = getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0x4)
CERT_METRIC_NAME = "xmlvend"


class VendingError(RuntimeError):
    """The vending system could not answer (network, TLS, HTTP or XML problem)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


# ------------------------------------------------------------------------------------ the request
def build_trial_credit_vend_request(
    *,
    client_ean: str,
    operator: str,
    password: str,
    meter_no: str,
    amount: Decimal | int | float,
    date_time: str,
    unique_number: int,
) -> bytes:
    """The SOAP envelope of a ``trialCreditVendReq`` (``amt value`` = int(amount), fractions cut)."""
    envelope = etree.Element(_q(NS_SOAP, "Envelope"), nsmap=NSMAP)
    body = etree.SubElement(envelope, _q(NS_SOAP, "Body"))
    req = etree.SubElement(body, _q(NS_REVENUE, "trialCreditVendReq"))
    xsi_type = _q(NS_XSI, "type")
    etree.SubElement(req, _q(NS_BASE, "clientID"), {xsi_type: "ns2:EANDeviceID", "ean": client_ean})
    etree.SubElement(req, _q(NS_BASE, "terminalID"), {xsi_type: "ns2:GenericDeviceID", "id": client_ean})
    etree.SubElement(req, _q(NS_BASE, "msgID"), {"dateTime": date_time, "uniqueNumber": str(unique_number)})
    cred = etree.SubElement(req, _q(NS_BASE, "authCred"))
    etree.SubElement(cred, _q(NS_BASE, "opName")).text = operator
    etree.SubElement(cred, _q(NS_BASE, "password")).text = password
    etree.SubElement(req, _q(NS_REVENUE, "resource"), {xsi_type: "ns2:Electricity"})
    id_method = etree.SubElement(req, _q(NS_REVENUE, "idMethod"), {xsi_type: "ns2:VendIDMethod"})
    etree.SubElement(
        id_method, _q(NS_BASE, "meterIdentifier"), {xsi_type: "ns2:MeterNumber", "msno": meter_no}
    )
    value = etree.SubElement(req, _q(NS_REVENUE, "purchaseValue"), {xsi_type: "ns2:PurchaseValueCurrency"})
    etree.SubElement(value, _q(NS_BASE, "amt"), {"value": str(int(amount)), "symbol": CURRENCY_SYMBOL})
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def new_message_id(now: datetime | None = None) -> tuple[str, int]:
    """(dateTime ``YYYYMMDDHHMM`` in local time, uniqueNumber 10000-99999)."""
    moment = now or datetime.now()
    return moment.strftime("%Y%m%d%H%M"), 10000 + secrets.randbelow(90000)


# ------------------------------------------------------------------------------------- the WSDL
def extract_endpoint(wsdl: bytes) -> str | None:
    """The ``soap:address`` (or ``soap12:address``) location declared by the WSDL."""
    root = etree.fromstring(wsdl, parser=_parser())
    for ns in (NS_WSDL_SOAP, NS_WSDL_SOAP12):
        for address in root.iter(_q(ns, "address")):
            location = (address.get("location") or "").strip()
            if location:
                return location
    return None


def looks_like_placeholder(host: str) -> bool:
    lowered = host.lower()
    return any(token in lowered for token in PLACEHOLDER_TOKENS)


def fallback_endpoint(wsdl_url: str) -> str:
    parts = urlsplit(wsdl_url)
    return f"{parts.scheme}://{parts.netloc}/xmlvend"


async def host_resolves(host: str, timeout_s: float = 3.0) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError):
        return False
    return True


async def choose_endpoint(wsdl_url: str, declared: str | None, override: str | None) -> str:
    """Where to POST: the override if configured, else the WSDL's address unless it is a
    placeholder or does not resolve, else the WSDL's scheme and host with ``/xmlvend``."""
    if override:
        return override
    if not declared:
        return fallback_endpoint(wsdl_url)
    host = urlsplit(declared).hostname or ""
    if not host or looks_like_placeholder(host) or not await host_resolves(host):
        return fallback_endpoint(wsdl_url)
    return declared


# ------------------------------------------------------------------------------- typed response
class DeviceId(BaseModel):
    ean: str | None = None
    id: str | None = None
    type: str | None = None


class DeviceInfo(BaseModel):
    client_id: DeviceId
    server_id: DeviceId
    terminal_id: DeviceId


class TransactionInfo(BaseModel):
    response_date_time: str | None
    request_date_time: str
    unique_number: str
    receipt_no: str | None
    display_header: str | None


class NameAddress(BaseModel):
    name: str | None = None
    address: str | None = None


class Money(BaseModel):
    value: Decimal
    currency: str | None = None


class Units(BaseModel):
    value: Decimal
    unit: str | None = None


class ClientInfo(BaseModel):
    account_no: str | None
    name: str | None
    address: str | None
    location_ref: str | None
    days_since_last_purchase: int | None
    available_credit: Money | None


class MeterType(BaseModel):
    at: str | None = None
    tt: str | None = None


class MeterInfo(BaseModel):
    number: str | None
    sgc: str | None
    krn: str | None
    ti: str | None
    meter_type: MeterType
    max_vend_amount: Decimal | None
    min_vend_amount: Decimal | None
    max_vend_energy: Decimal | None
    min_vend_energy: Decimal | None


class TariffName(BaseModel):
    name: str | None = None


class PurchaseInfo(BaseModel):
    receipt_no: str | None
    amount: Money
    units: Units
    tariff: TariffName
    resource_type: str | None


class TokenInfo(BaseModel):
    type: str | None
    sts_cipher: str
    description: str | None


class CreditStep(BaseModel):
    step_begin: Decimal = Decimal(0)
    step_end: Decimal | None = None
    price_per_unit: Decimal
    amount: Money
    units: Units


class DebtRecovery(BaseModel):
    account_no: str | None
    description: str | None
    amount: Money
    balance: Money | None
    tariff: TariffName


class ServiceCharge(BaseModel):
    type: str = "ServiceCharge"
    account_no: str | None
    description: str | None
    amount: Money
    tariff: TariffName


class TransactionTotals(BaseModel):
    less_round: Money | None
    tender_amount: Money | None
    change: Money | None


class TrialVendResult(BaseModel):
    success: bool
    http_status: int
    error: str | None = None
    endpoint: str | None = None
    device_info: DeviceInfo | None = None
    transaction_info: TransactionInfo | None = None
    utility: NameAddress | None = None
    vendor: NameAddress | None = None
    client: ClientInfo | None = None
    meter: MeterInfo | None = None
    purchase: PurchaseInfo | None = None
    token: TokenInfo | None = None
    credit_steps: list[CreditStep] = []
    debt_recovery: DebtRecovery | None = None
    service_charges: list[ServiceCharge] = []
    transaction_totals: TransactionTotals | None = None
    raw: str | None = None


def _child(el: etree._Element | None, ns: str, name: str) -> etree._Element | None:
    return None if el is None else el.find(_q(ns, name))


def _attr(el: etree._Element | None, name: str) -> str | None:
    return None if el is None else el.get(name)


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    text = el.text.strip()
    return text or None


def _dec(raw: str | None) -> Decimal | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return Decimal(raw.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {raw!r}") from exc


def _money(el: etree._Element | None) -> Money | None:
    value = _dec(_attr(el, "value"))
    return None if value is None else Money(value=value, currency=_attr(el, "symbol"))


def _required_money(el: etree._Element | None, what: str) -> Money:
    money = _money(el)
    if money is None:
        raise ValueError(f"missing amount in {what}")
    return money


def _units(el: etree._Element | None) -> Units:
    return Units(value=_dec(_attr(el, "value")) or Decimal(0), unit=_attr(el, "siUnit"))


def _xsi_type(el: etree._Element | None) -> str | None:
    return _attr(el, _q(NS_XSI, "type"))


def _tariff(el: etree._Element | None) -> TariffName:
    return TariffName(name=_text(_child(_child(el, NS_REVENUE, "tariff"), NS_BASE, "name")))


def parse_trial_credit_vend_response(
    xml: bytes, *, http_status: int, request_date_time: str, unique_number: int | str
) -> TrialVendResult:
    """Parse ``SOAP-ENV:Envelope/Body/ns3:trialCreditVendResp``; any failure → success False with
    ``error = "parse error: ..."`` and the raw XML."""
    try:
        return _parse(xml, http_status, request_date_time, str(unique_number))
    except Exception as exc:
        return TrialVendResult(
            success=False,
            http_status=http_status,
            error=f"parse error: {type(exc).__name__}: {exc}",
            raw=xml.decode("utf-8", "replace")[:20_000],
        )


def _parse(xml: bytes, http_status: int, request_date_time: str, unique_number: str) -> TrialVendResult:
    root = etree.fromstring(xml, parser=_parser())
    body = root.find(_q(NS_SOAP, "Body"))
    resp = _child(body, NS_REVENUE, "trialCreditVendResp")
    if resp is None:
        fault = None if body is None else body.find(f".//{{{NS_SOAP}}}Fault")
        if fault is None and body is not None:
            fault = _child(body, NS_BASE, "xmlvendFaultResp")
        if fault is not None:
            message = " ".join(t.strip() for t in fault.itertext() if t.strip())
            return TrialVendResult(success=False, http_status=http_status, error=f"fault: {message}"[:500])
        raise ValueError("no trialCreditVendResp in the SOAP body")

    def device(name: str) -> DeviceId:
        el = _child(resp, NS_BASE, name)
        return DeviceId(ean=_attr(el, "ean"), id=_attr(el, "id"), type=_xsi_type(el))

    receipt = _child(resp, NS_REVENUE, "creditVendReceipt")
    if receipt is None:
        raise ValueError("no creditVendReceipt")
    cust = _child(resp, NS_BASE, "custVendDetail")
    days = _attr(cust, "daysLastPurchase")
    name = _attr(cust, "name")
    result = TrialVendResult(
        success=http_status == 200,
        http_status=http_status,
        device_info=DeviceInfo(
            client_id=device("clientID"), server_id=device("serverID"), terminal_id=device("terminalID")
        ),
        transaction_info=TransactionInfo(
            response_date_time=_text(_child(resp, NS_BASE, "respDateTime")),
            request_date_time=request_date_time,
            unique_number=unique_number,
            receipt_no=_attr(receipt, "receiptNo"),
            display_header=_text(_child(resp, NS_BASE, "dispHeader")),
        ),
        utility=NameAddress(
            name=_attr(_child(resp, NS_BASE, "utility"), "name"),
            address=_attr(_child(resp, NS_BASE, "utility"), "address"),
        ),
        vendor=NameAddress(
            name=_attr(_child(resp, NS_BASE, "vendor"), "name"),
            address=_attr(_child(resp, NS_BASE, "vendor"), "address"),
        ),
        client=ClientInfo(
            account_no=_attr(cust, "accNo"),
            name=name.strip() if name is not None else None,
            address=_attr(cust, "address"),
            location_ref=_attr(cust, "locRef"),
            days_since_last_purchase=int(days) if days not in (None, "") else None,
            available_credit=_money(_child(_child(resp, NS_BASE, "clientStatus"), NS_BASE, "availCredit")),
        ),
    )
    transactions = _child(receipt, NS_REVENUE, "transactions")
    if transactions is None:
        raise ValueError("no transactions")
    for tx in transactions.findall(_q(NS_REVENUE, "tx")):
        kind = _xsi_type(tx) or ""
        if "CreditVendTx" in kind and result.purchase is None:
            _parse_credit(tx, result)
        elif "DebtRecoveryTx" in kind:
            result.debt_recovery = DebtRecovery(
                account_no=_text(_child(tx, NS_REVENUE, "accNo")),
                description=_text(_child(tx, NS_REVENUE, "accDesc")),
                amount=_required_money(_child(tx, NS_REVENUE, "amt"), "DebtRecoveryTx"),
                balance=_money(_child(tx, NS_REVENUE, "balance")),
                tariff=_tariff(tx),
            )
        elif "ServiceChrgTx" in kind:
            result.service_charges.append(
                ServiceCharge(
                    account_no=_text(_child(tx, NS_REVENUE, "accNo")),
                    description=_text(_child(tx, NS_REVENUE, "accDesc")),
                    amount=_required_money(_child(tx, NS_REVENUE, "amt"), "ServiceChrgTx"),
                    tariff=_tariff(tx),
                )
            )
    if result.purchase is None:
        raise ValueError("no CreditVendTx")
    result.transaction_totals = TransactionTotals(
        less_round=_money(_child(transactions, NS_REVENUE, "lessRound")),
        tender_amount=_money(_child(transactions, NS_REVENUE, "tenderAmt")),
        change=_money(_child(transactions, NS_REVENUE, "change")),
    )
    return result


def _parse_credit(tx: etree._Element, result: TrialVendResult) -> None:
    issue = _child(tx, NS_REVENUE, "creditTokenIssue")
    if issue is None:
        raise ValueError("no creditTokenIssue")
    meter = _child(issue, NS_BASE, "meterDetail")
    meter_type = _child(meter, NS_BASE, "meterType")
    result.meter = MeterInfo(
        number=_attr(meter, "msno"),
        sgc=_attr(meter, "sgc"),
        krn=_attr(meter, "krn"),
        ti=_attr(meter, "ti"),
        meter_type=MeterType(at=_attr(meter_type, "at"), tt=_attr(meter_type, "tt")),
        max_vend_amount=_dec(_text(_child(meter, NS_BASE, "maxVendAmt"))),
        min_vend_amount=_dec(_text(_child(meter, NS_BASE, "minVendAmt"))),
        max_vend_energy=_dec(_text(_child(meter, NS_BASE, "maxVendEng"))),
        min_vend_energy=_dec(_text(_child(meter, NS_BASE, "minVendEng"))),
    )
    result.purchase = PurchaseInfo(
        receipt_no=_attr(tx, "receiptNo"),
        amount=_required_money(_child(tx, NS_REVENUE, "amt"), "CreditVendTx"),
        units=_units(_child(issue, NS_BASE, "units")),
        tariff=_tariff(tx),
        resource_type=_xsi_type(_child(issue, NS_BASE, "resource")),
    )
    token = _child(issue, NS_BASE, "token")
    if token is not None:
        result.token = TokenInfo(
            type=_xsi_type(token),
            sts_cipher=_text(_child(token, NS_BASE, "stsCipher")) or "",
            description=_text(_child(issue, NS_BASE, "desc")),
        )
    steps = _child(tx, NS_REVENUE, "creditStep")
    if steps is not None:
        for step in steps.findall(_q(NS_REVENUE, "creditStepTx")):
            price = _dec(_text(_child(step, NS_BASE, "price")))
            if price is None:
                raise ValueError("credit step without price")
            result.credit_steps.append(
                CreditStep(
                    step_begin=_dec(_text(_child(step, NS_BASE, "stepB"))) or Decimal(0),
                    step_end=_dec(_text(_child(step, NS_BASE, "stepE"))),
                    price_per_unit=price,
                    amount=_required_money(_child(step, NS_BASE, "amt"), "creditStepTx"),
                    units=_units(_child(step, NS_BASE, "units")),
                )
            )


# ------------------------------------------------------------------------- certificate & TLS
@dataclass(frozen=True)
class ClientIdentity:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key_pem: bytes  # encrypted with ``key_password``
    key_password: bytes

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    def days_left(self, now: datetime | None = None) -> float:
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400


def load_client_identity(p12_path: Path, passphrase: str | None) -> ClientIdentity:
    data = p12_path.read_bytes()
    key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase.encode() if passphrase else None)
    if key is None or cert is None:
        raise VendingError("certificate_invalid", "the PKCS#12 file holds no key or no certificate")
    ephemeral = secrets.token_urlsafe(24).encode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(ephemeral),
    )
    return ClientIdentity(cert, tuple(extra or ()), key_pem, ephemeral)


def make_ssl_context(identity: ClientIdentity, ca_bundle: Path | None) -> ssl.SSLContext:
    """Client TLS context: server verified against the CA bundle, our certificate presented,
    TLS 1.2 minimum, legacy renegotiation allowed (old vending servers)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if ca_bundle is not None:
        ctx.load_verify_locations(cafile=str(ca_bundle))
    else:
        ctx.load_default_certs()
    ctx.options |= OP_LEGACY_SERVER_CONNECT
    # ssl can only read a key pair from files: write them (key encrypted with a one-off password)
    # into a private temporary directory that is removed at once.
    with tempfile.TemporaryDirectory(prefix="xmlvend-") as tmp:
        os.chmod(tmp, 0o700)
        cert_file = Path(tmp) / "client.pem"
        key_file = Path(tmp) / "client.key"
        chain = [identity.certificate, *identity.chain]
        cert_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
        key_file.write_bytes(identity.key_pem)
        ctx.load_cert_chain(str(cert_file), str(key_file), password=identity.key_password)
    return ctx


@dataclass(frozen=True)
class CertificateStatus:
    status: str  # ok | expiring | expired | missing | unreadable
    days_left: float | None = None
    not_after: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "days_left": round(self.days_left, 1) if self.days_left is not None else None,
            "not_after": self.not_after.isoformat() if self.not_after else None,
        }


EXPIRING_DAYS = 30


def certificate_status(settings: Settings, now: datetime | None = None) -> CertificateStatus:
    """Days to expiry of the configured client certificate (also sets the metric)."""
    if settings.xmlvend_client_p12 is None:
        return CertificateStatus("missing")
    try:
        identity = load_client_identity(
            settings.xmlvend_client_p12, _secret(settings.xmlvend_client_p12_password)
        )
    except (OSError, ValueError, VendingError) as exc:
        log.warning("xmlvend_certificate_unreadable", error=type(exc).__name__)
        return CertificateStatus("unreadable")
    days = identity.days_left(now)
    CERT_DAYS_LEFT.labels(CERT_METRIC_NAME).set(days)
    status = "expired" if days <= 0 else "expiring" if days < EXPIRING_DAYS else "ok"
    return CertificateStatus(status, days, identity.not_after)


async def health_details(settings: Settings) -> dict[str, Any]:
    """Detail provider for ``/health/ready`` (never fails readiness by itself)."""
    info: dict[str, Any] = {"enabled": settings.xmlvend_enabled}
    if settings.xmlvend_enabled or settings.xmlvend_client_p12 is not None:
        status = await asyncio.to_thread(certificate_status, settings)
        info["certificate"] = status.as_dict()
    return {"xmlvend": info}


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


# ----------------------------------------------------------------------------------- the client
def settings_key(settings: Settings) -> tuple[Any, ...]:
    """What a client depends on: a change of any of these builds a new client."""
    p12 = settings.xmlvend_client_p12
    mtime = p12.stat().st_mtime if p12 is not None and p12.exists() else None
    return (
        settings.xmlvend_wsdl_url,
        settings.xmlvend_endpoint,
        str(p12),
        mtime,
        _secret(settings.xmlvend_client_p12_password),
        str(settings.xmlvend_ca_bundle),
        settings.xmlvend_client_ean,
        settings.xmlvend_operator,
        _secret(settings.xmlvend_operator_password),
        settings.xmlvend_connect_timeout_s,
        settings.xmlvend_wsdl_timeout_s,
        settings.xmlvend_read_timeout_s,
    )


class XmlVendClient:
    """One per configuration; keeps its TLS context, HTTP connections and resolved endpoint."""

    def __init__(self, settings: Settings, identity: ClientIdentity) -> None:
        if not settings.xmlvend_wsdl_url:
            raise VendingError("not_configured", "SAMACONSO_XMLVEND_WSDL_URL is not set")
        self.settings = settings
        self.identity = identity
        self.wsdl_url = settings.xmlvend_wsdl_url
        self.breaker = CircuitBreaker("xmlvend", failure_threshold=3, reset_timeout_s=30.0)
        self._endpoint: str | None = None
        self._http = httpx.AsyncClient(
            verify=make_ssl_context(identity, settings.xmlvend_ca_bundle),
            timeout=httpx.Timeout(
                connect=settings.xmlvend_connect_timeout_s,
                read=settings.xmlvend_read_timeout_s,
                write=settings.xmlvend_read_timeout_s,
                pool=settings.xmlvend_connect_timeout_s,
            ),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def endpoint(self) -> str:
        if self._endpoint is None:
            response = await self._http.get(
                self.wsdl_url,
                timeout=httpx.Timeout(
                    self.settings.xmlvend_wsdl_timeout_s, connect=self.settings.xmlvend_connect_timeout_s
                ),
            )
            response.raise_for_status()
            declared = extract_endpoint(response.content)
            self._endpoint = await choose_endpoint(self.wsdl_url, declared, self.settings.xmlvend_endpoint)
            log.info("xmlvend_endpoint_selected", endpoint=self._endpoint)
        return self._endpoint

    async def trial_credit_vend(
        self, meter_no: str, amount: Decimal, *, budget_s: float | None = None
    ) -> TrialVendResult:
        """Ask the vending system what ``amount`` FCFA would buy for ``meter_no`` (no real sale)."""
        if self.identity.days_left() <= 0:
            raise VendingError("certificate_expired", "the XMLVend client certificate has expired")

        async def call() -> TrialVendResult:
            endpoint = await self.endpoint()
            date_time, unique = new_message_id()
            payload = build_trial_credit_vend_request(
                client_ean=self.settings.xmlvend_client_ean,
                operator=self.settings.xmlvend_operator or "",
                password=_secret(self.settings.xmlvend_operator_password) or "",
                meter_no=meter_no,
                amount=amount,
                date_time=date_time,
                unique_number=unique,
            )
            response = await self._http.post(endpoint, content=payload, headers=REQUEST_HEADERS)
            result = parse_trial_credit_vend_response(
                response.content,
                http_status=response.status_code,
                request_date_time=date_time,
                unique_number=unique,
            )
            result.endpoint = endpoint
            if response.status_code >= 500 and result.error is None:
                result.success = False
                result.error = f"HTTP {response.status_code}"
            if response.status_code >= 500:
                raise VendingError("vending_error", result.error or f"HTTP {response.status_code}")
            return result

        try:
            # DOMAIN's per-request timeouts (30 s WSDL, 60 s call) bound the transport; a caller
            # waiting on a person (the simulator) gives a shorter overall budget. Either way a timeout
            # counts as a failure for the breaker, so a hanging server is soon skipped altogether.
            timeout = self.settings.xmlvend_wsdl_timeout_s + self.settings.xmlvend_read_timeout_s
            if budget_s is not None:
                timeout = min(timeout, budget_s)
            return await self.breaker.call(call, timeout_s=timeout)
        except VendingError:
            raise
        except Exception as exc:
            self._endpoint = None  # resolve again next time
            raise VendingError("vending_unavailable", f"{type(exc).__name__}") from exc
