"""SQL of meter sharing: the members of a meter, stale requests, the counter decision's audit row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.models import AuditEvent, Role, User
from samaconso.kit.db import keyset_after
from samaconso.kit.freshness import changed
from samaconso.meters.models import LinkStatus, Meter, MeterLink


async def members(
    session: AsyncSession,
    meter_id: uuid.UUID,
    owner_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[tuple[MeterLink, User]]:
    """Other customers with an active or pending link to the meter, oldest first."""
    stmt = (
        select(MeterLink, User)
        .join(User, User.id == MeterLink.user_id)
        .where(
            MeterLink.meter_id == meter_id,
            MeterLink.user_id != owner_id,
            MeterLink.status.in_([LinkStatus.active, LinkStatus.pending]),
        )
    )
    if after is not None:
        stmt = stmt.where(keyset_after((MeterLink.created_at, MeterLink.id), after, descending=False))
    rows = await session.execute(stmt.order_by(MeterLink.created_at, MeterLink.id).limit(limit + 1))
    return [(r[0], r[1]) for r in rows]


async def expire_absent_owner_requests(session: AsyncSession, older_than: timedelta) -> Sequence[Any]:
    """Pending links older than ``older_than`` on meters whose owner (the legacy phone) has no
    customer account: marked expired. Returns (link id, user id, meter id) of each."""
    owner_on_app = exists().where(
        and_(User.phone == Meter.legacy_phone, User.role == Role.customer, User.is_active.is_(True))
    )
    absent = (
        select(MeterLink.id)
        .join(Meter, Meter.id == MeterLink.meter_id)
        .where(
            MeterLink.status == LinkStatus.pending,
            MeterLink.created_at < func.now() - older_than,
            ~owner_on_app,
        )
        .with_for_update(of=MeterLink, skip_locked=True)
    )
    result = await session.execute(
        update(MeterLink)
        .where(MeterLink.id.in_(absent.scalar_subquery()))
        .values(status=LinkStatus.expired, decided_at=func.now(), updated_at=func.now())
        .returning(MeterLink.id, MeterLink.user_id, MeterLink.meter_id)
    )
    rows = result.all()
    changed(session, *(row.user_id for row in rows))
    return rows


def add_audit(
    session: AsyncSession, event: str, *, user_id: uuid.UUID, actor_id: uuid.UUID, details: dict[str, Any]
) -> None:
    session.add(AuditEvent(event=event, user_id=user_id, actor_id=actor_id, details=details))
