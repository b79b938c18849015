"""All SQL of the notifications domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import DateTime, Uuid

from samaconso.identity.models import Device, User
from samaconso.meters.models import LinkStatus, Meter, MeterLink
from samaconso.notifications.models import (
    Delivery,
    DeliveryStatus,
    FanoutBatch,
    Notification,
    NotificationAudience,
    NotificationReadMark,
    NotificationReceipt,
    OutboxJob,
    TargetKind,
)


def _uuid_array(ids: Sequence[uuid.UUID]) -> BindParameter[list[uuid.UUID]]:
    """One array parameter instead of one bind parameter per id (cheap to compile and to send)."""
    return bindparam(None, list(ids), type_=ARRAY(Uuid(as_uuid=True)))  # type: ignore[arg-type]


# Written exactly as ix_devices_pushable's predicate (a bare ``is_active``, not ``is_active IS true``,
# which PostgreSQL cannot prove implies the index predicate): the keyset pages and the audience COUNT
# are index(-only) scans of that partial index.
PUSHABLE = and_(Device.is_active, Device.fcm_token.is_not(None), Device.token_invalid_at.is_(None))


# --- audiences ----------------------------------------------------------------------------------


async def active_agencies_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Meter.agency_id)
        .join(MeterLink, MeterLink.meter_id == Meter.id)
        .where(
            MeterLink.user_id == user_id, MeterLink.status == LinkStatus.active, Meter.agency_id.is_not(None)
        )
        .distinct()
    )
    return [a for a in rows if a is not None]


async def active_users_of_meter(session: AsyncSession, meter_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(MeterLink.user_id).where(MeterLink.meter_id == meter_id, MeterLink.status == LinkStatus.active)
    )
    return list(rows)


async def meter_exists(session: AsyncSession, meter_id: uuid.UUID) -> Meter | None:
    return await session.get(Meter, meter_id)


async def user_exists(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return (await session.scalar(select(exists().where(User.id == user_id)))) or False


# --- feed ---------------------------------------------------------------------------------------


class FeedRow(NamedTuple):
    """One feed line as read (Core columns; title and body already in the caller's language)."""

    id: uuid.UUID
    type: str
    priority: str
    title: str
    body: str
    data: dict[str, Any] | None
    created_at: datetime
    read: bool


class FeedKeys(NamedTuple):
    """How audience keys are spelled (``service._audiences``): the caller's own key, the everyone
    and all-agencies keys and the prefix of an agency's key."""

    user: str
    everyone: str
    all_agencies: str
    agency_prefix: str

    def params(self, user_id: uuid.UUID) -> dict[str, Any]:
        return {
            "user_id": user_id,
            "user_key": self.user,
            "everyone": self.everyone,
            "all_agencies": self.all_agencies,
            "agency_prefix": self.agency_prefix,
            "active": LinkStatus.active.name,
        }


# The caller (account creation, read-all mark, agencies of the active links) and its audience keys,
# computed by PostgreSQL inside the hot statements below: one statement, one round trip, per miss
# (they were three: context, mark, page). A direct message is in the feed whatever its age; a
# broadcast older than the account is not.
_FEED_CALLER = """
WITH me AS (
    SELECT u.created_at AS since,
           (SELECT m.read_all_at FROM notification_read_marks m WHERE m.user_id = u.id) AS mark,
           ARRAY(SELECT DISTINCT mt.agency_id FROM meter_links l JOIN meters mt ON mt.id = l.meter_id
                 WHERE l.user_id = u.id AND l.status = :active AND mt.agency_id IS NOT NULL) AS agencies
    FROM users u WHERE u.id = :user_id
), keys AS (
    SELECT CAST(:user_key AS varchar) AS key, true AS direct
    UNION ALL SELECT :everyone, false
    UNION ALL SELECT :all_agencies, false FROM me WHERE cardinality(me.agencies) > 0
    UNION ALL SELECT :agency_prefix || a::text, false FROM me, unnest(me.agencies) AS a
)
"""

# One index range scan of notification_audiences per audience key, newest first (LATERAL).
_FEED_PAGE = (
    _FEED_CALLER  # noqa: S608 - constant text: every value is a bound parameter
    + """
, page AS (
    SELECT DISTINCT x.created_at, x.notification_id
    FROM me CROSS JOIN keys CROSS JOIN LATERAL (
        SELECT a.created_at, a.notification_id FROM notification_audiences a
        WHERE a.audience = keys.key
          AND (keys.direct OR a.created_at >= me.since)
          {before}
          AND NOT EXISTS (SELECT 1 FROM notification_receipts r WHERE r.user_id = :user_id
                          AND r.notification_id = a.notification_id AND r.hidden_at IS NOT NULL)
        ORDER BY a.created_at DESC, a.notification_id DESC
        LIMIT :limit
    ) AS x
    ORDER BY x.created_at DESC, x.notification_id DESC
    LIMIT :limit
)
SELECT n.id, n.type, n.priority, n.title_{lang} AS title, n.body_{lang} AS body, n.data, n.created_at,
       coalesce(n.created_at <= me.mark, false) OR r.read_at IS NOT NULL AS read
FROM page JOIN notifications n ON n.id = page.notification_id CROSS JOIN me
LEFT JOIN notification_receipts r ON r.notification_id = n.id AND r.user_id = :user_id
ORDER BY n.created_at DESC, n.id DESC
"""
)
_BEFORE = (
    "AND (a.created_at, a.notification_id) < (CAST(:before_at AS timestamptz), CAST(:before_id AS uuid))"
)
# four constant statements (first page or after a cursor, French or English): SQLAlchemy's and
# PostgreSQL's caches see the same text every time
_FEED_STATEMENTS = {
    (lang, paged): text(_FEED_PAGE.format(lang=lang, before=_BEFORE if paged else "")).columns(
        id=Uuid(), data=JSONB(), created_at=DateTime(timezone=True)
    )
    for lang in ("fr", "en")
    for paged in (False, True)
}


async def feed_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    keys: FeedKeys,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
    lang: str = "fr",
) -> list[FeedRow]:
    """The newest ``limit`` notifications of the user's feed before ``before``, with their read flag
    (title and body in ``lang``): one statement."""
    params = {**keys.params(user_id), "limit": limit}
    if before is not None:
        params |= {"before_at": before[0], "before_id": before[1]}
    stmt = _FEED_STATEMENTS[("en" if lang == "en" else "fr", before is not None)]
    rows = await session.execute(stmt, params)
    return [FeedRow(i, t, p, title, body, data, at, bool(r)) for i, t, p, title, body, data, at, r in rows]


