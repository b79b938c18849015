"""Point 7: input that used to reach PostgreSQL (or the JSON parser) and answer 500 is refused in
one place: NUL characters → 422, crafted cursors → 400 invalid_cursor, absurd dates → 422, a binary
or deeply nested first WebSocket frame → a clean close code."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from samaconso.identity.models import Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API
from tests.support.users import make_user


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def test_nul_characters_are_refused_everywhere(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    customer = await make_user(db, settings, Role.customer)
    admin = await make_user(db, settings, Role.admin)
    attempts = [
        client.post(f"{API}/auth/staff/login", json={"login": "agent\u0000x", "password": "whatever-123"}),
        client.post(
            f"{API}/auth/login", json={"phone": "771234567", "pin": "2580", "device_id": "dev\u0000ice"}
        ),
        client.patch(f"{API}/me", headers=customer.headers, json={"first_name": "A\u0000wa"}),
        client.get(f"{API}/admin/audit", headers=admin.headers, params={"event": "login\x00"}),
        client.post(
            f"{API}/auth/login",
            content=b'{"phone": "771234567", "pin": "2580", "device_model": "a\\u0000b"}',
            headers={"content-type": "application/json"},
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "validation_error"
    # an escaped backslash followed by "u0000" is plain text, not a NUL
    fine = await client.patch(f"{API}/me", headers=customer.headers, json={"first_name": "A\\u0000wa"})
    assert fine.status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        "[1]",
        "[Infinity, 1]",
        "[NaN, NaN]",
        "[[1, 2], [3]]",
        '[{"a": 1}, "x"]',
        f'["9999-12-31T23:59:59+00:00", "{uuid.uuid4()}"]',
        f'["0001-01-01T00:00:00+14:00", "{uuid.uuid4()}"]',
        f'["2026-01-01T00:00:00", "{uuid.uuid4()}"]',
        "[" * 5000 + "]" * 5000,
        "[123456789012345678901234567890, 1]",
    ],
)
async def test_crafted_cursors_are_a_400(
    client: AsyncClient, db: Database, settings: Settings, raw: str
) -> None:
    customer = await make_user(db, settings, Role.customer)
    admin = await make_user(db, settings, Role.admin)
    for path, who in (
        (f"{API}/me/devices", customer),
        (f"{API}/admin/audit", admin),
        (f"{API}/admin/users", admin),
    ):
        response = await client.get(path, headers=who.headers, params={"cursor": _cursor(raw)})
        assert response.status_code == 400, (path, raw, response.text)
        assert response.json()["code"] == "invalid_cursor"


async def test_absurd_dates_are_a_422(client: AsyncClient, db: Database, settings: Settings) -> None:
    customer = await make_user(db, settings, Role.customer)
    meter = uuid.uuid4()
    for params in ({"to": "0001-01-01"}, {"from": "9999-12-31"}, {"on": "0001-01-01"}):
        response = await client.get(
            f"{API}/me/meters/{meter}/purchases", headers=customer.headers, params=params
        )
        assert response.status_code == 422, response.text
    ok = await client.get(
        f"{API}/me/meters/{meter}/purchases", headers=customer.headers, params={"to": "2026-01-01"}
    )
    assert ok.status_code != 422


@pytest.mark.usefixtures("db")
@pytest.mark.parametrize(
    ("frame", "close_code"),
    [(b"\x00\x01binary", 1003), ("[" * 100_000 + "]" * 100_000, 1007), ('{"a":' * 64 + "1" + "}" * 64, 1007)],
)
def test_bad_first_websocket_frame_closes_cleanly(app: FastAPI, frame: bytes | str, close_code: int) -> None:
    with TestClient(app).websocket_connect(f"{API}/ws") as ws:
        if isinstance(frame, bytes):
            ws.send_bytes(frame)
        else:
            ws.send_text(frame)
        assert json.loads(ws.receive_text()) == {"type": "error", "code": "invalid_frame"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == close_code
