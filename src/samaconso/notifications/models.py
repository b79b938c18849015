"""Notification tables.

* ``notifications``: one row per notification, whatever its audience (a broadcast to a million users
  is ONE row).
* ``notification_audiences``: who sees it in their feed, as audience keys (``user:<id>``,
  ``agency:<id>``, ``agencies``, ``everyone``), keyed ``(audience, created_at, notification_id)`` so a
  user's feed is a handful of index range scans (one per key the user belongs to), merged.
* ``notification_receipts``: per-user read/hidden state, written only when the user reads or hides.
  ``notification_read_marks`` holds the per-user "read everything up to" watermark (read-all).
* ``notification_outbox``: transactional outbox, committed with the notification; a relay publishes
  it to RabbitMQ.
* ``notification_deliveries``: one row per (notification, device), the dedupe record of the push.
* ``notification_batches``: one row per send batch the fan-out enqueued (keyed by the batch's last
  device id), marked finished by the batch: the stats know whether work is still queued.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from samaconso.kit.db import Base, UUIDPk


class NotificationType(enum.StrEnum):
    meter_access_requested = "meter_access_requested"
    meter_access_granted = "meter_access_granted"
    meter_access_refused = "meter_access_refused"
    meter_access_revoked = "meter_access_revoked"
    meter_access_expired = "meter_access_expired"  # the owner never answered (not on the app)
    outage = "outage"
    bill_available = "bill_available"
    tranche_alert = "tranche_alert"
    consumption_alert = "consumption_alert"  # the customer's own monthly kWh / FCFA threshold
    request_updated = "request_updated"
    campaign = "campaign"
    device_signed_out = "device_signed_out"


class Priority(enum.StrEnum):
    urgent = "urgent"
    high = "high"
    normal = "normal"
    low = "low"


QUEUE_OF_PRIORITY: dict[Priority, str] = {
    Priority.urgent: "urgent",
    Priority.high: "high_priority",
    Priority.normal: "normal",
    Priority.low: "low_priority",
}


class TargetKind(enum.StrEnum):
    user = "user"  # one user
    meter = "meter"  # the users with an active link to a meter
    agency = "agency"  # users with an active link to a meter of that agency
    all_agencies = "all_agencies"  # users with an active link to any meter that has an agency
    everyone = "everyone"  # every user with the app
    outage = "outage"  # a list of agencies (outage zone)


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"  # gave up after retries
    dead = "dead"  # token reported UNREGISTERED / INVALID_ARGUMENT


class Notification(UUIDPk, Base):
    __tablename__ = "notifications"

    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    type: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(16))
    title_fr: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    body_fr: Mapped[str] = mapped_column(String(2000))
    body_en: Mapped[str] = mapped_column(String(2000))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    target_kind: Mapped[str] = mapped_column(String(20))
    target_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target_meter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("meters.id", ondelete="SET NULL"))
    target_agency_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid(as_uuid=True)))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # Delivery progress: set once when the fan-out starts (how many pushable devices the audience had,
    # one COUNT over the keyset source the fan-out walks) and when it has enqueued its last batch.
    fanout_started_at: Mapped[datetime | None]
    targeted_devices: Mapped[int | None] = mapped_column(Integer)
    fanout_done_at: Mapped[datetime | None]
    # Withdrawn by staff: gone from every feed, no further push sent (the fan-out and the send
    # batches check it before each step).
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_notifications_created_at", "created_at"),
        Index("ix_notifications_target_user_id", "target_user_id"),
        Index("uq_notifications_idempotency", "created_by", "idempotency_key", unique=True),
    )


class NotificationAudience(Base):
    __tablename__ = "notification_audiences"

    audience: Mapped[str] = mapped_column(String(60), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(primary_key=True, server_default=text("now()"))
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_notification_audiences_notification_id", "notification_id"),)


class NotificationReceipt(Base):
    __tablename__ = "notification_receipts"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime | None]
    hidden_at: Mapped[datetime | None]


class NotificationReadMark(Base):
    __tablename__ = "notification_read_marks"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_all_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class OutboxJob(UUIDPk, Base):
    __tablename__ = "notification_outbox"

    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    queue: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    published_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index(
            "ix_notification_outbox_unpublished",
            "created_at",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("ix_notification_outbox_notification_id", "notification_id"),
    )


class Delivery(Base):
    __tablename__ = "notification_deliveries"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (Index("ix_notification_deliveries_device_id", "device_id"),)


class FanoutBatch(Base):
    """A send batch (device id range ending at ``upto``) the fan-out enqueued; ``finished_at`` once run."""

    __tablename__ = "notification_batches"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    upto: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    finished_at: Mapped[datetime | None]
