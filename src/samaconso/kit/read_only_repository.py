"""The one statement of the read-only session (``kit/deps.get_read_session``)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def begin_read_only(session: AsyncSession) -> None:
    """Make the session's transaction READ ONLY: a write through it fails, on the primary as on a
    replica (first statement of the transaction)."""
    await session.execute(text("SET TRANSACTION READ ONLY"))
