"""What every request meets first (ASGI, before routing and before any body is read):

- :class:`BodyLimitMiddleware` — bodies are capped *before* reading: a declared ``Content-Length``
  above the cap is refused at once (413); a chunked body is counted as it streams and cut at the
  cap. JSON routes: :data:`JSON_MAX_BYTES`; the two upload routes: their file limit plus
  :data:`MULTIPART_OVERHEAD_BYTES`. The same figures are set in HAProxy and on the F5.
- :class:`SecurityHeadersMiddleware` — ``X-Content-Type-Options: nosniff``, ``Cache-Control:
  no-store`` on API answers (personal data) unless a route set its own, ``Referrer-Policy``,
  ``X-Frame-Options``, HSTS when the request came over TLS; any ``Server`` header is dropped
  (uvicorn's own banner is switched off in ``samaconso api``).
- :class:`EdgeExposureMiddleware` — ``/docs``, ``/redoc``, ``/openapi.json``, ``/asyncapi.json`` and ``/health/ready``
  answer 404 to requests that came through the public VIP (they carry ``X-Forwarded-For``, added
  by HAProxy and the F5) unless ``SAMACONSO_PUBLIC_DOCS`` / ``SAMACONSO_PUBLIC_READINESS`` say
  otherwise. Monitoring calls the instances directly (no proxy header) and still sees them.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from samaconso.settings import Settings

JSON_MAX_BYTES = 64 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/asyncapi.json"})
READINESS_PATH = "/health/ready"
HSTS = b"max-age=31536000; includeSubDomains"


def body_cap(settings: Settings, method: str, path: str) -> int:
    """Largest body accepted for this route (bytes)."""
    if method == "PUT" and path == "/api/v1/me/avatar":
        return settings.avatar_max_bytes + MULTIPART_OVERHEAD_BYTES
    if method == "POST" and path == "/api/v1/files":
        return settings.document_max_bytes + MULTIPART_OVERHEAD_BYTES
    return JSON_MAX_BYTES


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value)
    return None


async def _problem(send: Send, status: int, code: str, fr: str, en: str, lang: str) -> None:
    body = json.dumps(
        {
            "type": f"https://samaconso.senelec.sn/problems/{code}",
            "title": "Contenu trop volumineux." if status == 413 else "Ressource introuvable.",
            "status": status,
            "code": code,
            "detail": en if lang == "en" else fr,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", lang.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _lang(scope: Scope) -> str:
    from samaconso.kit.i18n import negotiate

    raw = _header(scope, b"accept-language")
    return negotiate(raw.decode("latin-1") if raw else None)


TOO_LARGE_FR = "Contenu trop volumineux : la requête dépasse la taille autorisée."
TOO_LARGE_EN = "Payload too large: the request exceeds the allowed size."


class BodyTooLarge(HTTPException):
    """Raised while a body streams past its cap: a 413 for the app's handler inside a route, and
    for :class:`BodyLimitMiddleware` when an outer reader (the input guard) was reading."""

    def __init__(self) -> None:
        super().__init__(413)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_cap(self.settings, scope["method"], scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _problem(send, 400, "bad_request", "Requête invalide.", "Bad request.", _lang(scope))
                return
            if int(declared) > cap:
                await _problem(send, 413, "payload_too_large", TOO_LARGE_FR, TOO_LARGE_EN, _lang(scope))
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge()  # answered as problem+json by the app's handler
            return message

        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _problem(send, 413, "payload_too_large", TOO_LARGE_FR, TOO_LARGE_EN, _lang(scope))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        over_tls = scope.get("scheme") == "https"
        api = str(scope["path"]).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                names = {k.lower() for k, _ in headers}
                extra: list[tuple[bytes, bytes]] = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if api and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                if over_tls:
                    extra.append((b"strict-transport-security", HSTS))
                message["headers"] = headers + [(k, v) for k, v in extra if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class EdgeExposureMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _hidden(self, path: str) -> bool:
        if path in DOCS_PATHS:
            return not self.settings.public_docs
        if path == READINESS_PATH:
            return not self.settings.public_readiness
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self._hidden(str(scope["path"]))
            and _header(scope, b"x-forwarded-for") is not None
        ):
            await _problem(
                send, 404, "not_found", "Ressource introuvable.", "Resource not found.", _lang(scope)
            )
            return
        await self.app(scope, receive, send)
