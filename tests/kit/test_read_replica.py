"""SAMACONSO_DATABASE_READ_URL: the staff and audit lists read from the read engine (a streaming
replica in production); writes stay on the primary, and the read session refuses to write.

The "replica" here is a second database with the same schema whose rows differ from the primary's:
what a list shows then says which database it was read from."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.models import AuditEvent, Role, User
from samaconso.kit.db import Database
from samaconso.kit.deps import get_read_session
from samaconso.kit.security import hash_secret
from samaconso.models import metadata
from samaconso.settings import Settings
from tests.support import env
from tests.support.replica_database import replica_database
from tests.support.users import make_user

API = "/api/v1"
REPLICA_DB = f"{env.TEST_DB}_replica"


@pytest.fixture(scope="module")
def replica_url(database_url: str) -> Iterator[str]:
    with replica_database(REPLICA_DB) as url:
        yield url


@pytest.fixture
def settings_overrides(replica_url: str) -> dict[str, Any]:
    return {"database_read_url": replica_url}


@pytest.fixture
async def replica(app: FastAPI, db: Database) -> Database:
    """The app's read engine, its tables emptied for this test."""
    read_db: Database = app.state.read_db
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with read_db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return read_db


async def _add_staff(database: Database, login: str, last_name: str) -> None:
    async with database.sessionmaker() as session:
        session.add(
            User(
                role=Role.admin,
                login=login,
                password_hash=hash_secret("Replica-Password-1"),
                first_name="Réplique",
                last_name=last_name,
            )
        )
        await session.commit()


async def _logins(database: Database) -> set[str]:
    async with database.sessionmaker() as session:
        return set(await session.scalars(select(User.login).where(User.login.is_not(None))))


async def test_staff_list_reads_the_replica_and_writes_go_to_the_primary(
    client: AsyncClient, settings: Settings, db: Database, replica: Database
) -> None:
    assert replica is not db
    admin = await make_user(db, settings, Role.admin)
    await _add_staff(replica, "seulement.replique", "Replique")
    await _add_staff(db, "seulement.primaire", "Primaire")

    listing = await client.get(f"{API}/admin/users", headers=admin.headers, params={"limit": 100})
    assert listing.status_code == 200, listing.text
    logins = {u["login"] for u in listing.json()["items"]}
    assert "seulement.replique" in logins
    assert "seulement.primaire" not in logins

    # A write (creating an account) goes to the primary, never to the read engine.
    created = await client.post(
        f"{API}/admin/users",
        headers=admin.headers,
        json={
            "login": "nouveau.compte",
            "role": "admin",
            "first_name": "Nouveau",
            "last_name": "Compte",
            "password": "Nouveau-Compte-2026",
        },
    )
    assert created.status_code == 201, created.text
    assert "nouveau.compte" in await _logins(db)
    assert "nouveau.compte" not in await _logins(replica)
    # …so the list, read on the replica, shows it only once the replica has it (replay lag).
    listing = await client.get(f"{API}/admin/users", headers=admin.headers, params={"limit": 100})
    assert "nouveau.compte" not in {u["login"] for u in listing.json()["items"]}


async def test_audit_list_reads_the_replica(
    client: AsyncClient, settings: Settings, db: Database, replica: Database
) -> None:
    admin = await make_user(db, settings, Role.admin)
    async with replica.sessionmaker() as session:
        session.add(AuditEvent(event="replica.only", user_id=None))
        await session.commit()
    res = await client.get(f"{API}/admin/audit", headers=admin.headers)
    assert res.status_code == 200, res.text
    assert [e["event"] for e in res.json()["items"]] == ["replica.only"]


async def test_the_read_session_refuses_writes(app: FastAPI, replica: Database) -> None:
    request: Any = SimpleNamespace(app=app)
    sessions = cast(AsyncGenerator[AsyncSession, None], get_read_session(request))
    session = await anext(sessions)
    with pytest.raises(DBAPIError, match="read-only transaction"):
        await session.execute(
            text("INSERT INTO audit_events (id, event, at) VALUES (:id, 'x', now())"), {"id": uuid.uuid4()}
        )
    await sessions.aclose()
    async with replica.sessionmaker() as check:
        assert await check.scalar(select(func.count()).select_from(AuditEvent)) == 0


@pytest.mark.settings(database_read_url=None)
async def test_without_a_replica_lists_read_the_primary_read_only(
    client: AsyncClient, app: FastAPI, settings: Settings, db: Database
) -> None:
    assert app.state.read_db is db
    admin = await make_user(db, settings, Role.admin)
    await _add_staff(db, "sur.primaire", "Primaire")
    listing = await client.get(f"{API}/admin/users", headers=admin.headers, params={"limit": 100})
    assert "sur.primaire" in {u["login"] for u in listing.json()["items"]}
    request: Any = SimpleNamespace(app=app)
    sessions = cast(AsyncGenerator[AsyncSession, None], get_read_session(request))
    session = await anext(sessions)
    with pytest.raises(DBAPIError, match="read-only transaction"):
        await session.execute(text("UPDATE users SET first_name = 'X'"))
    await sessions.aclose()
    async with db.sessionmaker() as check:
        names = set(await check.scalars(select(User.first_name)))
    assert "X" not in names
