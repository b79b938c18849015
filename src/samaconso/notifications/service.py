"""Notification rules: who a notification targets, its priority/queue, the outbox, the feed.

Other domains call :func:`notify_user` with their own session and commit it with their change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.principal import Principal
from samaconso.identity.repository import add_audit
from samaconso.kit.errors import AppError, forbidden, not_found
from samaconso.kit.freshness import changed, feeds_changed_for_everyone
from samaconso.kit.pagination import decode_cursor, encode_cursor
from samaconso.notifications import repository as repo
from samaconso.notifications import schemas
from samaconso.notifications.models import (
    QUEUE_OF_PRIORITY,
    DeliveryStatus,
    Notification,
    NotificationAudience,
    NotificationType,
    OutboxJob,
    Priority,
    TargetKind,
)

# One user's transactional messages: high priority when sent to a person (or a meter's users).
TRANSACTIONAL_TYPES = frozenset(
    {
        NotificationType.meter_access_requested,
        NotificationType.meter_access_granted,
        NotificationType.meter_access_refused,
        NotificationType.meter_access_revoked,
        NotificationType.bill_available,
        NotificationType.tranche_alert,
        NotificationType.request_updated,
        NotificationType.device_signed_out,
    }
)
PERSONAL_TARGETS = frozenset({TargetKind.user, TargetKind.meter})

# ``add_notification`` notes its outbox row in the session; the API's after-commit publisher
# (``notifications/outbox_publisher.py``, attached to the app's database at start-up) publishes the
# rows of a committed session at once. Without it (or if it fails) the beat relay publishes them
# within seconds.
OUTBOX_INFO_KEY = "notifications_outbox"


def derive_priority(type_: NotificationType, target: TargetKind) -> Priority:
    """outage → urgent; a person's transactional message → high; broadcasts/campaigns → low; else normal."""
    if type_ == NotificationType.outage or target == TargetKind.outage:
        return Priority.urgent
    if target in PERSONAL_TARGETS and type_ in TRANSACTIONAL_TYPES:
        return Priority.high
    if target not in PERSONAL_TARGETS or type_ == NotificationType.campaign:
        return Priority.low
    return Priority.normal


USER_AUDIENCE_PREFIX = "user:"


def user_audience(user_id: uuid.UUID) -> str:
    return f"{USER_AUDIENCE_PREFIX}{user_id}"


AGENCY_AUDIENCE_PREFIX = "agency:"


def agency_audience(agency_id: uuid.UUID) -> str:
    return f"{AGENCY_AUDIENCE_PREFIX}{agency_id}"


ALL_AGENCIES_AUDIENCE = "agencies"
EVERYONE_AUDIENCE = "everyone"


@dataclass(frozen=True)
class Content:
    title_fr: str
    title_en: str
    body_fr: str
    body_en: str


def _small_data(type_: str, notification_id: uuid.UUID, data: dict[str, Any] | None) -> dict[str, str]:
    """The push data payload: strings only (FCM requirement), always with type and notification id."""
    payload = {str(k): str(v) for k, v in (data or {}).items()}
    payload["type"] = type_
    payload["notification_id"] = str(notification_id)
    return payload


def add_notification(
    session: AsyncSession,
    *,
    type_: NotificationType,
    content: Content,
    target: TargetKind,
    audiences: list[str],
    priority: Priority | None = None,
    data: dict[str, Any] | None = None,
    target_user_id: uuid.UUID | None = None,
    target_meter_id: uuid.UUID | None = None,
    target_agency_ids: list[uuid.UUID] | None = None,
    created_by: uuid.UUID | None = None,
    idempotency_key: str | None = None,
) -> Notification:
    """Add the notification, its audience rows and its outbox job to ``session`` (no commit)."""
    prio = priority or derive_priority(type_, target)
    nid = uuid.uuid4()
    notification = Notification(
        id=nid,
        type=type_.value,
        priority=prio.value,
        title_fr=content.title_fr,
        title_en=content.title_en,
        body_fr=content.body_fr,
        body_en=content.body_en,
        data=_small_data(type_.value, nid, data),
        target_kind=target.value,
        target_user_id=target_user_id,
        target_meter_id=target_meter_id,
        target_agency_ids=target_agency_ids,
        created_by=created_by,
        idempotency_key=idempotency_key,
    )
    session.add(notification)
    # created_at of every row below is now(): the transaction's start time, identical for all.
    session.add_all(NotificationAudience(audience=a, notification_id=nid) for a in sorted(set(audiences)))
    session.add(OutboxJob(notification_id=nid, queue=QUEUE_OF_PRIORITY[prio]))
    session.info.setdefault(OUTBOX_INFO_KEY, []).append(nid)
    # in the feed as soon as this commits: the cached feeds of its audience go then
    for audience in set(audiences):
        if audience.startswith(USER_AUDIENCE_PREFIX):
            changed(session, audience.removeprefix(USER_AUDIENCE_PREFIX))
        else:
            feeds_changed_for_everyone(session)  # every feed; the other hot reads stay cached
    return notification