_IN_FEED = text(
    _FEED_CALLER  # noqa: S608 - constant text: every value is a bound parameter
    + """
SELECT a.created_at
FROM me CROSS JOIN keys
JOIN notification_audiences a ON a.audience = keys.key AND a.notification_id = :nid
WHERE (keys.direct OR a.created_at >= me.since)
  AND NOT EXISTS (SELECT 1 FROM notification_receipts r WHERE r.user_id = :user_id
                  AND r.notification_id = a.notification_id AND r.hidden_at IS NOT NULL)
LIMIT 1
"""
).columns(created_at=DateTime(timezone=True))


async def in_feed(
    session: AsyncSession, user_id: uuid.UUID, keys: FeedKeys, nid: uuid.UUID
) -> datetime | None:
    """created_at of notification ``nid`` if it is in the user's (non-hidden) feed (the feed's own
    audience rule: the same caller CTE)."""
    found: datetime | None = await session.scalar(_IN_FEED, {**keys.params(user_id), "nid": nid})
    return found


_UNREAD_COUNT = text(
    _FEED_CALLER  # noqa: S608 - constant text: every value is a bound parameter
    + """
SELECT count(*) FROM (
    SELECT DISTINCT x.notification_id
    FROM me CROSS JOIN keys CROSS JOIN LATERAL (
        SELECT a.notification_id FROM notification_audiences a
        WHERE a.audience = keys.key
          AND (me.mark IS NULL OR a.created_at > me.mark)
          AND (keys.direct OR a.created_at >= me.since)
          AND NOT EXISTS (SELECT 1 FROM notification_receipts r WHERE r.user_id = :user_id
                          AND r.notification_id = a.notification_id
                          AND (r.hidden_at IS NOT NULL OR r.read_at IS NOT NULL))
        LIMIT :cap
    ) AS x
    LIMIT :cap
) AS capped
"""
)


