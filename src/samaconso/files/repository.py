"""All SQL of the files domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.files.models import StoredFile


async def get(session: AsyncSession, file_id: uuid.UUID, *, for_update: bool = False) -> StoredFile | None:
    stmt = select(StoredFile).where(StoredFile.id == file_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def lock_many(session: AsyncSession, file_ids: Sequence[uuid.UUID]) -> Sequence[StoredFile]:
    return (
        await session.scalars(
            select(StoredFile)
            .where(StoredFile.id.in_(list(file_ids)))
            .order_by(StoredFile.id)
            .with_for_update()
        )
    ).all()


async def of_request(session: AsyncSession, request_id: uuid.UUID) -> Sequence[StoredFile]:
    return (
        await session.scalars(
            select(StoredFile)
            .where(StoredFile.request_id == request_id)
            .order_by(StoredFile.attached_at, StoredFile.id)
        )
    ).all()


async def stale_unattached(session: AsyncSession, *, older_than_s: int, limit: int) -> Sequence[StoredFile]:
    """Unattached files older than the grace period, locked (other purgers skip them)."""
    return (
        await session.scalars(
            select(StoredFile)
            .where(
                StoredFile.request_id.is_(None),
                StoredFile.created_at
                < func.now() - text("make_interval(secs => :secs)").bindparams(secs=older_than_s),
            )
            .order_by(StoredFile.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def delete_ids(session: AsyncSession, file_ids: Sequence[uuid.UUID]) -> None:
    await session.execute(delete(StoredFile).where(StoredFile.id.in_(list(file_ids))))


async def mark_attached(session: AsyncSession, file_ids: Sequence[uuid.UUID], request_id: uuid.UUID) -> None:
    await session.execute(
        update(StoredFile)
        .where(StoredFile.id.in_(list(file_ids)))
        .values(request_id=request_id, attached_at=func.now())
    )
