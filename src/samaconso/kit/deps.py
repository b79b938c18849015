"""Typed FastAPI dependencies: how a route receives what the application's start-up built.

Every long-lived resource is created once by ``create_app``'s lifespan (``samaconso/wiring.py``)
and kept on ``app.state``; routes declare one of these annotated parameters instead of reaching
for ``app.state``. This module is the one reader of ``app.state`` (``tests/kit/test_wiring_rules.py``):
a domain's own resources (legacy gateway, vending client, realtime hub, directory) have their typed
dependency in the domain's ``deps.py``, built on :func:`app_resource`. The dependencies take an
``HTTPConnection``, so WebSocket routes declare them like HTTP routes. Services receive plain objects
and import nothing from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from samaconso.kit.cache import Cache
from samaconso.kit.db import Database
from samaconso.kit.pagination import MAX_LIMIT
from samaconso.kit.ratelimit import RateLimiter
from samaconso.kit.read_only_repository import begin_read_only
from samaconso.kit.storage import Storage
from samaconso.kit.transaction import discard_after_commit, run_after_commit
from samaconso.settings import Settings

T = TypeVar("T")


def app_resource(conn: HTTPConnection | Starlette, name: str, kind: type[T]) -> T:
    """The resource the lifespan built under ``name`` (``wiring.ApiResources``), checked to be a
    ``kind``; from a request or WebSocket, or from the app itself (tests, ``legacy.deps.gateway_of``)."""
    app = conn if isinstance(conn, Starlette) else conn.app
    value: Any = getattr(app.state, name, None)
    if not isinstance(value, kind):
        raise RuntimeError(f"app resource {name!r} is not set up: is the app's lifespan running?")
    return value


def settings_of(conn: HTTPConnection) -> Settings:
    return app_resource(conn, "settings", Settings)


def database_of(conn: HTTPConnection) -> Database:
    return app_resource(conn, "db", Database)


def read_database_of(conn: HTTPConnection) -> Database:
    """The read engine: the streaming replica when ``SAMACONSO_DATABASE_READ_URL`` is set, else the
    primary itself. For pure reads in a READ ONLY transaction (``read_only_session``)."""
    return app_resource(conn, "read_db", Database)


def redis_of(conn: HTTPConnection) -> Redis:
    return app_resource(conn, "redis", Redis)


def storage_of(conn: HTTPConnection) -> Storage:
    return app_resource(conn, "storage", Storage)


def rate_limiter_of(conn: HTTPConnection) -> RateLimiter:
    return app_resource(conn, "rate_limiter", RateLimiter)


async def get_session(conn: HTTPConnection) -> AsyncIterator[AsyncSession]:
    """The request's session (see ``kit/transaction.py``): committed when the handler returns,
    before the answer is sent; rolled back when it raises."""
    db = database_of(conn)
    async with db.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            discard_after_commit(session)
            await session.rollback()
            raise
        if session.in_transaction():
            await session.commit()
        await run_after_commit(session)


# scope="function": the commit happens before the response leaves, so a failed commit is an error
# answer, never a 2xx for data that was not kept.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(conn: HTTPConnection) -> AsyncIterator[AsyncSession]:
    """A session for heavy pure reads (staff and audit lists), on the read engine: the streaming
    replica when ``SAMACONSO_DATABASE_READ_URL`` is set, else the primary. Its transaction is READ ONLY
    and always rolled back, so a write through it fails on the primary as on a replica; a route that
    writes (or reads its own writes) takes ``SessionDep``. A replica lags the primary by its replay delay: an account created a moment ago
    can be missing from a list read here."""
    db = read_database_of(conn)
    async with db.sessionmaker() as session:
        try:
            await begin_read_only(session)
            yield session
        finally:
            discard_after_commit(session)
            await session.rollback()


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def get_settings(conn: HTTPConnection) -> Settings:
    return settings_of(conn)


async def get_database(conn: HTTPConnection) -> Database:
    return database_of(conn)


async def get_read_database(conn: HTTPConnection) -> Database:
    return read_database_of(conn)


async def get_redis(conn: HTTPConnection) -> Redis:
    return redis_of(conn)


async def get_cache(conn: HTTPConnection) -> Cache:
    return app_resource(conn, "cache", Cache)


async def get_storage(conn: HTTPConnection) -> Storage:
    return storage_of(conn)


async def get_rate_limiter(conn: HTTPConnection) -> RateLimiter:
    return rate_limiter_of(conn)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ReadDatabaseDep = Annotated[Database, Depends(get_read_database)]
RedisDep = Annotated[Redis, Depends(get_redis)]
CacheDep = Annotated[Cache, Depends(get_cache)]
StorageDep = Annotated[Storage, Depends(get_storage)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-100).")]
CursorQuery = Annotated[
    str | None,
    Query(
        description="Opaque cursor from the previous page (`next_cursor`), passed back unchanged.",
        pattern=r"^[A-Za-z0-9_-]*$",  # what encode_cursor makes (base64url, no padding)
    ),
]
