"""All SQL of the requests domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.models import Agency, User
from samaconso.kit.db import keyset_after
from samaconso.meters.models import LinkStatus, Meter, MeterLink
from samaconso.requests.models import (
    OPEN_STATUSES,
    REFERENCE_SEQUENCE,
    CustomerRequest,
    EventKind,
    RequestEvent,
    RequestStatus,
    RequestType,
)

# ---- types ----------------------------------------------------------------------------------------


async def list_types(
    session: AsyncSession, *, active_only: bool, after_code: str | None, limit: int
) -> Sequence[RequestType]:
    stmt = select(RequestType).order_by(RequestType.code).limit(limit)
    if active_only:
        stmt = stmt.where(RequestType.is_active.is_(True))
    if after_code is not None:
        stmt = stmt.where(RequestType.code > after_code)
    return (await session.scalars(stmt)).all()


async def type_by_code(session: AsyncSession, code: str) -> RequestType | None:
    return (await session.scalars(select(RequestType).where(RequestType.code == code))).first()


async def type_by_id(session: AsyncSession, type_id: uuid.UUID) -> RequestType | None:
    return await session.get(RequestType, type_id)


# ---- meters (read-only look-ups on the meters domain's tables) ------------------------------------


async def active_link_agency(
    session: AsyncSession, user_id: uuid.UUID, meter_id: uuid.UUID
) -> tuple[bool, uuid.UUID | None]:
    """(the user has an active link to the meter, the meter's agency)."""
    row = (
        await session.execute(
            select(Meter.agency_id)
            .join(MeterLink, MeterLink.meter_id == Meter.id)
            .where(
                Meter.id == meter_id,
                MeterLink.user_id == user_id,
                MeterLink.status == LinkStatus.active,
            )
            .limit(1)
        )
    ).first()
    return (row is not None, row.agency_id if row else None)


async def default_meter(
    session: AsyncSession, user_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    """The customer's default meter (else the oldest active one) and its agency."""
    row = (
        await session.execute(
            select(Meter.id, Meter.agency_id)
            .join(MeterLink, MeterLink.meter_id == Meter.id)
            .where(MeterLink.user_id == user_id, MeterLink.status == LinkStatus.active)
            .order_by(MeterLink.is_default.desc(), MeterLink.created_at, MeterLink.id)
            .limit(1)
        )
    ).first()
    return (row.id, row.agency_id) if row else None


# ---- requests ---------------------------------------------------------------------------------------


async def get_request(
    session: AsyncSession, request_id: uuid.UUID, *, for_update: bool = False
) -> CustomerRequest | None:
    stmt = select(CustomerRequest).where(CustomerRequest.id == request_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def db_now(session: AsyncSession) -> datetime:
    return (await session.execute(select(func.now()))).scalar_one()


def _overdue_clause() -> Any:
    return and_(CustomerRequest.status.in_(list(OPEN_STATUSES)), CustomerRequest.due_at < func.now())


async def list_requests(
    session: AsyncSession,
    *,
    requester_id: uuid.UUID | None = None,
    agency: uuid.UUID | None = None,
    national_only: bool = False,
    status: RequestStatus | None = None,
    overdue: bool | None = None,
    reference: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int,
    type_code: str | None = None,
    assignee: uuid.UUID | None = None,
    unassigned: bool = False,
) -> Sequence[tuple[CustomerRequest, RequestType]]:
    """Newest first, keyset-paginated on (created_at, id)."""
    stmt = (
        select(CustomerRequest, RequestType)
        .join(RequestType, RequestType.id == CustomerRequest.type_id)
        .order_by(CustomerRequest.created_at.desc(), CustomerRequest.id.desc())
        .limit(limit)
    )
    if requester_id is not None:
        stmt = stmt.where(CustomerRequest.requester_id == requester_id)
    if agency is not None:
        stmt = stmt.where(CustomerRequest.agency_id == agency)
    if national_only:
        stmt = stmt.where(CustomerRequest.agency_id.is_(None))
    if status is not None:
        stmt = stmt.where(CustomerRequest.status == status)
    if reference is not None:
        stmt = stmt.where(CustomerRequest.reference == reference.strip().upper())
    if type_code is not None:
        stmt = stmt.where(RequestType.code == type_code)
    if assignee is not None:
        stmt = stmt.where(CustomerRequest.assigned_to == assignee)
    if unassigned:
        stmt = stmt.where(CustomerRequest.assigned_to.is_(None))
    if overdue is True:
        stmt = stmt.where(_overdue_clause())
    elif overdue is False:
        stmt = stmt.where(~_overdue_clause())
    if after is not None:
        created, last_id = after
        stmt = stmt.where(
            or_(
                CustomerRequest.created_at < created,
                and_(CustomerRequest.created_at == created, CustomerRequest.id < last_id),
            )
        )
    return list((await session.execute(stmt)).all())


# What a request's timeline shows (assignments stay internal to the request's handling).
TIMELINE_KINDS = (EventKind.status, EventKind.comment)


async def events_page(
    session: AsyncSession,
    request_id: uuid.UUID,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[RequestEvent]:
    """The request's status changes and comments, newest first, older than ``before``."""
    stmt = select(RequestEvent).where(
        RequestEvent.request_id == request_id, RequestEvent.kind.in_(TIMELINE_KINDS)
    )
    if before is not None:
        stmt = stmt.where(keyset_after((RequestEvent.at, RequestEvent.id), before, descending=True))
    stmt = stmt.order_by(RequestEvent.at.desc(), RequestEvent.id.desc()).limit(limit)
    return (await session.scalars(stmt)).all()


async def comment_count(session: AsyncSession, request_id: uuid.UUID, actor_id: uuid.UUID) -> int:
    """How many comments this person wrote on the request."""
    stmt = select(func.count()).where(
        RequestEvent.request_id == request_id,
        RequestEvent.kind == EventKind.comment,
        RequestEvent.actor_id == actor_id,
    )
    return int((await session.execute(stmt)).scalar_one())


def add_event(
    session: AsyncSession,
    request: CustomerRequest,
    *,
    kind: EventKind,
    actor_id: uuid.UUID | None,
    actor_role: str,
    from_status: RequestStatus | None = None,
    to_status: RequestStatus | None = None,
    body: str | None = None,
) -> None:
    session.add(
        RequestEvent(
            id=uuid.uuid4(),
            request_id=request.id,
            # clock_timestamp(): several events of one transaction keep their order
            at=func.clock_timestamp(),
            actor_id=actor_id,
            actor_role=actor_role,
            kind=kind,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            body=body,
        )
    )


async def touch(session: AsyncSession, request_id: uuid.UUID) -> None:
    await session.execute(
        update(CustomerRequest).where(CustomerRequest.id == request_id).values(updated_at=func.now())
    )


async def requester(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def new_reference(session: AsyncSession, agency_id: uuid.UUID | None) -> str:
    """A fresh reference: the agency's code (``SEN`` for the national queue), this year (database
    clock), a number of the one series, e.g. ``DKC-2026-004512``."""
    code = None
    if agency_id is not None:
        code = await session.scalar(select(Agency.code).where(Agency.id == agency_id))
    number, year = (
        await session.execute(select(REFERENCE_SEQUENCE.next_value(), func.extract("year", func.now())))
    ).one()
    return f"{(code or 'SEN').upper()}-{int(year)}-{int(number):06d}"


async def by_reference(session: AsyncSession, reference: str) -> CustomerRequest | None:
    return await session.scalar(
        select(CustomerRequest).where(CustomerRequest.reference == reference.strip().upper())
    )


async def staff_member(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """An active agent or administrator."""
    stmt = select(User).where(User.id == user_id, User.role.in_(("agent", "admin")), User.is_active)
    return (await session.execute(stmt)).scalar_one_or_none()


async def agency_is_active(session: AsyncSession, agency_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Agency.id).where(Agency.id == agency_id, Agency.is_active))
    return found is not None


async def add_missing_types(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The default request types (seed); codes already present are left as an admin set them.
    Returns the codes created."""
    result = await session.execute(
        pg_insert(RequestType)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(RequestType.code)
    )
    return list(result.scalars().all())


async def has_request_from(session: AsyncSession, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(CustomerRequest.id).where(CustomerRequest.requester_id == user_id).limit(1)
    )
    return found is not None