async def notify_user(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    type: str,
    title_fr: str,
    body_fr: str,
    title_en: str,
    body_en: str,
    data: dict[str, str] | None = None,
) -> uuid.UUID:
    """Store a notification for one user and its delivery job in ``session``; the caller commits.

    The queue follows the type (transactional types → ``high_priority``, outage → ``urgent``)."""
    notification = add_notification(
        session,
        type_=NotificationType(type),
        content=Content(title_fr=title_fr, title_en=title_en, body_fr=body_fr, body_en=body_en),
        target=TargetKind.user,
        audiences=[user_audience(user_id)],
        data=data,
        target_user_id=user_id,
    )
    return notification.id


# --- staff: create --------------------------------------------------------------------------------
IDEMPOTENCY_TTL = timedelta(hours=24)


def _out_of_scope() -> AppError:
    return not_found("Destinataire introuvable.", "Recipient not found.")


async def _resolve_target(
    session: AsyncSession, staff: Principal, target: schemas.Target
) -> tuple[TargetKind, list[str], dict[str, Any]]:
    """Audience keys of the target and the columns describing it; checks the agent's scope."""
    own = staff.agency_id
    agent = not staff.is_admin
    if isinstance(target, schemas.UserTarget):
        if not await repo.user_exists(session, target.user_id):
            raise _out_of_scope()
        if agent and (own is None or own not in await repo.active_agencies_of_user(session, target.user_id)):
            raise _out_of_scope()
        return TargetKind.user, [user_audience(target.user_id)], {"target_user_id": target.user_id}
    if isinstance(target, schemas.MeterTarget):
        meter = await repo.meter_exists(session, target.meter_id)
        if meter is None or (agent and (own is None or meter.agency_id != own)):
            raise not_found("Compteur introuvable.", "Meter not found.")
        users = await repo.active_users_of_meter(session, target.meter_id)
        return TargetKind.meter, [user_audience(u) for u in users], {"target_meter_id": target.meter_id}
    if isinstance(target, schemas.AgencyTarget):
        agency_id = target.agency_id or own
        if agency_id is None:
            raise AppError(400, "agency_required", "Précisez l'agence.", "The agency is required.")
        if agent and agency_id != own:
            raise forbidden("Vous ne pouvez cibler que votre agence.", "You may only target your own agency.")
        return TargetKind.agency, [agency_audience(agency_id)], {"target_agency_ids": [agency_id]}
    if isinstance(target, schemas.OutageTarget):
        ids = sorted(set(target.agency_ids))
        if agent and ids != [own]:
            raise forbidden("Vous ne pouvez cibler que votre agence.", "You may only target your own agency.")
        return TargetKind.outage, [agency_audience(a) for a in ids], {"target_agency_ids": ids}
    if agent:
        raise forbidden(
            "Diffusion nationale réservée aux administrateurs.", "National broadcasts are for admins."
        )
    if isinstance(target, schemas.AllAgenciesTarget):
        return TargetKind.all_agencies, [ALL_AGENCIES_AUDIENCE], {}
    return TargetKind.everyone, [EVERYONE_AUDIENCE], {}


def _accepted(n: Notification) -> schemas.NotificationAccepted:
    prio = Priority(n.priority)
    return schemas.NotificationAccepted(id=n.id, priority=prio, queue=QUEUE_OF_PRIORITY[prio])


