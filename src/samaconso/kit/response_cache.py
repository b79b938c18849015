"""The HTTP side of the hot reads' response cache: a middleware serving the listed routes from
:class:`~samaconso.kit.freshness.ResponseCache` (see ``kit/freshness.py`` for what invalidates an
entry and its stated staleness)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from re import Pattern
from typing import Any, Protocol

import structlog
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from samaconso.kit.freshness import ResponseCache
from samaconso.kit.i18n import preferred
from samaconso.kit.metrics import CACHE_EVENTS

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CachedRoute:
    """A hot read: its full path template and, for a meter's own routes, the path parameter naming
    the meter (its entries also carry that meter's generation); ``feed``: a feed route (its entries
    also carry the everyone's feeds generation, bumped by broadcasts and withdrawals)."""

    template: str
    meter_param: str | None = None
    feed: bool = False

    @property
    def pattern(self) -> Pattern[str]:
        return compile_path(self.template)[0]


class HotReadCaller(Protocol):
    """How the middleware learns who calls (the identity domain implements it, ``app.py``)."""

    def identify(self, conn: HTTPConnection) -> tuple[str, str] | None:
        """(user id, Redis key of the session's cached state) of a verified token, without I/O; None
        lets the route answer whatever refusal applies."""

    async def admit(self, conn: HTTPConnection, session_state: bytes | None) -> bool:
        """Whether the session may read (its cached state, or None when not cached); leaves the
        principal in ``scope["state"]`` so the route does not check the session again."""


_SKIPPED_HEADERS = {b"content-length", b"date", b"set-cookie"}


class ResponseCacheMiddleware:
    """Serves a listed hot read from :class:`ResponseCache` (``app.state.response_cache``) after the
    session check; stores the route's ``200`` answer on a miss. Innermost middleware: the request
    id, security and language headers of the outer ones apply to cached answers too."""

    def __init__(self, app: ASGIApp, routes: Sequence[CachedRoute], caller: HotReadCaller) -> None:
        self.app = app
        self.routes = [(r.template, r.pattern, r.meter_param, r.feed) for r in routes]
        self.caller = caller
        # the app's route object of each listed template, seen on a miss: a cached answer carries it
        # in scope["route"] like a routed one (access log and metrics label it without matching again)
        self._route_objects: dict[str, Any] = {}

    def _route(self, scope: Scope) -> tuple[str, str | None, bool] | None:
        """(template, meter id or None, feed route) of a listed route."""
        path = scope.get("path", "")
        for template, pattern, meter_param, feed in self.routes:
            found = pattern.match(path)
            if found:
                return template, _meter_id(found.group(meter_param)) if meter_param else None, feed
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        listed = self._route(scope)
        cache: ResponseCache | None = getattr(scope["app"].state, "response_cache", None)
        if listed is None or cache is None or not cache.enabled:
            await self.app(scope, receive, send)
            return
        template, meter, feed = listed
        conn = HTTPConnection(scope)
        identified = self.caller.identify(conn)
        if identified is None:
            await self.app(scope, receive, send)
            return
        user, session_key = identified
        variant = _variant(scope)
        try:
            key, entry, session_state = await cache.lookup(user, variant, session_key, meter, feed=feed)
        except (RedisError, OSError) as exc:
            CACHE_EVENTS.labels("error").inc()
            log.warning("cache_unavailable", op="lookup", error=type(exc).__name__)
            await self.app(scope, receive, send)
            return
        # the session is checked before anything cached is served (a revoked one: the route's 401)
        if not await self.caller.admit(conn, session_state):
            await self.app(scope, receive, send)
            return
        if entry is not None:
            CACHE_EVENTS.labels("hit").inc()
            route = self._route_objects.get(template)
            if route is not None:
                scope["route"] = route
            await _replay(entry, send)
            return
        CACHE_EVENTS.labels("miss").inc()
        await self._fill(scope, receive, send, cache, key)
        if template not in self._route_objects and getattr(scope.get("route"), "path", None):
            self._route_objects[template] = scope["route"]

    async def _fill(self, scope: Scope, receive: Receive, send: Send, cache: ResponseCache, key: str) -> None:
        start: Message | None = None
        body: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                # a copy: the outer middlewares add their headers to the message they are sent
                start = {**message, "headers": list(message.get("headers", []))}
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if start is None or start["status"] != 200:
            return
        headers = [
            [k.decode("latin-1"), v.decode("latin-1")]
            for k, v in start.get("headers", [])
            if k.lower() not in _SKIPPED_HEADERS
        ]
        if any(k.lower() == "cache-control" and "no-store" in v for k, v in headers):
            return  # the route itself said so (tokens…)
        entry = json.dumps(headers, separators=(",", ":")).encode() + b"\n" + b"".join(body)
        try:
            await cache.store(key, entry)
        except (RedisError, OSError) as exc:
            log.warning("cache_unavailable", op="store", error=type(exc).__name__)


def _meter_id(value: str) -> str | None:
    """The meter id as the database spells it (any UUID spelling in the path names the same meter)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None  # the route answers 422, never cached


def _variant(scope: Scope) -> str:
    """Path, query string and language of the answer (a digest: keys stay short). Without an
    ``Accept-Language`` the answer follows the profile's language, a change of which bumps the
    user's generation."""
    header = b""
    for name, value in scope.get("headers") or ():
        if name == b"accept-language":
            header = value
            break
    language = preferred(header.decode("latin-1")) or "profile"
    raw = b"\0".join((scope.get("path", "").encode(), scope.get("query_string", b""), language.encode()))
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


async def _replay(entry: bytes, send: Send) -> None:
    head, _, body = entry.partition(b"\n")
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(head)]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
