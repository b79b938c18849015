"""SQL of the meters domain (meters, links, the few identity rows it needs to read)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import DateTime, Select, and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.types import Uuid

from samaconso.identity.models import Agency, User
from samaconso.kit.db import keyset_after
from samaconso.kit.freshness import changed
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink

LIVE = (LinkStatus.pending, LinkStatus.active)


async def user_phone(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    return (await session.execute(select(User.phone).where(User.id == user_id))).scalar_one_or_none()


async def customer_by_phone(session: AsyncSession, phone: str) -> User | None:
    return (
        await session.execute(
            select(User).where(User.phone == phone, User.is_active.is_(True), User.deleted_at.is_(None))
        )
    ).scalar_one_or_none()


async def agency_by_legacy_name(session: AsyncSession, legacy_name: str) -> Agency | None:
    return (
        await session.execute(select(Agency).where(Agency.legacy_name == legacy_name))
    ).scalar_one_or_none()


async def agency_name(session: AsyncSession, agency_id: uuid.UUID | None) -> str | None:
    if agency_id is None:
        return None
    return (await session.execute(select(Agency.name).where(Agency.id == agency_id))).scalar_one_or_none()


async def meter_by_number(session: AsyncSession, kind: MeterKind, number: str) -> Meter | None:
    return (
        await session.execute(select(Meter).where(Meter.kind == kind, Meter.number == number))
    ).scalar_one_or_none()


async def live_link(session: AsyncSession, meter_id: uuid.UUID, user_id: uuid.UUID) -> MeterLink | None:
    return (
        await session.execute(
            select(MeterLink).where(
                MeterLink.meter_id == meter_id, MeterLink.user_id == user_id, MeterLink.status.in_(LIVE)
            )
        )
    ).scalar_one_or_none()


async def my_link_with_meter(
    session: AsyncSession,
    user_id: uuid.UUID,
    meter_id: uuid.UUID,
    *,
    active_only: bool = False,
    for_update: bool = False,
) -> tuple[MeterLink, Meter] | None:
    statuses = (LinkStatus.active,) if active_only else LIVE
    stmt = (
        select(MeterLink, Meter)
        .join(Meter, Meter.id == MeterLink.meter_id)
        .where(MeterLink.user_id == user_id, MeterLink.meter_id == meter_id, MeterLink.status.in_(statuses))
    )
    if for_update:
        stmt = stmt.with_for_update(of=MeterLink)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def has_default(session: AsyncSession, user_id: uuid.UUID) -> bool:
    found = await session.execute(
        select(MeterLink.id).where(
            MeterLink.user_id == user_id,
            MeterLink.status == LinkStatus.active,
            MeterLink.is_default.is_(True),
        )
    )
    return found.first() is not None


async def clear_default(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(MeterLink)
        .where(MeterLink.user_id == user_id, MeterLink.is_default.is_(True))
        .values(is_default=False)
    )
    changed(session, user_id)  # their cached meter list


async def promote_some_default(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Make the oldest active link the default when the user has none."""
    if await has_default(session, user_id):
        return
    first = (
        await session.execute(
            select(MeterLink)
            .where(MeterLink.user_id == user_id, MeterLink.status == LinkStatus.active)
            .order_by(MeterLink.created_at, MeterLink.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if first is not None:
        first.is_default = True


def _links_with_agency() -> Select[MeterLink, Meter, str | None]:
    """Links with their meter and the meter's agency name, in one round trip."""
    return (
        select(MeterLink, Meter, Agency.name)
        .join(Meter, Meter.id == MeterLink.meter_id)
        .outerjoin(Agency, Agency.id == Meter.agency_id)
    )


class MyMeterRow(NamedTuple):
    """One of the caller's links as the meter list shows it (Core columns, no ORM entities)."""

    id: uuid.UUID
    kind: MeterKind
    number: str
    poc: str | None
    customer_name: str | None
    address: str | None
    tariff_code: str | None
    agency_id: uuid.UUID | None
    agency_name: str | None
    status: LinkStatus
    is_owner: bool
    is_default: bool
    linked_at: datetime
    link_id: uuid.UUID


class MeterRef(NamedTuple):
    """What the consumption routes need of the meter behind a link, with the link's status."""

    id: uuid.UUID
    kind: MeterKind
    number: str
    poc: str | None
    tariff_code: str | None
    link_status: LinkStatus


def _my_links_statement(paged: bool) -> Executable:
    stmt = (
        select(
            Meter.id,
            Meter.kind,
            Meter.number,
            Meter.poc,
            Meter.customer_name,
            Meter.address,
            Meter.tariff_code,
            Meter.agency_id,
            Agency.name,
            MeterLink.status,
            MeterLink.is_owner,
            MeterLink.is_default,
            MeterLink.created_at,
            MeterLink.id.label("link_id"),
        )
        .select_from(MeterLink)
        .join(Meter, Meter.id == MeterLink.meter_id)
        .outerjoin(Agency, Agency.id == Meter.agency_id)
        .where(MeterLink.user_id == bindparam("user_id"), MeterLink.status.in_(LIVE))
    )
    if paged:
        after = (bindparam("after_at", type_=DateTime(timezone=True)), bindparam("after_id", type_=Uuid()))
        stmt = stmt.where(keyset_after((MeterLink.created_at, MeterLink.id), after, descending=False))
    return stmt.order_by(MeterLink.created_at, MeterLink.id).limit(bindparam("limit"))


# Hot reads' statements are built once (import) with bound parameters: building one per call and
# computing its cache key cost ~150 µs of the miss (measured); a built statement's key is memoized.
_MY_LINKS = {paged: _my_links_statement(paged) for paged in (False, True)}
_MY_METER_REF = (
    select(Meter.id, Meter.kind, Meter.number, Meter.poc, Meter.tariff_code, MeterLink.status)
    .select_from(MeterLink)
    .join(Meter, Meter.id == MeterLink.meter_id)
    .where(
        MeterLink.user_id == bindparam("user_id"),
        MeterLink.meter_id == bindparam("meter_id"),
        MeterLink.status.in_(LIVE),
    )
    .limit(1)
)


async def my_links(
    session: AsyncSession, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[MyMeterRow]:
    """The caller's live links (oldest first), each with its meter and the meter's agency name, in
    one statement of Core columns (at most ``limit`` + 1: the extra one says there is more)."""
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
    if after is not None:
        params |= {"after_at": after[0], "after_id": after[1]}
    rows = await session.execute(_MY_LINKS[after is not None], params)
    return [MyMeterRow._make(r) for r in rows]


async def my_meter_ref(session: AsyncSession, user_id: uuid.UUID, meter_id: uuid.UUID) -> MeterRef | None:
    """The meter behind one of the user's live links, with the link's status (Core columns)."""
    row = (await session.execute(_MY_METER_REF, {"user_id": user_id, "meter_id": meter_id})).first()
    return MeterRef._make(row) if row is not None else None


async def my_meter_keys(session: AsyncSession, user_id: uuid.UUID) -> set[tuple[str, str]]:
    """(kind, number) of every meter the user has a live link to."""
    rows = await session.execute(
        select(Meter.kind, Meter.number)
        .join(MeterLink, MeterLink.meter_id == Meter.id)
        .where(MeterLink.user_id == user_id, MeterLink.status.in_(LIVE))
    )
    return {(kind.value, number) for kind, number in rows}


async def my_live_link(
    session: AsyncSession, user_id: uuid.UUID, meter_id: uuid.UUID
) -> tuple[MeterLink, Meter, str | None] | None:
    """One of the caller's live links with its meter and agency name (read only)."""
    row = (
        await session.execute(
            _links_with_agency().where(
                MeterLink.user_id == user_id, MeterLink.meter_id == meter_id, MeterLink.status.in_(LIVE)
            )
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def pending_requests_for_owner(
    session: AsyncSession,
    owner_phone: str,
    owner_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[tuple[MeterLink, Meter, User]]:
    stmt = (
        select(MeterLink, Meter, User)
        .join(Meter, Meter.id == MeterLink.meter_id)
        .join(User, User.id == MeterLink.user_id)
        .where(
            Meter.legacy_phone == owner_phone,
            MeterLink.status == LinkStatus.pending,
            MeterLink.user_id != owner_id,
        )
    )
    if after is not None:
        stmt = stmt.where(keyset_after((MeterLink.created_at, MeterLink.id), after, descending=False))
    rows = await session.execute(stmt.order_by(MeterLink.created_at, MeterLink.id).limit(limit + 1))
    return [(r[0], r[1], r[2]) for r in rows]


async def link_with_meter(session: AsyncSession, link_id: uuid.UUID) -> tuple[MeterLink, Meter] | None:
    row = (
        await session.execute(
            select(MeterLink, Meter)
            .join(Meter, Meter.id == MeterLink.meter_id)
            .where(MeterLink.id == link_id)
            .with_for_update(of=MeterLink)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def user_brief(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def meter(session: AsyncSession, meter_id: uuid.UUID) -> Meter | None:
    return await session.get(Meter, meter_id)


async def staff_lookup(
    session: AsyncSession, number: str, agency_id: uuid.UUID | None, after: uuid.UUID | None, limit: int
) -> Sequence[Meter]:
    # both kinds spelled out so the (kind, number) unique index serves a lookup by number alone
    stmt = select(Meter).where(Meter.kind.in_(list(MeterKind)), Meter.number == number)
    if agency_id is not None:
        stmt = stmt.where(Meter.agency_id == agency_id)
    if after is not None:
        stmt = stmt.where(Meter.id > after)
    return (await session.execute(stmt.order_by(Meter.id).limit(limit + 1))).scalars().all()


async def links_of_meters(session: AsyncSession, meter_ids: list[uuid.UUID]) -> Sequence[MeterLink]:
    if not meter_ids:
        return []
    rows = await session.execute(
        select(MeterLink)
        # expired requests too: an agent decides them at the counter
        .where(MeterLink.meter_id.in_(meter_ids), MeterLink.status.in_([*LIVE, LinkStatus.expired]))
        .order_by(MeterLink.created_at)
    )
    return rows.scalars().all()


async def revoke_live_links_of_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every pending or active link of the user revoked, as decided by the user (account closure)."""
    await session.execute(
        update(MeterLink)
        .where(MeterLink.user_id == user_id, MeterLink.status.in_(LIVE))
        .values(status=LinkStatus.revoked, is_default=False, decided_at=func.now(), decided_by=user_id)
    )
    changed(session, user_id)


async def active_meters_of_user(
    session: AsyncSession, user_id: uuid.UUID, kind: MeterKind | None, limit: int
) -> Sequence[Meter]:
    """The meters behind the user's active links (oldest link first), at most ``limit``."""
    stmt = (
        select(Meter)
        .join(MeterLink, MeterLink.meter_id == Meter.id)
        .where(MeterLink.user_id == user_id, MeterLink.status == LinkStatus.active)
    )
    if kind is not None:
        stmt = stmt.where(Meter.kind == kind)
    return (
        (await session.execute(stmt.order_by(MeterLink.created_at, MeterLink.id).limit(limit)))
        .scalars()
        .all()
    )


async def has_active_link(session: AsyncSession, user_id: uuid.UUID, meter_id: uuid.UUID) -> bool:
    found = await session.execute(
        select(MeterLink.id).where(
            MeterLink.user_id == user_id,
            MeterLink.meter_id == meter_id,
            MeterLink.status == LinkStatus.active,
        )
    )
    return found.first() is not None


# --- access requests: cool-downs and caps (issue 12, people used as targets) --------------------


async def cooldown_left_s(
    session: AsyncSession, meter_id: uuid.UUID, user_id: uuid.UUID, *, refusal_s: int, removal_s: int
) -> int:
    """Seconds before the user may ask again for the meter: a refusal, or a removal decided by
    someone else (the owner, an agent), starts a cool-down; the user's own removal does not."""
    ends = func.max(
        case(
            (MeterLink.status == LinkStatus.refused, MeterLink.decided_at + _seconds(refusal_s)),
            else_=MeterLink.decided_at + _seconds(removal_s),
        )
    )
    stmt = select(func.ceil(func.extract("epoch", ends - func.now()))).where(
        MeterLink.meter_id == meter_id,
        MeterLink.user_id == user_id,
        MeterLink.decided_at.is_not(None),
        or_(
            MeterLink.status == LinkStatus.refused,
            and_(
                MeterLink.status == LinkStatus.revoked,
                MeterLink.decided_by.is_distinct_from(MeterLink.user_id),
            ),
        ),
    )
    left = (await session.execute(stmt)).scalar_one_or_none()
    return max(0, int(left)) if left is not None else 0


def _seconds(seconds: int) -> Any:
    return func.make_interval(0, 0, 0, 0, 0, 0, seconds)


async def owner_notified_since(
    session: AsyncSession, meter_id: uuid.UUID, user_id: uuid.UUID, within_s: int
) -> bool:
    """Whether the owner was already pushed about this user's request for this meter lately."""
    stmt = select(MeterLink.id).where(
        MeterLink.meter_id == meter_id,
        MeterLink.user_id == user_id,
        MeterLink.owner_notified_at > func.now() - _seconds(within_s),
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def pending_count_for_owner(session: AsyncSession, meter: Meter) -> int:
    """Pending requests waiting for the meter's owner: on every meter carrying the same legacy phone
    (or on this meter alone when the legacy record has no phone)."""
    stmt = select(func.count()).select_from(MeterLink).where(MeterLink.status == LinkStatus.pending)
    if meter.legacy_phone:
        owned = select(Meter.id).where(Meter.legacy_phone == meter.legacy_phone)
        stmt = stmt.where(MeterLink.meter_id.in_(owned))
    else:
        stmt = stmt.where(MeterLink.meter_id == meter.id)
    return int((await session.execute(stmt)).scalar_one())
