"""Outages: staff declare one (agencies, cause, start, expected end), post updates and end it; each
step is pushed to the users of those agencies' meters the way staff notifications are today
(``notifications`` target ``outage``, urgent queue); customers read the current and recent outages
of their meters' agencies.

Status: ``announced`` before ``starts_at``, ``ongoing`` from then, ``ended`` once ended (database
clock). "Recent" = ended less than :data:`RECENT_DAYS` days ago.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.principal import Principal
from samaconso.kit.errors import AppError, forbidden
from samaconso.kit.i18n import Lang
from samaconso.kit.pagination import Page, decode_time_cursor, encode_time_cursor
from samaconso.notifications import service as notifications
from samaconso.notifications.models import NotificationType
from samaconso.notifications.schemas import BodyText, NotificationCreate, OutageTarget, TitleText
from samaconso.outages import repository as repo
from samaconso.outages.models import Outage, OutageAgency, OutageUpdate
from samaconso.outages.schemas import (
    OutageCreate,
    OutageOut,
    OutageStatus,
    OutageStep,
    OutageUpdateIn,
    StaffOutageOut,
)

log = structlog.get_logger(__name__)

RECENT_DAYS = 7


def outage_not_found() -> AppError:
    return AppError(404, "outage_not_found", "Coupure introuvable.", "Outage not found.")


def _status(outage: Outage, now: datetime) -> OutageStatus:
    if outage.ended_at is not None:
        return "ended"
    return "announced" if outage.starts_at > now else "ongoing"


async def _push(
    session: AsyncSession,
    staff: Principal,
    outage: Outage,
    agency_ids: list[uuid.UUID],
    title: TitleText,
    body: BodyText,
) -> uuid.UUID:
    """The push, as staff send it today: one notification to the outage zone (commits)."""
    accepted = await notifications.create_notification(
        session,
        staff,
        NotificationCreate(
            target=OutageTarget(kind="outage", agency_ids=agency_ids),
            type=NotificationType.outage,
            title=title,
            body=body,
            data={"outage_id": str(outage.id), "link": f"samaconso://outages/{outage.id}"},
        ),
        None,
    )
    return accepted.id


def _check_scope(staff: Principal, agency_ids: list[uuid.UUID]) -> None:
    if not staff.is_admin and (staff.agency_id is None or set(agency_ids) != {staff.agency_id}):
        raise forbidden(
            "Vous ne pouvez déclarer une coupure que pour votre agence.",
            "You may only declare an outage for your own agency.",
        )


async def declare(session: AsyncSession, staff: Principal, body: OutageCreate) -> StaffOutageOut:
    ids = sorted(set(body.agency_ids))
    _check_scope(staff, ids)
    if await repo.existing_agencies(session, ids) != set(ids):
        raise AppError(
            422, "unknown_agency", "Agence inconnue.", "Unknown agency.", extra={"field": "agency_ids"}
        )
    if body.expected_end_at is not None and body.expected_end_at <= body.starts_at:
        raise AppError(
            422,
            "outage_end_before_start",
            "La fin prévue doit suivre le début.",
            "The expected end must come after the start.",
            extra={"field": "expected_end_at"},
        )
    outage = Outage(
        id=uuid.uuid4(),
        cause=body.cause,
        title_fr=body.title.fr,
        title_en=body.title.en,
        message_fr=body.message.fr,
        message_en=body.message.en,
        starts_at=body.starts_at,
        expected_end_at=body.expected_end_at,
        created_by=staff.user_id,
    )
    session.add(outage)
    await session.flush()
    session.add_all([OutageAgency(outage_id=outage.id, agency_id=a) for a in ids])
    step = OutageUpdate(
        outage_id=outage.id,
        kind="declared",
        message_fr=body.message.fr,
        message_en=body.message.en,
        expected_end_at=body.expected_end_at,
        by=staff.user_id,
    )
    session.add(step)
    await session.flush()
    step.notification_id = await _push(session, staff, outage, ids, body.title, body.message)
    await session.flush()
    log.info("outage_declared", outage_id=str(outage.id), agencies=len(ids), cause=body.cause.value)
    return await staff_view(session, staff, outage.id)


async def _staff_outage(
    session: AsyncSession, staff: Principal, outage_id: uuid.UUID
) -> tuple[Outage, list[uuid.UUID]]:
    outage = await repo.get(session, outage_id, for_update=True)
    if outage is None:
        raise outage_not_found()
    ids = [a for a, _ in (await repo.agencies_of(session, [outage.id])).get(outage.id, [])]
    if not staff.is_admin and staff.agency_id not in ids:
        raise outage_not_found()
    return outage, ids


async def post_update(
    session: AsyncSession, staff: Principal, outage_id: uuid.UUID, body: OutageUpdateIn
) -> StaffOutageOut:
    outage, ids = await _staff_outage(session, staff, outage_id)
    _check_scope(staff, ids)  # an agent follows up the outages of their agency alone
    if outage.ended_at is not None:
        raise AppError(409, "outage_ended", "Cette coupure est terminée.", "This outage has ended.")
    if body.expected_end_at is not None:
        if body.expected_end_at <= outage.starts_at:
            raise AppError(
                422,
                "outage_end_before_start",
                "La fin prévue doit suivre le début.",
                "The expected end must come after the start.",
                extra={"field": "expected_end_at"},
            )
        outage.expected_end_at = body.expected_end_at
    step = OutageUpdate(
        outage_id=outage.id,
        kind="update",
        message_fr=body.message.fr,
        message_en=body.message.en,
        expected_end_at=body.expected_end_at,
        by=staff.user_id,
    )
    session.add(step)
    await session.flush()
    title = TitleText(fr=f"Coupure : {outage.title_fr}"[:200], en=f"Outage: {outage.title_en}"[:200])
    step.notification_id = await _push(session, staff, outage, ids, title, body.message)
    await session.flush()
    return await staff_view(session, staff, outage.id)


async def end(
    session: AsyncSession, staff: Principal, outage_id: uuid.UUID, message: BodyText | None
) -> StaffOutageOut:
    outage, ids = await _staff_outage(session, staff, outage_id)
    _check_scope(staff, ids)
    if outage.ended_at is not None:
        raise AppError(409, "outage_ended", "Cette coupure est terminée.", "This outage has ended.")
    text = message or BodyText(
        fr="Le courant est rétabli. Merci de votre patience.",
        en="Power is back. Thank you for your patience.",
    )
    outage.ended_at = func.now()
    step = OutageUpdate(
        outage_id=outage.id,
        kind="ended",
        message_fr=text.fr,
        message_en=text.en,
        expected_end_at=None,
        by=staff.user_id,
    )
    session.add(step)
    await session.flush()
    title = TitleText(
        fr=f"Fin de coupure : {outage.title_fr}"[:200], en=f"Outage over: {outage.title_en}"[:200]
    )
    step.notification_id = await _push(session, staff, outage, ids, title, text)
    await session.flush()
    log.info("outage_ended", outage_id=str(outage.id))
    return await staff_view(session, staff, outage.id)


# ------------------------------------------------------------------------------------------ views
async def _views(
    session: AsyncSession, outages: list[Outage], lang: Lang
) -> list[tuple[OutageOut, Outage, list[uuid.UUID], list[OutageUpdate]]]:
    now = await repo.db_now(session)
    ids = [o.id for o in outages]
    agencies = await repo.agencies_of(session, ids)
    updates = await repo.updates_of(session, ids)
    out = []
    for o in outages:
        fr = lang == "fr"
        steps = updates.get(o.id, [])
        view = OutageOut(
            id=o.id,
            status=_status(o, now),
            cause=o.cause,
            title=o.title_fr if fr else o.title_en,
            message=o.message_fr if fr else o.message_en,
            starts_at=o.starts_at,
            expected_end_at=o.expected_end_at,
            ended_at=o.ended_at,
            agencies=[name for _, name in agencies.get(o.id, [])],
            updates=[
                OutageStep(
                    at=u.at,
                    kind=u.kind,  # written by this module only
                    message=u.message_fr if fr else u.message_en,
                    expected_end_at=u.expected_end_at,
                )
                for u in steps
            ],
        )
        out.append((view, o, [a for a, _ in agencies.get(o.id, [])], steps))
    return out


def _staff_out(
    view: OutageOut, o: Outage, agency_ids: list[uuid.UUID], steps: list[OutageUpdate]
) -> StaffOutageOut:
    return StaffOutageOut(
        **view.model_dump(),
        agency_ids=agency_ids,
        created_by=o.created_by,
        notification_ids=[s.notification_id for s in steps if s.notification_id],
    )


async def staff_view(
    session: AsyncSession, staff: Principal, outage_id: uuid.UUID, lang: Lang = "fr"
) -> StaffOutageOut:
    outage = await repo.get(session, outage_id)
    if outage is None:
        raise outage_not_found()
    ((view, o, ids, steps),) = await _views(session, [outage], lang)
    if not staff.is_admin and staff.agency_id not in ids:
        raise outage_not_found()
    return _staff_out(view, o, ids, steps)


def _next(rows: list[Outage], limit: int) -> str | None:
    return encode_time_cursor(rows[limit - 1].starts_at, rows[limit - 1].id) if len(rows) > limit else None


async def list_for_staff(
    session: AsyncSession, staff: Principal, lang: Lang, *, current_only: bool, cursor: str | None, limit: int
) -> Page[StaffOutageOut]:
    scope = None if staff.is_admin else ([staff.agency_id] if staff.agency_id else [])
    rows = list(
        await repo.list_outages(
            session,
            agency_ids=scope,
            recent=timedelta(0) if current_only else None,
            after=decode_time_cursor(cursor),
            limit=limit,
        )
    )
    views = await _views(session, rows[:limit], lang)
    return Page[StaffOutageOut](items=[_staff_out(*v) for v in views], next_cursor=_next(rows, limit))


async def list_mine(
    session: AsyncSession, principal: Principal, lang: Lang, *, cursor: str | None, limit: int
) -> Page[OutageOut]:
    """Current outages and those ended in the last 7 days, for the agencies of my active meters."""
    agencies = await repo.agencies_of_my_meters(session, principal.user_id)
    if not agencies:
        return Page[OutageOut](items=[])
    rows = list(
        await repo.list_outages(
            session,
            agency_ids=agencies,
            recent=timedelta(days=RECENT_DAYS),
            after=decode_time_cursor(cursor),
            limit=limit,
        )
    )
    views = await _views(session, rows[:limit], lang)
    return Page[OutageOut](items=[v[0] for v in views], next_cursor=_next(rows, limit))