async def unread_count(session: AsyncSession, user_id: uuid.UUID, keys: FeedKeys, cap: int) -> int:
    """Unread, not hidden notifications of the user's feed, counted up to ``cap``: one statement."""
    return int(await session.scalar(_UNREAD_COUNT, {**keys.params(user_id), "cap": cap}) or 0)


async def upsert_receipt(
    session: AsyncSession, user_id: uuid.UUID, nid: uuid.UUID, *, read: bool = False, hidden: bool = False
) -> None:
    values: dict[str, Any] = {"user_id": user_id, "notification_id": nid}
    updates: dict[str, Any] = {}
    if read:
        values["read_at"] = func.now()
        updates["read_at"] = func.coalesce(NotificationReceipt.read_at, func.now())
    if hidden:
        values["hidden_at"] = func.now()
        updates["hidden_at"] = func.coalesce(NotificationReceipt.hidden_at, func.now())
    stmt = insert(NotificationReceipt).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["user_id", "notification_id"], set_=updates)
    )


async def mark_all_read(session: AsyncSession, user_id: uuid.UUID) -> None:
    stmt = insert(NotificationReadMark).values(user_id=user_id, read_all_at=func.now())
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["user_id"], set_={"read_all_at": func.now()})
    )


# --- staff --------------------------------------------------------------------------------------


async def find_by_idempotency_key(
    session: AsyncSession, created_by: uuid.UUID, key: str
) -> Notification | None:
    return await session.scalar(
        select(Notification).where(Notification.created_by == created_by, Notification.idempotency_key == key)
    )


async def delivery_counts(session: AsyncSession, nid: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(Delivery.status, func.count()).where(Delivery.notification_id == nid).group_by(Delivery.status)
    )
    return {str(s): int(c) for s, c in rows}


async def has_unfinished_batches(session: AsyncSession, nid: uuid.UUID) -> bool:
    return bool(
        await session.scalar(
            select(exists().where(FanoutBatch.notification_id == nid, FanoutBatch.finished_at.is_(None)))
        )
    )


async def oldest_unfinished_broadcast_age_s(session: AsyncSession, window: timedelta) -> float:
    """Seconds since the oldest broadcast of the last ``window`` (not withdrawn) was created whose
    fan-out or a send batch has not finished; 0 when none (the database's clock)."""
    unfinished_batch = exists().where(
        FanoutBatch.notification_id == Notification.id, FanoutBatch.finished_at.is_(None)
    )
    age = await session.scalar(
        select(func.extract("epoch", func.now() - func.min(Notification.created_at))).where(
            Notification.target_kind != TargetKind.user.value,
            Notification.withdrawn_at.is_(None),
            Notification.created_at > func.now() - window,
            or_(Notification.fanout_done_at.is_(None), unfinished_batch),
        )
    )
    return float(age or 0.0)


# --- outbox -------------------------------------------------------------------------------------


async def lock_unpublished(
    session: AsyncSession, ids: Sequence[uuid.UUID] | None, older_than_s: float, limit: int
) -> list[OutboxJob]:
    q = select(OutboxJob).where(OutboxJob.published_at.is_(None))
    if ids is not None:
        q = q.where(OutboxJob.notification_id.in_(ids))
    else:
        q = q.where(OutboxJob.created_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than_s))
    q = q.order_by(OutboxJob.created_at).limit(limit).with_for_update(skip_locked=True)
    return list(await session.scalars(q))


async def mark_published(session: AsyncSession, job_ids: Sequence[uuid.UUID]) -> None:
    await session.execute(
        update(OutboxJob)
        .where(OutboxJob.id.in_(job_ids))
        .values(published_at=func.now(), attempts=OutboxJob.attempts + 1)
    )


async def count_unpublished(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(OutboxJob).where(OutboxJob.published_at.is_(None))
        )
        or 0
    )


# --- fan-out ------------------------------------------------------------------------------------


