"""Customer requests ("demandes"): configurable types with an SLA, the requests and their history."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from samaconso.kit.db import Base, Timestamps, UUIDPk


class RequestStatus(enum.StrEnum):
    submitted = "submitted"
    in_progress = "in_progress"
    resolved = "resolved"
    rejected = "rejected"
    cancelled = "cancelled"  # by the customer, while still submitted


OPEN_STATUSES = frozenset({RequestStatus.submitted, RequestStatus.in_progress})


class EventKind(enum.StrEnum):
    status = "status"  # a status change (from_status -> to_status), with an optional comment
    comment = "comment"  # a message from the customer or the staff
    assignment = "assignment"  # the handling agent changed


class RequestType(UUIDPk, Timestamps, Base):
    __tablename__ = "request_types"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    label_fr: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    sla_hours: Mapped[int] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class CustomerRequest(UUIDPk, Timestamps, Base):
    __tablename__ = "customer_requests"

    type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("request_types.id", ondelete="RESTRICT"))
    requester_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    meter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("meters.id", ondelete="SET NULL"))
    # NULL = the national queue (no agency could be determined): only administrators see it.
    agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"))
    status: Mapped[RequestStatus] = mapped_column(
        Enum(RequestStatus, name="request_status", native_enum=False, length=16),
        default=RequestStatus.submitted,
        server_default=RequestStatus.submitted.value,
    )
    comment: Mapped[str] = mapped_column(Text)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # created_at + the type's SLA at submission time (a later SLA change does not move old deadlines)
    due_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # what the customer quotes at the counter: <agency code>-<year>-<number>, e.g. DKC-2026-004512
    reference: Mapped[str] = mapped_column(String(48), unique=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    rating_score: Mapped[int | None] = mapped_column(SmallInteger)  # 1-5, once resolved
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("rating_score IS NULL OR rating_score BETWEEN 1 AND 5", name="rating_score"),
        Index(
            "ix_customer_requests_agency_rating",
            "agency_id",
            "rating_score",
            postgresql_where=text("rating_score IS NOT NULL"),
        ),
        Index("ix_customer_requests_requester_created", "requester_id", "created_at", "id"),
        Index("ix_customer_requests_agency_created", "agency_id", "created_at", "id"),
        Index("ix_customer_requests_status_created", "status", "created_at", "id"),
        # Dashboard: requests by status and overdue, national or per agency (index-only scans).
        Index("ix_customer_requests_agency_status_due", "agency_id", "status", "due_at"),
    )


# numbers of the references (one series for every agency and year)
REFERENCE_SEQUENCE = Sequence("customer_request_reference_seq", metadata=Base.metadata)


class RequestEvent(UUIDPk, Base):
    """The request's timeline: status changes (the history), comments and assignments."""

    __tablename__ = "request_events"

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_requests.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[EventKind] = mapped_column(
        Enum(EventKind, name="request_event_kind", native_enum=False, length=16)
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_request_events_request_at", "request_id", "at"),)
