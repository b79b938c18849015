"""SQL of the agency console's staff reads: customer search, a customer's agencies, meters, sharers,
devices, requests and notifications received."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.models import Device, Role, User
from samaconso.kit.db import keyset_after
from samaconso.meters.models import LinkStatus, Meter, MeterLink
from samaconso.requests.models import CustomerRequest, RequestType

LIVE = (LinkStatus.active, LinkStatus.pending)


def _customers() -> Select[User]:
    return select(User).where(User.role == Role.customer, User.deleted_at.is_(None))


def _in_agency(agency_id: uuid.UUID) -> ColumnElement[bool]:
    """The customer has an active link to a meter of this agency."""
    return exists(
        select(MeterLink.id)
        .join(Meter, Meter.id == MeterLink.meter_id)
        .where(
            MeterLink.user_id == User.id,
            MeterLink.status == LinkStatus.active,
            Meter.agency_id == agency_id,
        )
    )


async def search_customers(
    session: AsyncSession,
    *,
    phone: str | None,
    text: str | None,
    number: str | None,
    agency_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[User]:
    """Customers matching a phone (exact E.164), a name (every word, accents kept, case ignored)
    or a meter / contract number (exact), newest first; ``agency_id`` restricts to one agency."""
    stmt = _customers()
    matches = []
    if phone:
        matches.append(User.phone == phone)
    if number:
        matches.append(
            exists(
                select(MeterLink.id)
                .join(Meter, Meter.id == MeterLink.meter_id)
                .where(MeterLink.user_id == User.id, MeterLink.status.in_(LIVE), Meter.number == number)
            )
        )
    if text:
        words = [w for w in text.split() if w][:5]
        full = func.concat(User.first_name, " ", User.last_name)
        matches.append(and_(*(full.ilike(f"%{_escape(w)}%", escape="\\") for w in words)))
    if not matches:
        return []
    stmt = stmt.where(or_(*matches))
    if agency_id is not None:
        stmt = stmt.where(_in_agency(agency_id))
    if after is not None:
        stmt = stmt.where(keyset_after((User.created_at, User.id), after, descending=True))
    stmt = stmt.order_by(User.created_at.desc(), User.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).scalars().all()


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def customer(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
    stmt = _customers().where(User.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def agencies_of_customer(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await session.scalars(
        select(Meter.agency_id)
        .join(MeterLink, MeterLink.meter_id == Meter.id)
        .where(MeterLink.user_id == user_id, MeterLink.status == LinkStatus.active)
        .distinct()
    )
    return {a for a in rows if a is not None}


async def meters_of_customer(session: AsyncSession, user_id: uuid.UUID) -> Sequence[tuple[MeterLink, Meter]]:
    stmt = (
        select(MeterLink, Meter)
        .join(Meter, Meter.id == MeterLink.meter_id)
        .where(MeterLink.user_id == user_id, MeterLink.status.in_(LIVE))
        .order_by(MeterLink.created_at, MeterLink.id)
        .limit(100)
    )
    return [(link, meter) for link, meter in (await session.execute(stmt)).all()]


async def people_on_meters(
    session: AsyncSession, meter_ids: Sequence[uuid.UUID]
) -> Sequence[tuple[MeterLink, User]]:
    if not meter_ids:
        return []
    stmt = (
        select(MeterLink, User)
        .join(User, User.id == MeterLink.user_id)
        .where(MeterLink.meter_id.in_(meter_ids), MeterLink.status.in_(LIVE))
        .order_by(MeterLink.created_at)
        .limit(500)
    )
    return [(link, user) for link, user in (await session.execute(stmt)).all()]


async def devices_of_customer(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Device]:
    stmt = (
        select(Device)
        .where(Device.user_id == user_id)
        .order_by(Device.last_seen_at.desc(), Device.id.desc())
        .limit(50)
    )
    return (await session.execute(stmt)).scalars().all()


async def requests_of_customer(
    session: AsyncSession, user_id: uuid.UUID
) -> Sequence[tuple[CustomerRequest, RequestType]]:
    stmt = (
        select(CustomerRequest, RequestType)
        .join(RequestType, RequestType.id == CustomerRequest.type_id)
        .where(CustomerRequest.requester_id == user_id)
        .order_by(CustomerRequest.created_at.desc(), CustomerRequest.id.desc())
        .limit(50)
    )
    return [(r, t) for r, t in (await session.execute(stmt)).all()]


async def meter_of_customer(session: AsyncSession, user_id: uuid.UUID, meter_id: uuid.UUID) -> Meter | None:
    stmt = (
        select(Meter)
        .join(MeterLink, MeterLink.meter_id == Meter.id)
        .where(Meter.id == meter_id, MeterLink.user_id == user_id, MeterLink.status == LinkStatus.active)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def colleagues(
    session: AsyncSession,
    agency_id: uuid.UUID | None,
    limit: int,
    after: tuple[str, str, uuid.UUID] | None,
) -> Sequence[User]:
    """Active staff of an agency (None: every active staff member), by name, one more than
    ``limit`` (the caller knows whether a next page exists)."""
    stmt = select(User).where(User.role.in_((Role.agent, Role.admin)), User.is_active)
    if agency_id is not None:
        stmt = stmt.where(User.agency_id == agency_id)
    if after is not None:
        stmt = stmt.where(tuple_(User.last_name, User.first_name, User.id) > tuple_(*after))
    stmt = stmt.order_by(User.last_name, User.first_name, User.id).limit(limit + 1)
    return (await session.execute(stmt)).scalars().all()


async def lock_request_routing(
    session: AsyncSession, request_id: uuid.UUID
) -> tuple[uuid.UUID | None, uuid.UUID | None] | None:
    """A request's (agency, assignee), its row locked for the rest of the transaction, or None.
    Columns only: the ORM copy the requests service loads next is read fresh under the same lock."""
    row = (
        await session.execute(
            select(CustomerRequest.agency_id, CustomerRequest.assigned_to)
            .where(CustomerRequest.id == request_id)
            .with_for_update()
        )
    ).first()
    return None if row is None else (row[0], row[1])
