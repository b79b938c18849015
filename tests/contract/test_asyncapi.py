"""The realtime socket answers what ``/asyncapi.json`` documents: each message the server sends is
validated against the document's schema for it, and the close code is the documented one."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
import websockets
from redis.asyncio import Redis

from samaconso.identity.models import Role
from samaconso.kit.db import Database
from samaconso.notifications.models import Notification
from samaconso.notifications.pipeline import REALTIME_CHANNEL, realtime_payload
from samaconso.notifications.repository import audiences_of
from samaconso.settings import Settings
from tests.contract.conftest import LiveServer
from tests.support.users import make_user


@pytest.fixture
def asyncapi(live_server: LiveServer) -> dict[str, Any]:
    response = httpx.get(f"{live_server.url}/asyncapi.json", timeout=10)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def check(document: dict[str, Any], name: str, message: dict[str, Any]) -> None:
    schema = {**document["components"]["schemas"][name], "components": document["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(message)


async def receive(ws: websockets.ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
    return data


def test_the_document_describes_the_socket(asyncapi: dict[str, Any], live_server: LiveServer) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["channels"]["notifications"]["address"] == "/api/v1/ws"
    assert asyncapi["servers"]["api"]["host"] == live_server.url.removeprefix("http://")
    assert set(asyncapi["operations"]) == {"sendAuth", "sendPing", "receiveEvents"}
    for message in asyncapi["components"]["messages"].values():
        for example in message["examples"]:
            check(asyncapi, message["payload"]["$ref"].rsplit("/", 1)[-1], example["payload"])
    assert "4401" in asyncapi["info"]["description"]


async def test_auth_ready_ping_notification_and_refusal(
    asyncapi: dict[str, Any], live_server: LiveServer, db: Database, settings: Settings
) -> None:
    ws_url = live_server.url.replace("http://", "ws://") + asyncapi["channels"]["notifications"]["address"]
    # a bad token: error message, then the documented close code
    async with websockets.connect(ws_url, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        refusal = await receive(ws)
        check(asyncapi, "Error", refusal)
        assert refusal["code"] == "unauthenticated"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401

    user = await make_user(db, settings)
    admin = await make_user(db, settings, Role.admin)
    async with websockets.connect(ws_url, open_timeout=10) as ws:
        auth = {"type": "auth", "token": user.token}
        check(asyncapi, "Auth", auth)
        await ws.send(json.dumps(auth))
        ready = await receive(ws)
        check(asyncapi, "Ready", ready)
        assert ready["user_id"] == str(user.id)
        await ws.send(json.dumps({"type": "ping"}))
        pong = await receive(ws)
        check(asyncapi, "Pong", pong)

        # A notification for this user, created through the API; the fan-out's first step (publish
        # the realtime payload on the Redis channel) is done here as the worker does it.
        async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
            created = await http.post(
                "/api/v1/notifications",
                json={
                    "target": {"kind": "user", "user_id": str(user.id)},
                    "type": "outage",
                    "priority": "urgent",
                    "title": {"fr": "Coupure programmée", "en": "Planned outage"},
                    "body": {"fr": "Demain de 9 h à 12 h.", "en": "Tomorrow 9 to 12."},
                },
                headers=admin.headers,
            )
            assert created.status_code == 202, created.text
        nid = uuid.UUID(created.json()["id"])
        async with db.sessionmaker() as session:
            notification = await session.get(Notification, nid)
            assert notification is not None
            payload = realtime_payload(notification, await audiences_of(session, nid))
        redis = Redis.from_url(settings.redis_url)
        try:
            await redis.publish(REALTIME_CHANNEL, json.dumps(payload, default=str))
        finally:
            await redis.aclose()
        event = await receive(ws)
        while event["type"] == "ping":  # keepalives may come first
            check(asyncapi, "Ping", event)
            event = await receive(ws)
        check(asyncapi, "Notification", event)
        assert event["notification"]["id"] == str(nid)
        assert event["notification"]["title"] == "Coupure programmée"  # the profile's language
