"""Request/response bodies of the requests domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from samaconso.kit.request_body import RequestBody
from samaconso.requests.models import RequestStatus

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
COMMENT_MAX_CHARS = 2000  # one message on a request (issue 12: bounded conversations)


class RequestTypeIn(RequestBody):
    code: str = Field(pattern=CODE_PATTERN, description="Stable identifier, e.g. `reclamation_facture`.")
    label_fr: str = Field(min_length=2, max_length=120)
    label_en: str = Field(min_length=2, max_length=120)
    sla_hours: int = Field(ge=1, le=24 * 90, description="Time allowed to close a request of this type.")
    is_active: StrictBool = True


class RequestTypePatch(RequestBody):
    label_fr: str | None = Field(default=None, min_length=2, max_length=120)
    label_en: str | None = Field(default=None, min_length=2, max_length=120)
    sla_hours: int | None = Field(default=None, ge=1, le=24 * 90)
    is_active: StrictBool | None = None


class RequestTypeOut(BaseModel):
    id: uuid.UUID
    code: str
    label_fr: str
    label_en: str
    sla_hours: int
    is_active: bool


class RequestTypeBrief(BaseModel):
    code: str
    label: str  # in the caller's language


class RequestCreate(RequestBody):
    type: str = Field(pattern=CODE_PATTERN, description="Code of an active request type.")
    meter_id: uuid.UUID | None = None
    comment: str = Field(min_length=3, max_length=4000)
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=5)


class CommentIn(RequestBody):
    body: str = Field(min_length=1, max_length=COMMENT_MAX_CHARS)


class RequestPatch(RequestBody):
    """Staff update: take the request, change its status, and/or write to the customer."""

    assign_to_me: StrictBool = False
    status: Literal["in_progress", "resolved", "rejected"] | None = None
    comment: str | None = Field(default=None, min_length=1, max_length=COMMENT_MAX_CHARS)


class AttachmentOut(BaseModel):
    id: uuid.UUID
    original_name: str
    content_type: str
    size_bytes: int


class HistoryEntry(BaseModel):
    at: datetime
    from_status: RequestStatus | None
    to_status: RequestStatus
    by: Literal["customer", "agent", "admin", "system"]
    comment: str | None


class CommentOut(BaseModel):
    at: datetime
    by: Literal["customer", "agent", "admin", "system"]
    body: str


class TimelineEntry(BaseModel):
    """One event of a request's timeline: a status change (with its comment) or a message."""

    at: datetime
    kind: Literal["status", "comment"]
    by: Literal["customer", "agent", "admin", "system"]
    from_status: RequestStatus | None = None
    to_status: RequestStatus | None = None
    body: str | None = None


OLDER_EVENTS = Field(
    description="`history` and `comments` hold the request's newest 20 events; when there are older "
    "ones, pass this cursor to the request's `/timeline` to page through them (newest first)."
)


class RequestSummary(BaseModel):
    id: uuid.UUID
    reference: str = Field(description="Short reference to quote at the counter, e.g. `DKC-2026-004512`.")
    type: RequestTypeBrief
    status: RequestStatus
    meter_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime = Field(description="When Senelec committed to answer (the type's SLA).")


class RatingIn(RequestBody):
    score: int = Field(ge=1, le=5, description="1 (very unsatisfied) to 5 (very satisfied).")
    comment: str | None = Field(default=None, max_length=1000)


class ReopenIn(RequestBody):
    reason: str = Field(min_length=3, max_length=2000, description="Why the answer did not solve it.")


class RatingOut(BaseModel):
    score: int
    comment: str | None
    at: datetime


class RequestDetail(RequestSummary):
    comment: str
    closed_at: datetime | None
    reopen_until: datetime | None = Field(
        description="Resolved or rejected: the customer may reopen it until then (14 days)."
    )
    reopen_count: int
    rating: RatingOut | None
    attachments: list[AttachmentOut]
    history: list[HistoryEntry]
    comments: list[CommentOut]
    older_events_cursor: str | None = OLDER_EVENTS


class StaffRequestSummary(RequestSummary):
    agency_id: uuid.UUID | None
    requester_id: uuid.UUID
    assigned_to: uuid.UUID | None
    age_hours: float = Field(description="Hours since submission (until closure for closed requests).")
    overdue: bool = Field(description="Still open after the type's SLA.")


class Requester(BaseModel):
    id: uuid.UUID
    phone: str | None
    first_name: str
    last_name: str


class StaffRequestDetail(StaffRequestSummary):
    comment: str
    closed_at: datetime | None
    reopen_count: int
    rating: RatingOut | None
    requester: Requester
    attachments: list[AttachmentOut]
    history: list[HistoryEntry]
    comments: list[CommentOut]
    older_events_cursor: str | None = OLDER_EVENTS
