"""The language of a request, on the HTTP side: ``Accept-Language`` first, else the signed-in
user's profile language, else French; and ``Content-Language`` on every response."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from samaconso.kit.i18n import SUPPORTED, Lang, preferred


def request_language(conn: HTTPConnection | Scope) -> Lang:
    """``Accept-Language`` first; without it, the signed-in user's profile language; else French."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    header = None
    for key, value in scope.get("headers") or ():
        if key == b"accept-language":
            header = value.decode("latin-1")
            break
    chosen = preferred(header)
    if chosen is not None:
        return chosen
    principal = (scope.get("state") or {}).get("principal")
    language = getattr(principal, "language", None)
    if language in SUPPORTED:
        return language  # type: ignore[no-any-return]
    return "fr"


class ContentLanguageMiddleware:
    """Adds ``Content-Language`` (the language chosen by :func:`request_language`) to every HTTP
    response that does not set one, so a client always knows which language it got."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"content-language" for k, _ in headers):
                    headers.append((b"content-language", request_language(scope).encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)
