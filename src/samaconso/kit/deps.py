"""Typed FastAPI dependencies: how a route receives what the application's start-up built.

Every long-lived resource is created once by ``create_app``'s lifespan (``samaconso/wiring.py``)
and kept on ``app.state``; routes declare one of these annotated parameters instead of reaching
for ``app.state``. Services receive plain objects and import nothing from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.kit.cache import Cache
from samaconso.kit.db import Database
from samaconso.kit.pagination import MAX_LIMIT
from samaconso.kit.ratelimit import RateLimiter
from samaconso.kit.storage import Storage
from samaconso.kit.transaction import discard_after_commit, run_after_commit
from samaconso.settings import Settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session (see ``kit/transaction.py``): committed when the handler returns,
    before the answer is sent; rolled back when it raises."""
    db: Database = request.app.state.db
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


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for heavy pure reads (staff and audit lists), on the read engine: the streaming
    replica when ``SAMACONSO_DATABASE_READ_URL`` is set, else the primary. Its transaction is READ ONLY
    and always rolled back, so a write through it fails on the primary as on a replica; a route that
    writes (or reads its own writes, or builds a temporary table like the dashboard refresh) takes
    ``SessionDep``. A replica lags the primary by its replay delay: an account created a moment ago
    can be missing from a list read here."""
    db: Database = request.app.state.read_db
    async with db.sessionmaker() as session:
        try:
            await session.execute(text("SET TRANSACTION READ ONLY"))
            yield session
        finally:
            discard_after_commit(session)
            await session.rollback()


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
CacheDep = Annotated[Cache, Depends(get_cache)]
StorageDep = Annotated[Storage, Depends(get_storage)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-100).")]
CursorQuery = Annotated[str | None, Query(description="Opaque cursor from the previous page.")]