def device_target_filter(n: Notification) -> ColumnElement[bool]:
    kind = TargetKind(n.target_kind)
    if kind == TargetKind.user:
        return Device.user_id == n.target_user_id
    if kind == TargetKind.everyone:
        return literal(True)
    linked = select(MeterLink.user_id).where(MeterLink.status == LinkStatus.active)
    if kind == TargetKind.meter:
        linked = linked.where(MeterLink.meter_id == n.target_meter_id)
    else:
        linked = linked.join(Meter, Meter.id == MeterLink.meter_id)
        if kind == TargetKind.all_agencies:
            linked = linked.where(Meter.agency_id.is_not(None))
        else:
            linked = linked.where(Meter.agency_id.in_(n.target_agency_ids or []))
    return Device.user_id.in_(linked)


def pushable_count_query(n: Notification) -> Select[int]:
    """COUNT of the target's pushable devices: the same source :func:`device_page` walks."""
    return select(func.count()).select_from(Device).where(PUSHABLE, device_target_filter(n))


async def count_pushable(session: AsyncSession, n: Notification) -> int:
    """How many pushable devices the target has (one COUNT over ix_devices_pushable)."""
    return int(await session.scalar(pushable_count_query(n)) or 0)


async def mark_fanout_started(session: AsyncSession, nid: uuid.UUID, targeted: int) -> None:
    """Record the audience size once (a redelivered first fan-out step keeps the first count)."""
    await session.execute(
        update(Notification)
        .where(Notification.id == nid, Notification.targeted_devices.is_(None))
        .values(targeted_devices=targeted, fanout_started_at=func.now())
    )


