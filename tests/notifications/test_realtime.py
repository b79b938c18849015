"""Realtime delivery over WebSocket across two `samaconso api` processes sharing Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, update
from websockets.asyncio.client import ClientConnection

from samaconso.embedded.procs import ManagedProcess
from samaconso.identity.models import AuthSession, Role
from samaconso.identity.principal import session_cache_key
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.support.users import make_user


async def connect(base: str, token: str) -> ClientConnection:
    ws = await websockets.connect(base.replace("http://", "ws://") + "/api/v1/ws", open_timeout=10)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ready["type"] == "ready"
    return ws


async def next_notification(ws: ClientConnection, timeout: float = 20) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg["type"] == "notification":
            return dict(msg["notification"])


def body(target: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": target,
        "type": "request_updated",
        "title": {"fr": "Demande mise à jour", "en": "Request updated"},
        "body": {"fr": "Votre demande avance.", "en": "Your request moved on."},
    }


async def test_websocket_delivery_across_two_api_processes(
    db: Database, settings: Settings, start_api: Callable[[], str], worker: ManagedProcess
) -> None:
    api1, api2 = start_api(), start_api()
    admin = await make_user(db, settings, Role.admin)
    alice = await make_user(db, settings)
    bob = await make_user(db, settings)
    alice_ws = await connect(api1, alice.token)
    bob_ws = await connect(api2, bob.token)
    try:
        async with httpx.AsyncClient(base_url=api2, timeout=10) as http:
            r = await http.post(
                "/api/v1/notifications",
                json=body({"kind": "user", "user_id": str(alice.id)}),
                headers=admin.headers,
            )
            assert r.status_code == 202
            got = await next_notification(alice_ws)
            assert got["id"] == r.json()["id"]
            assert got["title"] == "Demande mise à jour"
            assert got["read"] is False
            # a broadcast reaches both, each on its own API process
            r2 = await http.post(
                "/api/v1/notifications", json=body({"kind": "everyone"}), headers=admin.headers
            )
            assert (await next_notification(alice_ws))["id"] == r2.json()["id"]
            assert (await next_notification(bob_ws))["id"] == r2.json()["id"]  # bob never saw alice's message
            # keepalive
            await alice_ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(alice_ws.recv(), 5)) == {"type": "pong"}
            # what was pushed in real time is in the feed too
            feed = (await http.get("/api/v1/me/notifications", headers=alice.headers)).json()
            assert [i["id"] for i in feed["items"]] == [r2.json()["id"], r.json()["id"]]
    finally:
        await alice_ws.close()
        await bob_ws.close()


async def test_websocket_refuses_without_valid_token(
    db: Database, settings: Settings, start_api: Callable[[], str]
) -> None:
    api = start_api()
    ws = await websockets.connect(api.replace("http://", "ws://") + "/api/v1/ws", open_timeout=10)
    await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "error", "code": "unauthenticated"}
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_websocket_keepalive_and_revoked_session_closes(
    app: Any, db: Database, settings: Settings, start_api: Callable[..., str]
) -> None:
    api = start_api(SAMACONSO_WS_PING_INTERVAL_S="0.5")
    alice = await make_user(db, settings)
    ws = await connect(api, alice.token)
    assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "ping"}
    async with db.sessionmaker() as session:  # signed out elsewhere (logout, revocation)
        await session.execute(
            update(AuthSession).where(AuthSession.id == alice.session_id).values(revoked_at=func.now())
        )
        await session.commit()
    await app.state.redis.delete(session_cache_key(alice.session_id))
    messages: list[dict[str, Any]] = []

    async def read_until_closed() -> None:
        while True:
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))

    with pytest.raises(websockets.ConnectionClosed) as closed:
        await read_until_closed()
    assert {"type": "error", "code": "session_expired"} in messages
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_hub_stops_promptly_whenever_it_is_stopped(base_settings: Settings) -> None:
    """An API process stopped right after it started (a crash loop, a test) must not hang on its
    realtime listener: a cancellation landing while redis-py connects the subscriber is swallowed,
    so the hub cancels until the listener has ended."""
    from samaconso.notifications.realtime import RealtimeHub

    for delay_s in (0, 0.002, 0.005, 0.01, 0.02, 0.05):
        hub = RealtimeHub(base_settings.redis_url, base_settings.redis_timeout_s)
        await hub.start()
        await asyncio.sleep(delay_s)
        stopping = asyncio.ensure_future(hub.stop())
        done, _ = await asyncio.wait({stopping}, timeout=5)
        assert stopping in done, f"stop() still waiting 5 s after a start + {delay_s} s"
        stopping.result()
