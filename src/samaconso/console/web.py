"""Serving the agency console at ``/console``: static files of ``console/static`` (plain HTML, ES
modules and CSS, no build step, nothing from a CDN) with strict security headers.

The console keeps the staff bearer token in ``sessionStorage`` and calls ``/api/v1`` with it: no
cookie, so no CSRF surface. The Content-Security-Policy allows only this origin's scripts, styles,
images and API calls (no inline script), no framing."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/console"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-cache"),
)


class _Headers:
    """Adds the security headers to every answer under /console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in SECURITY_HEADERS if h[0] not in names),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class _Console:
    """The static files, and the page itself with the deployment's staff idle timeout written on
    its root element (``data-idle-ms``: the console signs out after it; the API enforces the same
    timeout on the session, see ``identity/deps.py``)."""

    def __init__(self, idle_timeout_s: int) -> None:
        page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        marker = '<html lang="fr">'
        if marker not in page:
            raise RuntimeError('console/static/index.html: <html lang="fr"> expected')
        self.page = page.replace(marker, f'<html lang="fr" data-idle-ms="{idle_timeout_s * 1000}">', 1)
        self.files = StaticFiles(directory=STATIC_DIR, html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").removeprefix(scope.get("root_path", "")) in (
            "/",
            "/index.html",
            "",
        ):
            await HTMLResponse(self.page)(scope, receive, send)
            return
        await self.files(scope, receive, send)


def mount_console(app: FastAPI, idle_timeout_s: int) -> None:
    app.mount(PREFIX, _Headers(_Console(idle_timeout_s)), name="console")