async def device_page(
    session: AsyncSession, n: Notification, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Ids of the next ``limit`` pushable devices of the target, keyset by id (ix_devices_pushable)."""
    q = select(Device.id).where(PUSHABLE, device_target_filter(n))
    if after is not None:
        q = q.where(Device.id > after)
    return list(await session.scalars(q.order_by(Device.id).limit(limit)))


async def claim_batch(
    session: AsyncSession, n: Notification, after: uuid.UUID | None, upto: uuid.UUID, reclaim: bool
) -> list[tuple[uuid.UUID, str, str]]:
    """Record one delivery per (notification, device) of the id range and claim the ones still to do:
    ``(device id, FCM token, the owner's language)``.

    Rows already ``sent``/``dead``/``failed`` are never claimed again; rows left ``sending`` by a
    worker that died are reclaimed only when the broker redelivers the task (``reclaim``)."""
    rng = and_(Device.id <= upto, PUSHABLE, device_target_filter(n))
    if after is not None:
        rng = and_(rng, Device.id > after)
    # New rows are inserted already claimed (one write per row instead of insert + update); rows a
    # previous run left behind are claimed by the UPDATE, which does not see the rows this very
    # statement inserts (same snapshot), so no device is claimed twice.
    inserted = (
        insert(Delivery)
        .from_select(
            ["notification_id", "device_id", "status", "attempts"],
            select(literal(n.id), Device.id, literal(DeliveryStatus.sending.value), literal(1)).where(rng),
        )
        .on_conflict_do_nothing(index_elements=["notification_id", "device_id"])
        .returning(Delivery.device_id)
        .cte("inserted")
    )
    todo = [DeliveryStatus.pending.value] + ([DeliveryStatus.sending.value] if reclaim else [])
    dev_range = Delivery.device_id <= upto
    if after is not None:
        dev_range = and_(dev_range, Delivery.device_id > after)
    updated = (
        update(Delivery)
        .where(Delivery.notification_id == n.id, dev_range, Delivery.status.in_(todo))
        .values(status=DeliveryStatus.sending.value, attempts=Delivery.attempts + 1, updated_at=func.now())
        .returning(Delivery.device_id)
        .cte("updated")
    )
    claimed = union_all(select(inserted.c.device_id), select(updated.c.device_id)).subquery("claimed")
    rows = await session.execute(
        select(Device.id, Device.fcm_token, User.language)
        .join(claimed, claimed.c.device_id == Device.id)
        .join(User, User.id == Device.user_id)
    )
    return [(d, t or "", lang or "fr") for d, t, lang in rows]


async def set_delivery_status(
    session: AsyncSession,
    nid: uuid.UUID,
    device_ids: Sequence[uuid.UUID],
    status: DeliveryStatus,
    error: str | None,
) -> None:
    if not device_ids:
        return
    await session.execute(
        update(Delivery)
        .where(Delivery.notification_id == nid, Delivery.device_id == any_(_uuid_array(device_ids)))
        .values(status=status.value, error=error, updated_at=func.now())
    )


async def deactivate_tokens(session: AsyncSession, device_ids: Sequence[uuid.UUID]) -> None:
    if not device_ids:
        return
    await session.execute(
        update(Device)
        .where(Device.id == any_(_uuid_array(device_ids)), Device.token_invalid_at.is_(None))
        .values(token_invalid_at=func.now())
    )


async def mark_fanout_done(session: AsyncSession, nid: uuid.UUID) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.id == nid, Notification.fanout_done_at.is_(None))
        .values(fanout_done_at=func.now())
    )


async def record_batches(session: AsyncSession, nid: uuid.UUID, uptos: Sequence[uuid.UUID]) -> None:
    """The send batches a fan-out step enqueues (a redelivered step adds none twice)."""
    if not uptos:
        return
    await session.execute(
        insert(FanoutBatch)
        .values([{"notification_id": nid, "upto": u} for u in uptos])
        .on_conflict_do_nothing(index_elements=["notification_id", "upto"])
    )


async def finish_batch(session: AsyncSession, nid: uuid.UUID, upto: uuid.UUID) -> None:
    """Upsert: a batch published by a fan-out step whose commit then failed is still recorded."""
    stmt = insert(FanoutBatch).values(notification_id=nid, upto=upto, finished_at=func.now())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["notification_id", "upto"],
            set_={"finished_at": func.coalesce(FanoutBatch.finished_at, func.now())},
        )
    )


async def created_within(session: AsyncSession, notification_id: uuid.UUID, age: timedelta) -> bool:
    """Whether the notification was created less than ``age`` ago (by the database clock)."""
    fresh = await session.scalar(
        select(Notification.created_at > func.now() - age).where(Notification.id == notification_id)
    )
    return bool(fresh)


async def release_idempotency_key(session: AsyncSession, notification_id: uuid.UUID) -> None:
    """An expired key may be used again: the old notification lets go of it."""
    await session.execute(
        update(Notification).where(Notification.id == notification_id).values(idempotency_key=None)
    )


async def audiences_of(session: AsyncSession, notification_id: uuid.UUID) -> list[str]:
    """The audience keys a notification was stored with (``user:<id>``, ``agency:<id>``…)."""
    return list(
        await session.scalars(
            select(NotificationAudience.audience).where(
                NotificationAudience.notification_id == notification_id
            )
        )
    )


# --- staff list and withdrawal --------------------------------------------------------------------


async def sent_page(
    session: AsyncSession,
    *,
    created_by: uuid.UUID | None,
    agency_id: uuid.UUID | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Notification]:
    """Staff-sent notifications (not direct messages to one user), newest first. ``created_by`` /
    ``agency_id``: an agent's own, or addressed to exactly their agency."""
    q = select(Notification).where(Notification.created_by.is_not(None))
    if created_by is not None:
        own = Notification.created_by == created_by
        if agency_id is not None:
            own = or_(own, Notification.target_agency_ids == _uuid_array([agency_id]))
        q = q.where(own)
    if before is not None:
        q = q.where(
            tuple_(Notification.created_at, Notification.id) < tuple_(literal(before[0]), literal(before[1]))
        )
    q = q.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return (await session.execute(q)).scalars().all()


async def withdraw(session: AsyncSession, nid: uuid.UUID, by: uuid.UUID) -> None:
    """Mark withdrawn, take it out of every feed, stop the deliveries not yet sent."""
    await session.execute(
        update(Notification)
        .where(Notification.id == nid, Notification.withdrawn_at.is_(None))
        .values(withdrawn_at=func.now(), withdrawn_by=by)
    )
    await session.execute(delete(NotificationAudience).where(NotificationAudience.notification_id == nid))
    await session.execute(
        update(Delivery)
        .where(Delivery.notification_id == nid, Delivery.status == DeliveryStatus.pending.value)
        .values(status=DeliveryStatus.failed.value, error="withdrawn", updated_at=func.now())
    )
