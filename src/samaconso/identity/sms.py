"""Sending SMS: one small interface, two backends.

* ``file`` (embedded profile, tests): the message is appended to ``<data_dir>/outbox/sms.jsonl``
  and echoed on the console (this is how a newcomer reads a sign-up code in ``make run``).
* ``orange``: Orange "SMS Pro" SOAP gateway, operation ``sendOneSMS(telephone, message)``, posted
  with httpx (connect/read timeouts) and an envelope built with lxml.

Senders are synchronous (they run in a Celery task, or in a worker thread when the API has to send
inline because the broker is unreachable). They never log the message text: it carries a code.
"""

from __future__ import annotations

from typing import Protocol

import httpx
import structlog
from lxml import etree

from samaconso.kit.sinks import JsonlSink
from samaconso.settings import Settings

log = structlog.get_logger(__name__)

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ORANGE_NS = "http://ws.smspro.orange.sn/"


class SmsError(RuntimeError):
    """The SMS could not be handed to the gateway."""


class SmsSender(Protocol):
    def send(self, phone: str, message: str) -> None: ...


class FileSmsSender:
    def __init__(self, settings: Settings) -> None:
        # Codes are echoed on the console only on a developer's machine (make run), never in logs elsewhere.
        self.sink = JsonlSink(settings.outbox_dir, "sms", echo=settings.profile == "embedded")

    def send(self, phone: str, message: str) -> None:
        try:
            self.sink.write({"to": phone, "message": message})
        except OSError as exc:
            raise SmsError("outbox not writable") from exc


def build_send_one_sms(login: str, password: str, telephone: str, message: str) -> bytes:
    """The SOAP 1.1 envelope of ``sendOneSMS``; lxml escapes every value."""
    env = etree.Element(
        etree.QName(SOAP_ENV_NS, "Envelope"), nsmap={"soapenv": SOAP_ENV_NS, "sms": ORANGE_NS}
    )
    header = etree.SubElement(env, etree.QName(SOAP_ENV_NS, "Header"))
    auth = etree.SubElement(header, etree.QName(ORANGE_NS, "Authentication"))
    etree.SubElement(auth, etree.QName(ORANGE_NS, "login")).text = login
    etree.SubElement(auth, etree.QName(ORANGE_NS, "password")).text = password
    body = etree.SubElement(env, etree.QName(SOAP_ENV_NS, "Body"))
    call = etree.SubElement(body, etree.QName(ORANGE_NS, "sendOneSMS"))
    etree.SubElement(call, "telephone").text = telephone
    etree.SubElement(call, "message").text = message
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


class OrangeSmsSender:
    def __init__(self, settings: Settings) -> None:
        if not settings.sms_orange_wsdl_url:
            raise SmsError("SAMACONSO_SMS_ORANGE_WSDL_URL is not set")
        # The service address is the WSDL URL without its ``?wsdl`` query.
        self.endpoint = settings.sms_orange_wsdl_url.split("?", 1)[0]
        self.login = settings.sms_orange_login or ""
        self.password = (
            settings.sms_orange_password.get_secret_value() if settings.sms_orange_password else ""
        )
        self.timeout = httpx.Timeout(
            connect=min(5.0, settings.sms_timeout_s),
            read=settings.sms_timeout_s,
            write=settings.sms_timeout_s,
            pool=settings.sms_timeout_s,
        )

    def send(self, phone: str, message: str) -> None:
        # The gateway wants the national form without "+" (221XXXXXXXXX).
        telephone = phone.lstrip("+")
        envelope = build_send_one_sms(self.login, self.password, telephone, message)
        try:
            with httpx.Client(timeout=self.timeout) as client:
                response = client.post(
                    self.endpoint,
                    content=envelope,
                    headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"sendOneSMS"'},
                )
        except httpx.HTTPError as exc:
            log.warning("sms_gateway_unreachable", error=type(exc).__name__)
            raise SmsError("gateway unreachable") from exc
        fault = _soap_fault(response.content)
        if response.status_code >= 400 or fault is not None:
            log.warning("sms_gateway_refused", status=response.status_code, fault=fault)
            raise SmsError(f"gateway refused the message ({response.status_code})")
        log.info("sms_sent", backend="orange", to_suffix=phone[-4:])


def _soap_fault(content: bytes) -> str | None:
    """The faultstring of a SOAP fault, None when the answer is not a fault."""
    if not content:
        return None
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return "unparsable answer"
    fault = root.find(f".//{{{SOAP_ENV_NS}}}Fault")
    if fault is None:
        return None
    text = fault.findtext("faultstring") or "fault"
    return text[:200]


def make_sender(settings: Settings) -> SmsSender:
    if settings.sms_backend == "orange":
        return OrangeSmsSender(settings)
    return FileSmsSender(settings)