async def create_notification(
    session: AsyncSession, staff: Principal, body: schemas.NotificationCreate, idempotency_key: str | None
) -> schemas.NotificationAccepted:
    """Store the notification and its outbox job in the request's transaction (published once it
    commits)."""
    if idempotency_key is not None:
        previous = await repo.find_by_idempotency_key(session, staff.user_id, idempotency_key)
        if previous is not None:
            if await repo.created_within(session, previous.id, IDEMPOTENCY_TTL):
                return _accepted(previous)
            await repo.release_idempotency_key(session, previous.id)
    kind, audiences, columns = await _resolve_target(session, staff, body.target)
    n = add_notification(
        session,
        type_=body.type,
        content=Content(
            title_fr=body.title.fr, title_en=body.title.en, body_fr=body.body.fr, body_en=body.body.en
        ),
        target=kind,
        audiences=audiences,
        priority=body.priority,
        data=body.data,
        created_by=staff.user_id,
        idempotency_key=idempotency_key,
        **columns,
    )
    try:
        await session.flush()
    except IntegrityError:  # the same key raced in another request: answer what that one answered
        await session.rollback()
        if idempotency_key is None:
            raise
        previous = await repo.find_by_idempotency_key(session, staff.user_id, idempotency_key)
        if previous is None:
            raise
        return _accepted(previous)
    if kind not in (TargetKind.user, TargetKind.meter):
        # a broadcast: who sent what to whom, and to how many devices at the time of sending
        add_audit(
            session,
            "notification_sent",
            actor_id=staff.user_id,
            details={
                "notification": str(n.id),
                "target": kind.value,
                "agencies": [str(a) for a in columns.get("target_agency_ids", [])],
                "type": body.type.value,
                "priority": n.priority,
                "devices": await repo.count_pushable(session, n),
            },
        )
    return _accepted(n)


async def delivery_stats(session: AsyncSession, staff: Principal, nid: uuid.UUID) -> schemas.DeliveryStats:
    n = await session.get(Notification, nid)
    if n is None or not _staff_may_see(staff, n):
        raise not_found("Notification introuvable.", "Notification not found.")
    counts = await repo.delivery_counts(session, nid)
    sent = counts.get(DeliveryStatus.sent, 0)
    failed = counts.get(DeliveryStatus.failed, 0)
    dead = counts.get(DeliveryStatus.dead, 0)
    # Rows exist only for devices a send batch has claimed, so the audience size comes from the
    # count the fan-out recorded when it started, never from the rows; whether work is still queued
    # comes from the batches the fan-out recorded.
    targeted = n.targeted_devices
    finished = sent + failed + dead
    in_flight = counts.get(DeliveryStatus.pending, 0) + counts.get(DeliveryStatus.sending, 0)
    status: schemas.DeliveryProgress
    if targeted is None:
        status = "queued"
    elif n.fanout_done_at is None:
        status = "fanning_out"
    elif in_flight or await repo.has_unfinished_batches(session, nid):
        status = "sending"
    else:
        status = "done"
    pending: int | None = None
    skipped = 0
    if targeted is not None:
        left = max(0, targeted - finished)
        if status == "done":  # devices counted at the start but gone before their batch ran
            pending, skipped = 0, left
        else:
            pending = max(left, in_flight)
    return schemas.DeliveryStats(
        id=n.id,
        type=n.type,
        priority=n.priority,
        target_kind=n.target_kind,
        created_at=n.created_at,
        status=status,
        fanout_complete=n.fanout_done_at is not None,
        targeted_devices=targeted,
        sent=sent,
        failed=failed,
        dead_tokens=dead,
        pending=pending,
        skipped=skipped,
        withdrawn_at=n.withdrawn_at,
    )


def _staff_may_see(staff: Principal, n: Notification) -> bool:
    if staff.is_admin or n.created_by == staff.user_id:
        return True
    return staff.agency_id is not None and (n.target_agency_ids or []) == [staff.agency_id]


# --- customer feed --------------------------------------------------------------------------------
UNREAD_CAP = 1000


async def audiences_for_user(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The audience keys a user belongs to: themselves, everyone, and their meters' agencies."""
    return _audiences(user_id, await repo.active_agencies_of_user(session, user_id))


def _audiences(user_id: uuid.UUID, agencies: list[uuid.UUID]) -> list[str]:
    keys = [user_audience(user_id), EVERYONE_AUDIENCE]
    if agencies:
        keys.append(ALL_AGENCIES_AUDIENCE)
        keys.extend(agency_audience(a) for a in agencies)
    return keys


def _feed_keys(user_id: uuid.UUID) -> repo.FeedKeys:
    """The audience keys as :func:`_audiences` spells them, for the statements that compute the
    caller's audiences themselves (feed, unread count, membership of one notification)."""
    return repo.FeedKeys(
        user_audience(user_id), EVERYONE_AUDIENCE, ALL_AGENCIES_AUDIENCE, AGENCY_AUDIENCE_PREFIX
    )


def _item(row: repo.FeedRow) -> schemas.FeedItem:
    return schemas.FeedItem(
        id=row.id,
        type=row.type,
        priority=row.priority,
        title=row.title,
        body=row.body,
        data={str(k): str(v) for k, v in (row.data or {}).items()},
        created_at=row.created_at,
        read=row.read,
    )


async def feed(
    session: AsyncSession, user: Principal, cursor: str | None, limit: int, lang: str
) -> tuple[list[schemas.FeedItem], str | None]:
    before: tuple[datetime, uuid.UUID] | None = None
    values = decode_cursor(cursor, 2)
    if values is not None:
        try:
            before = (datetime.fromisoformat(values[0]), uuid.UUID(values[1]))
        except (TypeError, ValueError) as exc:
            raise AppError(
                400, "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor."
            ) from exc
    rows = await repo.feed_page(session, user.user_id, _feed_keys(user.user_id), before, limit + 1, lang)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last.created_at.isoformat(), last.id)
    return [_item(row) for row in page], next_cursor


