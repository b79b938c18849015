"""Typed FastAPI dependencies: how a route receives what the application's start-up built.

Every long-lived resource is created once by ``create_app``'s lifespan (``samaconso/wiring.py``)
and kept on ``app.state``; routes declare one of these annotated parameters instead of reaching
for ``app.state``. Services receive plain objects and import nothing from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.kit.db import Database
from samaconso.kit.pagination import MAX_LIMIT
from samaconso.kit.transaction import discard_after_commit, run_after_commit


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

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-100).")]
CursorQuery = Annotated[str | None, Query(description="Opaque cursor from the previous page.")]
