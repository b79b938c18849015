"""Idle staff sessions end on the server too (``SAMACONSO_STAFF_IDLE_TIMEOUT_S``), not only in the
console's browser tab: an access token or a refresh token of a session unused that long is
refused; a used session moves on; customers' sessions are not concerned."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select, update

from samaconso.identity.models import Agency, AuthSession, Role, User
from samaconso.identity.principal import session_cache_key
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.support.users import make_user

API = "/api/v1"
pytestmark = pytest.mark.settings(staff_idle_timeout_s=600)


async def _newest_session(db: Database, user_id: uuid.UUID) -> uuid.UUID:
    async with db.sessionmaker() as session:
        return (
            await session.execute(
                select(AuthSession.id)
                .where(AuthSession.user_id == user_id)
                .order_by(AuthSession.created_at.desc())
                .limit(1)
            )
        ).scalar_one()


async def _staff_login(
    client: AsyncClient, db: Database, user_id: uuid.UUID
) -> tuple[dict[str, str], str, uuid.UUID]:
    async with db.sessionmaker() as session:
        login = (await session.execute(select(User.login).where(User.id == user_id))).scalar_one()
    r = await client.post(f"{API}/auth/staff/login", json={"login": login, "password": "Staff-Password-1"})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return headers, r.json()["refresh_token"], await _newest_session(db, user_id)


async def _unused_for(db: Database, app: FastAPI, sid: uuid.UUID, minutes: int) -> None:
    """Make the session look unused for ``minutes``; drop its cached state (what the
    cache's TTL does within ``session_revocation_check_s``)."""
    async with db.sessionmaker() as session:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id == sid)
            .values(last_used_at=func.now() - timedelta(minutes=minutes))
        )
        await session.commit()
    await app.state.redis.delete(session_cache_key(sid))


async def _session(db: Database, sid: uuid.UUID) -> AuthSession:
    async with db.sessionmaker() as session:
        return (await session.execute(select(AuthSession).where(AuthSession.id == sid))).scalar_one()


async def test_an_idle_staff_session_ends_and_a_used_one_goes_on(
    client: AsyncClient, db: Database, settings: Settings, app: FastAPI, agencies: dict[str, Agency]
) -> None:
    assert settings.staff_idle_timeout_s == 600
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    headers, refresh, sid = await _staff_login(client, db, agent.id)
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 200

    # used 9 minutes ago (< 10): still works, and the use is recorded
    await _unused_for(db, app, sid, 9)
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 200
    seen = await _session(db, sid)
    assert seen.revoked_at is None
    async with db.sessionmaker() as session:
        now = (await session.execute(select(func.now()))).scalar_one()
    assert now - seen.last_used_at < timedelta(minutes=1)

    # unused 11 minutes: the access token is refused, in French or English, and so is the refresh
    await _unused_for(db, app, sid, 11)
    r = await client.get(f"{API}/me", headers={**headers, "Accept-Language": "en"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["code"], r.json()["detail"]) == (
        "session_revoked",
        "Your session was closed: please sign in again.",
    )
    assert (await _session(db, sid)).revoked_reason == "idle"
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh})
    assert r.status_code == 401
    assert r.json()["detail"] == "Votre session a été fermée : reconnectez-vous."


async def test_an_idle_staff_session_cannot_come_back_through_its_refresh_token(
    client: AsyncClient, db: Database, settings: Settings, app: FastAPI
) -> None:
    admin = await make_user(db, settings, Role.admin)
    _, refresh, sid = await _staff_login(client, db, admin.id)
    await _unused_for(db, app, sid, 11)
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh})
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "session_revoked"
    assert (await _session(db, sid)).revoked_reason == "idle"


async def test_customer_sessions_have_no_staff_idle_timeout(
    client: AsyncClient, db: Database, settings: Settings, app: FastAPI
) -> None:
    awa = await make_user(db, settings)
    assert (await client.get(f"{API}/me", headers=awa.headers)).status_code == 200
    sid = await _newest_session(db, awa.id)
    await _unused_for(db, app, sid, 180)
    assert (await client.get(f"{API}/me", headers=awa.headers)).status_code == 200
    assert (await _session(db, sid)).revoked_at is None


@pytest.mark.settings(staff_idle_timeout_s=300)
async def test_the_console_page_carries_the_idle_timeout(client: AsyncClient, settings: Settings) -> None:
    for path in ("/console/", "/console/index.html"):
        r = await client.get(path)
        assert r.status_code == 200
        assert '<html lang="fr" data-idle-ms="300000">' in r.text
        assert "unsafe-inline" not in r.headers["content-security-policy"]
