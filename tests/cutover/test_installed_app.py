"""The installed v2 app against v3: every v2 route of V2.md §3 answers 426 with a body it can show
(``status`` field, problem+json fields, French/English text, store links); its WebSocket is refused
with the same 426 at the handshake; ``GET /api/v1/app/config`` tells the new app what to do."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from httpx import AsyncClient

from samaconso.cutover.v2_routes import V2_HTTP_ROUTES
from samaconso.embedded.procs import free_port, port_open
from samaconso.settings import Settings


def _concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "42", path)


async def test_every_v2_route_answers_426_in_french(client: AsyncClient, settings: Settings) -> None:
    assert len(V2_HTTP_ROUTES) >= 40
    for method, path in V2_HTTP_ROUTES:
        body_json = {"username": "771234567", "password": "0000"} if method in ("POST", "PUT") else None
        response = await client.request(method, _concrete(path), json=body_json)
        assert response.status_code == 426, f"{method} {path} answered {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 426  # the field the v2 app reads
        assert body["code"] == "upgrade_required"
        assert body["detail"].startswith("Une nouvelle version de SamaConso est disponible")
        assert body["message"] == body["detail"]
        assert body["store_urls"] == {
            "android": settings.app_store_url_android,
            "ios": settings.app_store_url_ios,
        }
        assert body["instance"] == _concrete(path)
        assert "type" in body
        assert "title" in body


async def test_v2_routes_in_english_with_the_right_store(client: AsyncClient, settings: Settings) -> None:
    response = await client.post(
        "/auth/token-json",
        json={},
        headers={"Accept-Language": "en-US,en;q=0.9", "User-Agent": "SamaConso/2.3 CFNetwork/1410 Darwin/22"},
    )
    assert response.status_code == 426
    body = response.json()
    assert body["detail"].startswith("A new version of SamaConso is available")
    assert body["store_url"] == settings.app_store_url_ios
    assert settings.app_store_url_ios in body["detail"]
    android = await client.get("/user/connected/me", headers={"User-Agent": "okhttp/4.9.0"})
    assert android.json()["store_url"] == settings.app_store_url_android


async def test_health_still_serves_the_load_balancer(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "running"


async def test_unknown_paths_stay_404(client: AsyncClient) -> None:
    response = await client.get("/user_compteur/nothing-like-this/1")
    assert response.status_code == 404


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The application served by uvicorn on loopback (WebSocket handshakes need a real server)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not port_open("127.0.0.1", port):
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


async def test_v2_websocket_is_refused_with_426_at_the_handshake(live_server: str) -> None:
    url = f"ws://{live_server}/ws/notifications/17?token=old-v2-token"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(url, open_timeout=10, additional_headers={"Accept-Language": "fr"}):
            pass
    response = refused.value.response
    assert response.status_code == 426
    body = json.loads(response.body or b"{}")
    assert body["status"] == 426
    assert body["detail"].startswith("Une nouvelle version de SamaConso est disponible")
    await asyncio.sleep(0)


async def test_app_config_is_public_and_cacheable(client: AsyncClient, settings: Settings) -> None:
    response = await client.get("/api/v1/app/config")
    assert response.status_code == 200
    body = response.json()
    assert body["platforms"]["android"] == {
        "min_version": settings.app_min_version_android,
        "latest_version": settings.app_latest_version_android,
        "store_url": settings.app_store_url_android,
    }
    assert body["platforms"]["ios"]["store_url"] == settings.app_store_url_ios
    assert body["maintenance"]["enabled"] is False
    assert body["maintenance"]["message"] == settings.maintenance_message_fr
    assert response.headers["cache-control"] == f"public, max-age={settings.app_config_cache_s}"
    again = await client.get("/api/v1/app/config", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    english = await client.get("/api/v1/app/config", headers={"Accept-Language": "en"})
    assert english.json()["maintenance"]["message"] == settings.maintenance_message_en
    assert english.headers["etag"] != response.headers["etag"]


@pytest.mark.settings(
    maintenance_enabled=True,
    maintenance_message_fr="Bascule vers la nouvelle SamaConso : retour à 6 h.",
    app_min_version_android="3.1.0",
)
async def test_app_config_shows_the_maintenance_window(client: AsyncClient) -> None:
    body = (await client.get("/api/v1/app/config")).json()
    assert body["maintenance"] == {
        "enabled": True,
        "message": "Bascule vers la nouvelle SamaConso : retour à 6 h.",
        "starts_at": None,
        "ends_at": None,
    }
    assert body["platforms"]["android"]["min_version"] == "3.1.0"
