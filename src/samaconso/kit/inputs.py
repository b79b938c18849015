"""Input that must never reach a driver, in one place.

- :class:`InputGuardMiddleware`: a NUL character (PostgreSQL text cannot hold it) anywhere in the
  path, the query string or a JSON body is refused with 422 ``validation_error`` before routing;
  ISO dates in the query string outside years 1900–2199 (``to=0001-01-01``) likewise.
- :func:`load_json`: JSON for cursors and WebSocket frames — no ``NaN``/``Infinity``, bounded
  nesting depth, only ``ValueError`` on bad input (never ``RecursionError``).
- :func:`ws_frame_json`: a WebSocket message as JSON, or :class:`BadFrame` carrying the close code
  (1003 for a binary frame, 1007 for text that is not acceptable JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from samaconso.kit.safe_json import load_json

MIN_YEAR, MAX_YEAR = 1900, 2199
JSON_BODY_LIMIT = 64 * 1024
_ISO_DATE = re.compile(rb"^(\d{4,})-\d{2}(-\d{2})?")
# \u0000 written as a JSON escape: an odd number of backslashes before it.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


class BadFrame(Exception):
    def __init__(self, close_code: int) -> None:
        super().__init__(close_code)
        self.close_code = close_code


def ws_frame_json(message: Message) -> Any:
    """The JSON of one ``websocket.receive`` message (a disconnect is re-raised by the caller)."""
    text = message.get("text")
    if text is None:
        raise BadFrame(1003)  # binary: unsupported data
    try:
        return load_json(text)
    except ValueError as exc:
        raise BadFrame(1007) from exc  # invalid payload data


def _has_nul(raw: bytes) -> bool:
    return b"\x00" in raw or b"\x00" in unquote_to_bytes(raw)


def _bad_query_date(query: bytes) -> bool:
    for pair in query.split(b"&"):
        _, _, value = pair.partition(b"=")
        match = _ISO_DATE.match(unquote_to_bytes(value.replace(b"+", b" ")))
        if match and not MIN_YEAR <= int(match.group(1)) <= MAX_YEAR:
            return True
    return False


def _json_content(scope: Scope) -> bool:
    for key, value in scope.get("headers") or []:
        if key.lower() == b"content-type":
            return b"json" in value.lower()
    return False


async def _refuse(scope: Scope, send: Send, field: str, where: str) -> None:
    """A 422 naming where the bad input was (``where``: path, query or body), as the validation errors do."""
    from samaconso.kit.i18n import negotiate

    lang = "fr"
    for key, value in scope.get("headers") or []:
        if key.lower() == b"accept-language":
            lang = negotiate(value.decode("latin-1"))
    fr, en = ("caractère nul interdit", "NUL character not allowed")
    if field == "date":
        fr, en = (f"date hors des années {MIN_YEAR}–{MAX_YEAR}", f"date outside years {MIN_YEAR}–{MAX_YEAR}")
    body = json.dumps(
        {
            "type": "https://samaconso.senelec.sn/problems/validation_error",
            "title": "Certaines données sont invalides." if lang == "fr" else "Some fields are invalid.",
            "status": 422,
            "code": "validation_error",
            "detail": "Certaines données sont invalides." if lang == "fr" else "Some fields are invalid.",
            "instance": scope.get("path", ""),
            "errors": [
                {
                    "field": where,
                    "location": where,
                    "code": "value_error",
                    "message": fr if lang == "fr" else en,
                }
            ],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", lang.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class InputGuardMiddleware:
    """Refuses NUL characters and out-of-range query dates before any route sees them. Sits inside
    the body limit, so a JSON body it reads is at most :data:`JSON_BODY_LIMIT` bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or str(scope.get("path", "")).encode()
        query = scope.get("query_string") or b""
        if _has_nul(raw_path) or _has_nul(query) or "\x00" in str(scope.get("path", "")):
            if scope["type"] == "http":
                nul_in_path = _has_nul(raw_path) or "\x00" in str(scope.get("path", ""))
                await _refuse(scope, send, "nul", "path" if nul_in_path else "query")
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "http" and _bad_query_date(query):
            await _refuse(scope, send, "date", "query")
            return
        if scope["type"] != "http" or not _json_content(scope):
            await self.app(scope, receive, send)
            return
        # JSON: read it (bounded by the body limit outside), check, then hand the same bytes on.
        chunks: list[bytes] = []
        more = True
        disconnected: Message | None = None
        while more:
            message = await receive()
            if message["type"] != "http.request":
                disconnected = message
                break
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        if b"\x00" in body or _JSON_NUL.search(body):
            await _refuse(scope, send, "nul", "body")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                if disconnected is not None:
                    return disconnected
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
