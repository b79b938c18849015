"""Announcing a removal (docs/versioning.md): an operation marked deprecated in the operation table
(``Op(..., deprecated=Deprecation(...))`` in :mod:`samaconso.kit.openapi`) is

- ``deprecated: true`` in ``/openapi.json``, its description naming the replacement and the sunset
  date, its responses documenting the two headers below;
- answered, every time (success or problem), with
  ``Deprecation: @<unix time>`` (RFC 9745: since when), ``Sunset: <HTTP date>`` (RFC 8594: the day
  it stops answering) and ``Link: <…/redoc#operation/<operationId>>; rel="deprecation"`` (where the
  app team reads why and what instead).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from email.utils import formatdate

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Deprecation:
    since: date  # the day it was announced (changelog entry)
    sunset: date  # the day it stops answering (410 afterwards); ≥ 6 months after ``since``
    replacement: str  # what to call instead, e.g. "`listMyMeters`"

    def __post_init__(self) -> None:
        if self.sunset <= self.since:
            raise ValueError("a sunset comes after its deprecation")

    def header_values(self) -> tuple[str, str]:
        """(Deprecation, Sunset) header values."""
        since = calendar.timegm(self.since.timetuple())
        sunset = calendar.timegm(self.sunset.timetuple())
        return f"@{since}", formatdate(sunset, usegmt=True)


@dataclass(frozen=True)
class DeprecatedRoute:
    method: str
    path: str  # the route template, e.g. "/api/v1/me/meters/{meter_id}"
    deprecation: Deprecation
    link: str  # absolute URL of its documentation


DEPRECATION_HEADERS_DOC = {
    "Deprecation": {
        "description": "Since when this operation is deprecated (RFC 9745): `@` and a Unix time.",
        "required": True,
        "schema": {"type": "string", "pattern": "^@[0-9]+$"},
        "example": "@1764547200",
    },
    "Sunset": {
        "description": "The day this operation stops answering (RFC 8594), an HTTP date.",
        "required": True,
        "schema": {"type": "string"},
        "example": "Mon, 01 Jun 2026 00:00:00 GMT",
    },
}


class DeprecationHeadersMiddleware:
    """Adds the headers to every answer of a deprecated route (matched by method and template)."""

    def __init__(self, app: ASGIApp, routes: Iterable[DeprecatedRoute] = ()) -> None:
        self.app = app
        self.routes: list[tuple[str, re.Pattern[str], list[tuple[bytes, bytes]]]] = []
        for route in routes:
            deprecation, sunset = route.deprecation.header_values()
            headers = [
                (b"deprecation", deprecation.encode()),
                (b"sunset", sunset.encode()),
                (b"link", f'<{route.link}>; rel="deprecation"'.encode()),
            ]
            self.routes.append((route.method, compile_path(route.path)[0], headers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.routes:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        extra = next((h for m, pattern, h in self.routes if m == method and pattern.match(path)), None)
        if extra is None:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["DEPRECATION_HEADERS_DOC", "DeprecatedRoute", "Deprecation", "DeprecationHeadersMiddleware"]
