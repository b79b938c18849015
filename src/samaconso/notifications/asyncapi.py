"""AsyncAPI 3.0 description of the realtime socket ``/api/v1/ws`` (served at ``/asyncapi.json``).

The protocol of ``router.notifications_socket``: the client opens the socket and sends
``{"type": "auth", "token": ...}`` within 5 s (never the token in the URL); the server answers
``ready``, then pushes ``notification`` events and a ``ping`` keepalive every
``ws_ping_interval_s``; the client may send ``ping`` and gets ``pong``. A missing or bad token, or a
session that ends meanwhile, gets an ``error`` message and close code 4401.
``tests/contract/test_asyncapi.py`` drives the real socket and validates each message against these
schemas.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from samaconso.notifications.models import NotificationType, Priority

CLOSE_UNAUTHENTICATED = 4401
AUTH_TIMEOUT_S = 5.0


def _message(name: str, title: str, summary: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name.lower(),
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "examples": [{"name": name.lower(), "payload": example}],
    }


def _schemas() -> dict[str, Any]:
    def typed(
        kind: str, props: dict[str, Any] | None = None, required: list[str] | None = None
    ) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["type", *(required or [])],
            "properties": {"type": {"type": "string", "const": kind}, **(props or {})},
        }

    return {
        "Auth": typed(
            "auth",
            {"token": {"type": "string", "description": "The access token (as in `Authorization: Bearer`)."}},
            ["token"],
        ),
        "Ping": typed("ping"),
        "Pong": typed("pong"),
        "Ready": typed("ready", {"user_id": {"type": "string", "format": "uuid"}}, ["user_id"]),
        "Notification": typed(
            "notification",
            {
                "notification": {
                    "type": "object",
                    "required": ["id", "type", "priority", "title", "body", "data", "created_at", "read"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "type": {"type": "string", "enum": [t.value for t in NotificationType]},
                        "priority": {"type": "string", "enum": [p.value for p in Priority]},
                        "title": {"type": "string", "description": "In the user's profile language."},
                        "body": {"type": "string", "description": "In the user's profile language."},
                        "data": {"type": "object", "additionalProperties": {"type": "string"}},
                        "created_at": {"type": "string", "format": "date-time"},
                        "read": {"type": "boolean", "const": False},
                    },
                }
            },
            ["notification"],
        ),
        "Error": typed(
            "error",
            {
                "code": {
                    "type": "string",
                    "enum": ["unauthenticated", "session_expired"],
                    "description": "`unauthenticated`: no valid auth message within 5 s. `session_expired`: "
                    "the token expired or the session was revoked (sign in or refresh, then reconnect). "
                    f"Followed by close code {CLOSE_UNAUTHENTICATED}.",
                }
            },
            ["code"],
        ),
    }


def build_asyncapi(public_base_url: str) -> dict[str, Any]:
    parts = urlsplit(public_base_url)
    secure = parts.scheme == "https"
    schemas = _schemas()
    examples: dict[str, dict[str, Any]] = {
        "Auth": {"type": "auth", "token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI1ZDdlOWYxMCJ9.c2lnbmF0dXJl"},
        "Ping": {"type": "ping"},
        "Pong": {"type": "pong"},
        "Ready": {"type": "ready", "user_id": "5d7e9f10-2b3c-4d5e-9f60-718293a4b5c6"},
        "Notification": {
            "type": "notification",
            "notification": {
                "id": "0b6f1d2e-3c4a-4e5f-8a9b-0c1d2e3f4a5b",
                "type": "outage",
                "priority": "urgent",
                "title": "Coupure programmée",
                "body": "Coupure à Dakar Plateau demain de 9 h à 12 h.",
                "data": {"zone": "Dakar Plateau"},
                "created_at": "2026-11-30T08:15:00Z",
                "read": False,
            },
        },
        "Error": {"type": "error", "code": "unauthenticated"},
    }
    summaries = {
        "Auth": ("Authenticate", f"First message, within {AUTH_TIMEOUT_S:.0f} s of opening the socket."),
        "Ping": (
            "Ping",
            "Keepalive. The server sends one when idle for `ws_ping_interval_s` (default 30 s); "
            "the client may send one at any time and gets `pong`.",
        ),
        "Pong": ("Pong", "Answer to the client's `ping`."),
        "Ready": ("Ready", "Authentication accepted; events follow."),
        "Notification": (
            "Notification",
            "A new notification of the user's feed (same fields as `FeedItem`).",
        ),
        "Error": (
            "Error",
            f"Authentication refused or session ended; the server then closes with {CLOSE_UNAUTHENTICATED}.",
        ),
    }
    messages = {
        name: _message(name, summaries[name][0], summaries[name][1], examples[name]) for name in schemas
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "SamaConso realtime notifications",
            "version": "1.0.0",
            "description": "One WebSocket per signed-in app, for notifications while the app is open "
            "(push messages go through FCM). JSON text frames, one message each.\n\n"
            "Close codes: 1000 normal closure; "
            f"{CLOSE_UNAUTHENTICATED} authentication refused or session ended (get a fresh token, reconnect); "
            "1001/1006 server restart or network loss (reconnect with backoff: 1 s, 2 s, 4 s… up to 60 s).",
        },
        "servers": {
            "api": {
                "host": parts.netloc or "127.0.0.1:8000",
                "protocol": "wss" if secure else "ws",
                "description": "This deployment (same host as the HTTP API).",
            }
        },
        "defaultContentType": "application/json",
        "channels": {
            "notifications": {
                "address": "/api/v1/ws",
                "title": "Realtime notifications",
                "description": "Open without credentials in the URL; authenticate with the first message.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in schemas},
            }
        },
        "operations": {
            "sendAuth": {
                "action": "send",
                "channel": {"$ref": "#/channels/notifications"},
                "summary": "The client authenticates.",
                "messages": [{"$ref": "#/channels/notifications/messages/Auth"}],
                "reply": {
                    "channel": {"$ref": "#/channels/notifications"},
                    "messages": [
                        {"$ref": "#/channels/notifications/messages/Ready"},
                        {"$ref": "#/channels/notifications/messages/Error"},
                    ],
                },
            },
            "sendPing": {
                "action": "send",
                "channel": {"$ref": "#/channels/notifications"},
                "summary": "The client checks the connection.",
                "messages": [{"$ref": "#/channels/notifications/messages/Ping"}],
                "reply": {
                    "channel": {"$ref": "#/channels/notifications"},
                    "messages": [{"$ref": "#/channels/notifications/messages/Pong"}],
                },
            },
            "receiveEvents": {
                "action": "receive",
                "channel": {"$ref": "#/channels/notifications"},
                "summary": "What the server pushes after `ready`.",
                "messages": [
                    {"$ref": "#/channels/notifications/messages/Notification"},
                    {"$ref": "#/channels/notifications/messages/Ping"},
                    {"$ref": "#/channels/notifications/messages/Error"},
                ],
            },
        },
        "components": {"schemas": schemas, "messages": messages},
    }
