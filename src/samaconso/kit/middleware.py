"""ASGI middleware: request id, access log and HTTP metrics (safe for streaming and WebSockets)."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from samaconso.kit.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("samaconso.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _route_template(scope: Scope) -> str:
    matched = scope.get("route")
    if matched is not None and getattr(matched, "path", None):
        return str(matched.path)
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - start
                route = _route_template(scope)
                method = scope["method"]
                HTTP_REQUESTS.labels(method, route, str(status_holder["status"])).inc()
                HTTP_LATENCY.labels(method, route).observe(elapsed)
                if route not in ("/health", "/metrics"):
                    log.info(
                        "http_request",
                        method=method,
                        route=route,
                        status=status_holder["status"],
                        duration_ms=round(elapsed * 1000, 1),
                    )
            structlog.contextvars.unbind_contextvars("request_id")
