"""A local stand-in for Orange's "SMS Pro" SOAP gateway: a tiny HTTP server on loopback that parses
the ``sendOneSMS`` envelope like the gateway would and records each call."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "http://ws.smspro.orange.sn/"


@dataclass
class Call:
    telephone: str
    message: str
    login: str
    password: str
    soap_action: str


@dataclass
class SmsGateway:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    fault: str | None = None
    delay_s: float = 0.0
    server: ThreadingHTTPServer | None = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _answer(ok: bool, text: str) -> bytes:
    env = etree.Element(etree.QName(SOAP, "Envelope"), nsmap={"soap": SOAP})
    body = etree.SubElement(env, etree.QName(SOAP, "Body"))
    if ok:
        resp = etree.SubElement(body, etree.QName(NS, "sendOneSMSResponse"))
        etree.SubElement(resp, "return").text = text
    else:
        fault = etree.SubElement(body, etree.QName(SOAP, "Fault"))
        etree.SubElement(fault, "faultcode").text = "soap:Server"
        etree.SubElement(fault, "faultstring").text = text
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def start_gateway() -> SmsGateway:
    gateway = SmsGateway()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
                call = root.find(f"{{{SOAP}}}Body/{{{NS}}}sendOneSMS")
                auth = root.find(f"{{{SOAP}}}Header/{{{NS}}}Authentication")
                assert call is not None
                record = Call(
                    telephone=call.findtext("telephone") or "",
                    message=call.findtext("message") or "",
                    login=auth.findtext(f"{{{NS}}}login") or "" if auth is not None else "",
                    password=auth.findtext(f"{{{NS}}}password") or "" if auth is not None else "",
                    soap_action=self.headers.get("SOAPAction", ""),
                )
            except (etree.XMLSyntaxError, AssertionError):
                payload, status = _answer(False, "malformed request"), 500
            else:
                if gateway.fault:
                    payload, status = _answer(False, gateway.fault), 500
                else:
                    gateway.calls.append(record)
                    payload, status = _answer(True, "OK"), 200
            if gateway.delay_s:  # a slow gateway: the call arrived, the answer comes late
                time.sleep(gateway.delay_s)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its read timeout): nothing to answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    gateway.server = server
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/SMSPro/services/SMSService?wsdl"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return gateway