async def unread(session: AsyncSession, user: Principal) -> schemas.UnreadCount:
    count = await repo.unread_count(session, user.user_id, _feed_keys(user.user_id), UNREAD_CAP)
    return schemas.UnreadCount(unread=count, capped=count >= UNREAD_CAP)


async def _must_be_in_feed(session: AsyncSession, user: Principal, nid: uuid.UUID) -> None:
    if await repo.in_feed(session, user.user_id, _feed_keys(user.user_id), nid) is None:
        raise not_found("Notification introuvable.", "Notification not found.")


async def mark_read(session: AsyncSession, user: Principal, nid: uuid.UUID) -> None:
    await _must_be_in_feed(session, user, nid)
    await repo.upsert_receipt(session, user.user_id, nid, read=True)
    changed(session, user.user_id)


async def mark_all_read(session: AsyncSession, user: Principal) -> None:
    await repo.mark_all_read(session, user.user_id)
    changed(session, user.user_id)


async def hide(session: AsyncSession, user: Principal, nid: uuid.UUID) -> None:
    await _must_be_in_feed(session, user, nid)
    await repo.upsert_receipt(session, user.user_id, nid, hidden=True)
    changed(session, user.user_id)


async def outbox_backlog(session: AsyncSession) -> int:
    return await repo.count_unpublished(session)


# A broadcast older than this is no longer watched (the stuck-broadcast alert fires after 30 min).
STUCK_BROADCAST_WINDOW = timedelta(days=2)


async def oldest_unfinished_broadcast_age_s(session: AsyncSession) -> float:
    return await repo.oldest_unfinished_broadcast_age_s(session, STUCK_BROADCAST_WINDOW)


__all__: Sequence[str] = (
    "add_notification",
    "create_notification",
    "delivery_stats",
    "feed",
    "hide",
    "mark_all_read",
    "mark_read",
    "notify_user",
    "unread",
)


# --- staff: what was sent, withdrawal ---------------------------------------------------------------


async def list_sent(
    session: AsyncSession, staff: Principal, cursor: str | None, limit: int, lang: str
) -> tuple[list[schemas.SentNotification], str | None]:
    """Administrators: every staff-sent notification. Agents: theirs and their agency's."""
    before: tuple[datetime, uuid.UUID] | None = None
    values = decode_cursor(cursor, 2)
    if values is not None:
        try:
            before = (datetime.fromisoformat(values[0]), uuid.UUID(values[1]))
        except (TypeError, ValueError) as exc:
            raise AppError(
                400, "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor."
            ) from exc
    rows = await repo.sent_page(
        session,
        created_by=None if staff.is_admin else staff.user_id,
        agency_id=None if staff.is_admin else staff.agency_id,
        before=before,
        limit=limit + 1,
    )
    page = rows[:limit]
    nxt = encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if len(rows) > limit and page else None
    en = lang == "en"
    return [
        schemas.SentNotification(
            id=n.id,
            type=n.type,
            priority=n.priority,
            target_kind=n.target_kind,
            title=n.title_en if en else n.title_fr,
            body=n.body_en if en else n.body_fr,
            created_at=n.created_at,
            created_by=n.created_by,
            withdrawn_at=n.withdrawn_at,
        )
        for n in page
    ], nxt


async def withdraw(session: AsyncSession, staff: Principal, nid: uuid.UUID) -> schemas.DeliveryStats:
    """Withdraw a notification: out of every feed at once, no further push (audited)."""
    n = await session.get(Notification, nid, with_for_update=True)
    if n is None or not _staff_may_see(staff, n) or n.created_by is None:
        raise not_found("Notification introuvable.", "Notification not found.")
    if n.withdrawn_at is None:
        await repo.withdraw(session, nid, staff.user_id)
        feeds_changed_for_everyone(session)  # out of every feed
        add_audit(
            session, "notification_withdrawn", actor_id=staff.user_id, details={"notification": str(nid)}
        )
        await session.flush()
        await session.refresh(n)
    return await delivery_stats(session, staff, nid)
