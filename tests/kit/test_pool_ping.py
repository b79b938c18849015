"""A pooled connection that died (PgBouncer or the network restarted, the server ended it) never
turns into a 500: after a pause it is pinged and replaced before use; in steady use, when there is
no ping, the request that meets it answers 503 ``database_busy`` and the next one is served."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from httpx import AsyncClient
from sqlalchemy import text

from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.support import env
from tests.support.users import make_user

# one connection in the pool: the one the test kills is the one the next request gets
pytestmark = pytest.mark.settings(
    database_pool_size=1, database_max_overflow=0, database_pool_ping_idle_s=0.5
)

ROUTE = "/api/v1/me/requests"  # not a cached hot read: every call reaches PostgreSQL


async def _kill_pooled_connection(db: Database) -> None:
    async with db.engine.connect() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    await asyncio.sleep(0.05)  # the server's goodbye reaches the client socket


async def test_a_connection_that_died_while_idle_is_replaced_before_use(
    db: Database, client: AsyncClient, settings: Settings
) -> None:
    user = await make_user(db, settings)
    assert (await client.get(ROUTE, headers=user.headers)).status_code == 200
    await _kill_pooled_connection(db)
    await asyncio.sleep(0.6)  # longer than database_pool_ping_idle_s: pinged at checkout
    response = await client.get(ROUTE, headers=user.headers)
    assert response.status_code == 200, response.text


async def test_a_connection_that_died_in_steady_use_is_a_503_then_served(
    db: Database, client: AsyncClient, settings: Settings
) -> None:
    user = await make_user(db, settings)
    assert (await client.get(ROUTE, headers=user.headers)).status_code == 200
    await _kill_pooled_connection(db)  # checked in just now: no ping at the next checkout
    lost = await client.get(ROUTE, headers={**user.headers, "Accept-Language": "en"})
    assert lost.status_code == 503
    assert lost.headers["content-type"].startswith("application/problem+json")
    assert lost.headers["retry-after"] == "1"
    assert lost.json()["code"] == "database_busy"
    assert lost.json()["detail"] == "The service is very busy, please retry in a moment."
    again = await client.get(ROUTE, headers=user.headers)
    assert again.status_code == 200, again.text


async def test_steady_use_is_not_pinged(
    db: Database, client: AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(db, settings)
    dialect = db.engine.sync_engine.dialect
    pings: list[Any] = []
    real = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    for _ in range(5):
        assert (await client.get(ROUTE, headers=user.headers)).status_code == 200
    assert pings == []
    await asyncio.sleep(0.6)
    assert (await client.get(ROUTE, headers=user.headers)).status_code == 200
    assert len(pings) == 1
