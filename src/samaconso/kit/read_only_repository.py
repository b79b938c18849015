"""The one statement of the read-only session (``kit/deps.get_read_session``), and the same session
for code outside a request (the dashboard refresh): :func:`read_only_session`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.kit.db import Database


async def begin_read_only(session: AsyncSession, *, one_snapshot: bool = False) -> None:
    """Make the session's transaction READ ONLY: a write through it fails, on the primary as on a
    replica (first statement of the transaction). ``one_snapshot``: REPEATABLE READ as well, so that
    every statement of the transaction sees the same data (allowed on a hot standby)."""
    if one_snapshot:
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    else:
        await session.execute(text("SET TRANSACTION READ ONLY"))


@asynccontextmanager
async def read_only_session(db: Database, *, one_snapshot: bool = False) -> AsyncIterator[AsyncSession]:
    """A session of ``db`` (the read engine: a replica, or the primary) whose one transaction is READ
    ONLY and always rolled back: nothing written through it can be kept, wherever it points."""
    async with db.sessionmaker() as session:
        try:
            await begin_read_only(session, one_snapshot=one_snapshot)
            yield session
        finally:
            await session.rollback()
