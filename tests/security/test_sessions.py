"""Points 4 and 11: cached session state is bound to (session, user); concurrent refreshes with
one token get the same new pair; the app is told why a token stopped working."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from sqlalchemy import text

from samaconso.kit.db import Database
from samaconso.kit.security import issue_access_token
from samaconso.settings import Settings
from tests.identity.helpers import API, bearer, login, signup


def _claims(tokens: dict[str, Any]) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return claims


async def test_cached_session_state_is_bound_to_its_user(client: AsyncClient, settings: Settings) -> None:
    alice = await signup(client, settings)
    bob = await signup(client, settings)
    assert (await client.get(f"{API}/me", headers=bearer(alice))).status_code == 200  # state cached
    # a token naming Bob on Alice's session (a leaked key, a bug elsewhere) must not become Bob
    forged = issue_access_token(
        settings,
        user_id=uuid.UUID(bob["user"]["id"]),
        session_id=uuid.UUID(_claims(alice)["sid"]),
        role="customer",
    )
    response = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert bob["user"]["id"] not in response.text


async def test_two_refreshes_at_once_get_the_same_pair(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    body = {"refresh_token": tokens["refresh_token"]}
    first, second = await asyncio.gather(
        client.post(f"{API}/auth/refresh", json=body), client.post(f"{API}/auth/refresh", json=body)
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert first.json()["refresh_token"] == second.json()["refresh_token"]
    assert first.json()["access_token"] == second.json()["access_token"]
    # the session lives on: the new pair works, and refreshes again
    assert (await client.get(f"{API}/me", headers=bearer(first.json()))).status_code == 200
    again = await client.post(f"{API}/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert again.status_code == 200


async def test_rotated_token_after_the_grace_window_kills_the_session(
    client: AsyncClient, settings: Settings, db: Database
) -> None:
    tokens = await signup(client, settings)
    rotated = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    async with db.sessionmaker() as s:  # the grace window (30 s) passes
        await s.execute(text("UPDATE refresh_tokens SET rotated_at = rotated_at - interval '31 seconds'"))
        await s.commit()
    stolen = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert stolen.status_code == 401
    assert stolen.json()["code"] == "session_revoked"
    legit = await client.post(f"{API}/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
    assert legit.json()["code"] == "session_revoked"
    me = await client.get(f"{API}/me", headers=bearer(rotated.json()))
    assert me.status_code == 401
    assert me.json()["code"] == "session_revoked"


async def test_expired_access_token_says_token_expired(
    client: AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = await signup(client, settings)
    monkeypatch.setattr(settings, "access_token_ttl_s", -5)
    expired = issue_access_token(
        settings,
        user_id=uuid.UUID(tokens["user"]["id"]),
        session_id=uuid.UUID(_claims(tokens)["sid"]),
        role="customer",
    )
    response = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    garbage = await client.get(f"{API}/me", headers={"Authorization": "Bearer not-a-token"})
    assert garbage.json()["code"] == "unauthenticated"


async def test_expired_session_refresh_says_token_expired(
    client: AsyncClient, settings: Settings, db: Database
) -> None:
    tokens = await signup(client, settings)
    async with db.sessionmaker() as s:
        await s.execute(text("UPDATE auth_sessions SET expires_at = created_at"))
        await s.commit()
    response = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_logged_out_session_says_session_revoked(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    assert (await client.post(f"{API}/auth/logout", headers=bearer(tokens))).status_code == 204
    me = await client.get(f"{API}/me", headers=bearer(tokens))
    assert (me.status_code, me.json()["code"]) == (401, "session_revoked")
    refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (refresh.status_code, refresh.json()["code"]) == (401, "session_revoked")


async def test_signed_out_device_says_device_signed_out(client: AsyncClient, settings: Settings) -> None:
    first = await signup(client, settings, device_id="phone-one-0001")
    phone = first["user"]["phone"]
    await login(client, phone, device_id="phone-two-0002")
    await login(client, phone, device_id="phone-three-0003")  # 2 devices at most: phone one is out
    me = await client.get(f"{API}/me", headers=bearer(first))
    assert (me.status_code, me.json()["code"]) == (401, "device_signed_out")
    refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert (refresh.status_code, refresh.json()["code"]) == (401, "device_signed_out")
