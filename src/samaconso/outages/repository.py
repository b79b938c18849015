"""All SQL of the outages domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.models import Agency
from samaconso.kit.db import keyset_after
from samaconso.meters.models import LinkStatus, Meter, MeterLink
from samaconso.outages.models import Outage, OutageAgency, OutageUpdate


async def db_now(session: AsyncSession) -> datetime:
    return (await session.execute(select(func.now()))).scalar_one()


async def existing_agencies(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    return set((await session.execute(select(Agency.id).where(Agency.id.in_(ids)))).scalars().all())


async def get(session: AsyncSession, outage_id: uuid.UUID, *, for_update: bool = False) -> Outage | None:
    stmt = select(Outage).where(Outage.id == outage_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def agencies_of(
    session: AsyncSession, outage_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    rows = await session.execute(
        select(OutageAgency.outage_id, Agency.id, Agency.name)
        .join(Agency, Agency.id == OutageAgency.agency_id)
        .where(OutageAgency.outage_id.in_(outage_ids))
        .order_by(Agency.name)
    )
    out: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    for outage_id, agency_id, name in rows:
        out.setdefault(outage_id, []).append((agency_id, name))
    return out


async def updates_of(
    session: AsyncSession, outage_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[OutageUpdate]]:
    rows = await session.execute(
        select(OutageUpdate)
        .where(OutageUpdate.outage_id.in_(outage_ids))
        .order_by(OutageUpdate.at, OutageUpdate.id)
    )
    out: dict[uuid.UUID, list[OutageUpdate]] = {}
    for u in rows.scalars():
        out.setdefault(u.outage_id, []).append(u)
    return out


async def list_outages(
    session: AsyncSession,
    *,
    agency_ids: list[uuid.UUID] | None,
    recent: timedelta | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Outage]:
    """Newest start first, keyset on (starts_at, id). ``agency_ids``: only outages touching one of
    them (None: all). ``recent``: only current ones and those ended less than that long ago."""
    stmt = select(Outage)
    if agency_ids is not None:
        touching = select(OutageAgency.outage_id).where(OutageAgency.agency_id.in_(agency_ids))
        stmt = stmt.where(Outage.id.in_(touching))
    if recent is not None:
        stmt = stmt.where(or_(Outage.ended_at.is_(None), Outage.ended_at > func.now() - recent))
    if after is not None:
        stmt = stmt.where(keyset_after((Outage.starts_at, Outage.id), after, descending=True))
    stmt = stmt.order_by(Outage.starts_at.desc(), Outage.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).scalars().all()


async def agencies_of_my_meters(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(
        select(Meter.agency_id)
        .join(MeterLink, MeterLink.meter_id == Meter.id)
        .where(
            and_(
                MeterLink.user_id == user_id,
                MeterLink.status == LinkStatus.active,
                Meter.agency_id.is_not(None),
            )
        )
        .distinct()
    )
    return [a for a in rows.scalars() if a is not None]


async def any_outage(session: AsyncSession) -> bool:
    """Whether any outage was ever declared (the embedded demo seeds one only into an empty table)."""
    return (await session.scalar(select(Outage.id).limit(1))) is not None
