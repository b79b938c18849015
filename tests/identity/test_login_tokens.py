"""PIN login, lockout, refresh rotation, logout, PIN change and reset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import update

from samaconso.identity import sessions as identity_sessions
from samaconso.identity.models import Agency, RefreshToken, Role, User
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API, bearer, login, new_phone, request_code, signup
from tests.support.users import make_user


async def test_unknown_phone_and_wrong_pin_answer_the_same(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    phone = tokens["user"]["phone"]
    wrong = await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "9999"})
    unknown = await client.post(f"{API}/auth/login", json={"phone": new_phone(), "pin": "2580"})
    assert wrong.status_code == unknown.status_code == 401

    def strip(r: Response) -> dict[str, Any]:
        return {k: v for k, v in r.json().items() if k not in ("request_id",)}

    assert strip(wrong) == strip(unknown)
    ok = await login(client, "77" + phone[6:])  # national form works too
    assert ok["user"]["id"] == tokens["user"]["id"]


async def test_lockout_does_not_reveal_which_numbers_have_an_account(
    client: AsyncClient, settings: Settings
) -> None:
    tokens = await signup(client, settings)
    real, ghost = tokens["user"]["phone"], new_phone()
    for phone in (real, ghost):
        statuses = [
            (await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "9999"})).status_code
            for _ in range(6)
        ]
        assert statuses == [401, 401, 401, 401, 423, 423], phone


async def test_sixth_attempt_refused_even_with_right_pin_until_lock_ends(
    client: AsyncClient, settings: Settings, db: Database
) -> None:
    tokens = await signup(client, settings)
    phone = tokens["user"]["phone"]
    statuses = []
    for _ in range(5):
        response = await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "9999"})
        statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 401, 423]
    right = await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "2580"})
    assert right.status_code == 423
    assert right.json()["code"] == "account_locked"
    assert 800 < int(right.headers["retry-after"]) <= 900
    assert "access_token" not in right.text
    # the lock ends (moved into the past instead of waiting 15 minutes)
    async with db.sessionmaker() as s:
        await s.execute(update(User).where(User.phone == phone).values(locked_until=User.created_at))
        await s.commit()
    assert (await login(client, phone))["user"]["phone"] == phone


async def test_inactive_account_cannot_log_in(client: AsyncClient, settings: Settings, db: Database) -> None:
    tokens = await signup(client, settings)
    phone = tokens["user"]["phone"]
    async with db.sessionmaker() as s:
        await s.execute(update(User).where(User.phone == phone).values(is_active=False))
        await s.commit()
    response = await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "2580"})
    assert response.status_code == 401


async def test_login_rate_limited_per_ip(client: AsyncClient) -> None:
    codes = []
    for _ in range(31):
        response = await client.post(f"{API}/auth/login", json={"phone": new_phone(), "pin": "2580"})
        codes.append(response.status_code)
    assert codes[:30] == [401] * 30
    assert codes[30] == 429
    assert int(response.headers["retry-after"]) > 0


async def test_refresh_rotates_and_reuse_kills_the_session(
    client: AsyncClient, settings: Settings, db: Database
) -> None:
    first = await signup(client, settings)
    rotated = await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get(f"{API}/me", headers=bearer(second))).status_code == 200
    async with db.sessionmaker() as s:  # past the grace window for concurrent refreshes (30 s)
        await s.execute(
            update(RefreshToken).values(rotated_at=RefreshToken.rotated_at - timedelta(seconds=31))
        )
        await s.commit()
    # an attacker replays the stolen, already rotated token
    stolen = await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401
    # the whole session is dead: the legitimate refresh token and the access token too
    legit = await client.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert legit.status_code == 401
    assert (await client.get(f"{API}/me", headers=bearer(second))).status_code == 401
    assert (await client.get(f"{API}/me", headers=bearer(first))).status_code == 401


async def test_unknown_refresh_token(client: AsyncClient) -> None:
    response = await client.post(f"{API}/auth/refresh", json={"refresh_token": "x" * 43})
    assert response.status_code == 401


async def test_refresh_rate_limited_per_ip(
    client: AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity_sessions, "REFRESH_IP_LIMIT", (3, 60))
    issued = await signup(client, settings)
    codes = []
    for _ in range(3):
        response = await client.post(f"{API}/auth/refresh", json={"refresh_token": "y" * 43})
        codes.append(response.status_code)
    assert codes == [401, 401, 401]
    # the limit is reached: even a valid token waits (and is not consumed)
    limited = await client.post(f"{API}/auth/refresh", json={"refresh_token": issued["refresh_token"]})
    assert limited.status_code == 429
    assert limited.json()["code"] == "too_many_requests"
    assert int(limited.headers["retry-after"]) > 0
    monkeypatch.setattr(identity_sessions, "REFRESH_IP_LIMIT", (10, 60))
    again = await client.post(f"{API}/auth/refresh", json={"refresh_token": issued["refresh_token"]})
    assert again.status_code == 200


async def test_logout_kills_access_token_at_once(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    headers = bearer(tokens)
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 200  # session state now cached
    assert (await client.post(f"{API}/auth/logout", headers=headers)).status_code == 204
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 401
    refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_logout_all(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    other = await login(client, tokens["user"]["phone"])
    assert (await client.get(f"{API}/me", headers=bearer(other))).status_code == 200
    response = await client.post(f"{API}/auth/logout", headers=bearer(tokens), json={"all": True})
    assert response.status_code == 204
    assert (await client.get(f"{API}/me", headers=bearer(other))).status_code == 401
    assert (await client.get(f"{API}/me", headers=bearer(tokens))).status_code == 401


async def test_revocation_without_logout_applies_within_the_cache_window(
    client: AsyncClient, settings: Settings, db: Database, app: FastAPI
) -> None:
    """Even when the cache is not told (another API instance revoked it), the cached state lives at
    most ``session_revocation_check_s`` ≤ 60 s: here we expire it as the TTL would."""
    from samaconso.identity.models import AuthSession
    from samaconso.identity.principal import session_cache_key

    tokens = await signup(client, settings)
    assert (await client.get(f"{API}/me", headers=bearer(tokens))).status_code == 200
    redis = app.state.redis
    keys = await redis.keys("authsess:*")
    assert keys
    ttl = await redis.ttl(keys[0])
    assert 0 < ttl <= min(60, settings.session_revocation_check_s)
    async with db.sessionmaker() as s:
        await s.execute(update(AuthSession).values(revoked_at=AuthSession.created_at))
        await s.commit()
    await redis.delete(*keys)  # what the TTL does after ≤ 60 s
    assert session_cache_key("x") == "authsess:x"
    assert (await client.get(f"{API}/me", headers=bearer(tokens))).status_code == 401


async def test_pin_change_signs_out_other_sessions(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    phone = tokens["user"]["phone"]
    other = await login(client, phone)
    bad = await client.put(
        f"{API}/me/pin", headers=bearer(tokens), json={"current_pin": "9999", "new_pin": "3691"}
    )
    assert bad.status_code == 400
    weak = await client.put(
        f"{API}/me/pin", headers=bearer(tokens), json={"current_pin": "2580", "new_pin": "4567"}
    )
    assert weak.status_code == 422
    ok = await client.put(
        f"{API}/me/pin", headers=bearer(tokens), json={"current_pin": "2580", "new_pin": "3691"}
    )
    assert ok.status_code == 204
    assert (await client.get(f"{API}/me", headers=bearer(tokens))).status_code == 200
    assert (await client.get(f"{API}/me", headers=bearer(other))).status_code == 401
    assert (await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "2580"})).status_code == 401
    await login(client, phone, "3691")


async def test_pin_reset_with_code(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    phone = tokens["user"]["phone"]
    code = await request_code(client, settings, phone, "pin_reset")
    wrong = await client.post(
        f"{API}/auth/pin/reset",
        json={"phone": phone, "otp": f"{(int(code) + 7) % 10**6:06d}", "new_pin": "3691"},
    )
    assert wrong.status_code == 400
    # a sign-up code cannot reset a PIN
    done = await client.post(f"{API}/auth/pin/reset", json={"phone": phone, "otp": code, "new_pin": "3691"})
    assert done.status_code == 204
    assert (await client.get(f"{API}/me", headers=bearer(tokens))).status_code == 401  # all sessions out
    await login(client, phone, "3691")
    reused = await client.post(f"{API}/auth/pin/reset", json={"phone": phone, "otp": code, "new_pin": "1470"})
    assert reused.status_code == 400


async def test_pin_reset_unlocks_account(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    phone = tokens["user"]["phone"]
    for _ in range(5):
        await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "9999"})
    assert (await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "2580"})).status_code == 423
    code = await request_code(client, settings, phone, "pin_reset")
    assert (
        await client.post(f"{API}/auth/pin/reset", json={"phone": phone, "otp": code, "new_pin": "3691"})
    ).status_code == 204
    await login(client, phone, "3691")


async def test_staff_local_login_and_lockout(
    client: AsyncClient, settings: Settings, db: Database, agencies: dict[str, Agency]
) -> None:
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    async with db.sessionmaker() as s:
        row = await s.get(User, agent.id)
    assert row is not None
    assert row.login is not None
    login_name = row.login
    ok = await client.post(
        f"{API}/auth/staff/login", json={"login": login_name.upper(), "password": "Staff-Password-1"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"]["role"] == "agent"
    statuses = [
        (
            await client.post(f"{API}/auth/staff/login", json={"login": login_name, "password": "nope"})
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 423]
    locked = await client.post(
        f"{API}/auth/staff/login", json={"login": login_name, "password": "Staff-Password-1"}
    )
    assert locked.status_code == 423
    # a login without an account locks the same way: a lockout does not reveal which logins exist
    ghost = [
        (
            await client.post(f"{API}/auth/staff/login", json={"login": "ghost", "password": "nope"})
        ).status_code
        for _ in range(6)
    ]
    assert ghost == [401, 401, 401, 401, 423, 423]
