"""Shared fixtures: real PostgreSQL (fresh database per run, built by Alembic), Redis, RabbitMQ and a
SeaweedFS S3 server started for the session. Each test starts from empty tables and an empty Redis db,
with its own copy of the settings and its own run of the app's lifespan (fresh database pool, Redis
client, legacy gateway and its circuit breakers, realtime hub...): nothing a test leaves behind reaches
the next one, whatever the order (``make test`` shuffles it: pytest-randomly)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import text

from tests.support import env

env.apply()

from samaconso.app import create_app  # noqa: E402
from samaconso.identity.agency_names import legacy_key  # noqa: E402
from samaconso.identity.models import Agency  # noqa: E402
from samaconso.identity.seed import AGENCIES  # noqa: E402
from samaconso.kit.db import Database  # noqa: E402
from samaconso.models import metadata  # noqa: E402
from samaconso.settings import Settings, get_settings  # noqa: E402
from tests.support.fcm_standin import FcmStandIn  # noqa: E402
from tests.support.legacy import legacy_source  # noqa: E402, F401  (the session fixture, registered here once)
from tests.support.services import start_s3  # noqa: E402
from tests.support.settings import Serve, override  # noqa: E402


def _admin_exec(sql: str) -> None:
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


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
def fcm() -> Iterator[FcmStandIn]:
    """The FCM stand-in (HTTP/2 + OAuth2), one for the whole session. Defined here, once: a session
    fixture imported into several conftests is a separate instance in each, and their credential
    files would overwrite each other (the first stand-in then refuses every OAuth assertion)."""
    standin = FcmStandIn(Path(tempfile.mkdtemp(prefix="fcm-", dir=env.TMP)), project_id="samaconso-test")
    standin.start_in_thread()
    yield standin
    standin.stop()


@pytest.fixture
def fcm_clean(fcm: FcmStandIn) -> FcmStandIn:
    """The stand-in with its counters and failure knobs reset."""
    fcm.reset()
    return fcm


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
def base_settings(s3_endpoint: str, database_url: str) -> Settings:
    """The suite's settings, read once from the environment. Never changed: a test that needs other
    values gets a copy (``settings``), see tests/support/settings.py."""
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Fields this test's settings change; override this fixture in a module or a conftest."""
    return {}


@pytest.fixture
def settings(
    base_settings: Settings, settings_overrides: dict[str, Any], request: pytest.FixtureRequest
) -> Settings:
    """This test's settings: a copy of the suite's with ``settings_overrides`` and the
    ``@pytest.mark.settings(...)`` fields applied."""
    fields = dict(settings_overrides)
    for marker in reversed(list(request.node.iter_markers("settings"))):
        fields.update(marker.kwargs)
    return override(base_settings, **fields)


def _settings_key(settings: Settings) -> str:
    def plain(value: object) -> str:
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    return json.dumps(settings.model_dump(), default=plain, sort_keys=True)


@pytest.fixture(scope="session")
def app_objects() -> dict[str, FastAPI]:
    """App objects by settings, built once each (building the routes takes ~0.5 s); what the
    lifespan builds is not kept: it runs again for each test."""
    return {}


@asynccontextmanager
async def _running(application: FastAPI) -> AsyncIterator[FastAPI]:
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=30):
        yield application


@pytest.fixture
async def app(app_objects: dict[str, FastAPI], settings: Settings) -> AsyncIterator[FastAPI]:
    """The app serving this test's settings, its lifespan started for this test alone: every
    long-lived resource the lifespan builds is new, and closed when the test ends."""
    key = _settings_key(settings)
    application = app_objects.get(key)
    if application is None:
        application = app_objects[key] = create_app(settings)
    async with _running(application):
        yield application


@pytest.fixture
def serve() -> Serve:
    """Start another app on other settings (the same deployment reconfigured and restarted) and
    talk to it: ``async with serve(override(settings, xmlvend_enabled=False)) as other: ...``."""

    @asynccontextmanager
    async def start(other: Settings) -> AsyncIterator[AsyncClient]:
        async with _running(create_app(other)) as application:
            transport = ASGITransport(app=application, client=("127.0.0.1", 50000))
            async with AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield http

    return start


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


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """After a failure in shuffled order, say how to replay exactly that order."""
    seed = getattr(config.option, "randomly_seed", None)
    if exitstatus not in (0, 5) and isinstance(seed, int):
        terminalreporter.write_line(
            f'replay this order: make test PYTEST_ARGS="--randomly-seed={seed}"  (or make pytest ...)'
        )
