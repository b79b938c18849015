"""Notification rules: who a notification targets, its priority/queue, the outbox, the feed.

Other domains call :func:`notify_user` with their own session and commit it with their change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.notifications.models import (
    QUEUE_OF_PRIORITY,
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


def derive_priority(type_: NotificationType, target: TargetKind) -> Priority:
    """outage → urgent; a person's transactional message → high; broadcasts/campaigns → low; else normal."""
    if type_ == NotificationType.outage or target == TargetKind.outage:
        return Priority.urgent
    if target in PERSONAL_TARGETS and type_ in TRANSACTIONAL_TYPES:
        return Priority.high
    if target not in PERSONAL_TARGETS or type_ == NotificationType.campaign:
        return Priority.low
    return Priority.normal


def user_audience(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


def agency_audience(agency_id: uuid.UUID) -> str:
    return f"agency:{agency_id}"


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
    session.info.setdefault("notifications_outbox", []).append(nid)
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
