"""Shared fixtures: real PostgreSQL (fresh database per run, built by Alembic), Redis, RabbitMQ and a
SeaweedFS S3 server started for the session. Each test starts from empty tables and an empty Redis db."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from tests.support import env

env.apply()

from samaconso.app import create_app  # noqa: E402
from samaconso.identity.models import Agency  # noqa: E402
from samaconso.identity.seed import AGENCIES, legacy_key  # noqa: E402
from samaconso.kit.db import Database  # noqa: E402
from samaconso.models import metadata  # noqa: E402
from samaconso.settings import Settings, get_settings  # noqa: E402
from tests.support.services import start_s3  # noqa: E402


def _admin_exec(sql: str) -> None:
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    proc, url = start_s3(
        env.TMP, os.environ["SAMACONSO_S3_ACCESS_KEY"], os.environ["SAMACONSO_S3_SECRET_KEY"]
    )
    os.environ["SAMACONSO_S3_ENDPOINT_URL"] = url
    get_settings.cache_clear()
    yield url
    proc.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A brand-new database built by ``alembic upgrade head``."""
    from samaconso.cli import migrate

    _admin_exec(f'DROP DATABASE IF EXISTS "{env.TEST_DB}" WITH (FORCE)')
    _admin_exec(f'CREATE DATABASE "{env.TEST_DB}"')
    url = os.environ["SAMACONSO_DATABASE_URL"]
    migrate(url)
    yield url
    _admin_exec(f'DROP DATABASE IF EXISTS "{env.TEST_DB}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(s3_endpoint: str, database_url: str) -> Settings:
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=30):
        yield application


@pytest.fixture
async def db(app: FastAPI) -> Database:
    """The app's database, emptied before the test (tables) along with the test Redis db."""
    database: Database = app.state.db
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await app.state.redis.flushdb()
    return database


@pytest.fixture
async def client(app: FastAPI, db: Database) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def agencies(db: Database) -> dict[str, Agency]:
    """The reference agencies, by code (DKC = Dakar Centre, THS = Thiès, ...)."""
    async with db.sessionmaker() as session:
        rows = [Agency(code=c, name=n, region=r, legacy_name=legacy_key(n)) for c, n, r in AGENCIES]
        session.add_all(rows)
        await session.commit()
        return {a.code: a for a in rows}
