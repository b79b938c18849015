"""The one transaction rule, in one place.

* A request's session (``kit.deps.SessionDep``) commits when the handler returns and rolls back when
  it raises; services never call ``commit()``.
* A task or command opens ONE ``async with db.sessionmaker.begin() as session`` block (or
  ``session.begin()``) per unit of work: committed when the block ends, rolled back on error.
* Work that must only happen once the data is durable (dropping cached session state, deleting a
  replaced object in S3, publishing jobs) is registered with :func:`after_commit` and runs right
  after the commit; a rollback discards it.
* The one exception is :func:`record_now`: something must stay recorded although the caller is
  about to be refused (a failed login counter, a wrong OTP try, the hourly OTP quota, a code stored
  before its SMS leaves, a session revoked on a refused refresh). Every explicit commit of the code base goes through it, so
  ``grep record_now`` lists them all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)

AFTER_COMMIT_KEY = "samaconso_after_commit"
AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the session's current transaction is committed (never on rollback)."""
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(callback)


def discard_after_commit(session: AsyncSession) -> None:
    session.info.pop(AFTER_COMMIT_KEY, None)


async def run_after_commit(session: AsyncSession) -> None:
    """Run the callbacks registered for the transaction just committed. A failing callback is logged
    and does not undo anything (the data is already committed)."""
    callbacks: list[AfterCommit] = session.info.pop(AFTER_COMMIT_KEY, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception as exc:
            log.warning("after_commit_failed", error=type(exc).__name__)


async def record_now(session: AsyncSession) -> None:
    """Commit at once what must survive the refusal the caller is about to get (see the module
    docstring for the allowed cases), then run its after-commit work."""
    await session.commit()
    await run_after_commit(session)


@asynccontextmanager
async def unit_of_work(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One task/command transaction: ``session.begin()`` commits at the end of the block (rolls back
    on error), then the after-commit work runs."""
    async with sessionmaker() as session:
        async with session.begin():
            yield session
        await run_after_commit(session)
