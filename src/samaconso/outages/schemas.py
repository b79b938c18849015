"""Outage API shapes (staff declare and follow up; customers read)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from samaconso.kit.request_body import RequestBody
from samaconso.notifications.schemas import BodyText, TitleText
from samaconso.outages.models import OutageCause

OutageStatus = Literal["announced", "ongoing", "ended"]


class OutageCreate(RequestBody):
    agency_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=100, description="Agents: their agency only."
    )
    cause: OutageCause
    starts_at: datetime = Field(description="Start (past: already under way; future: announced).")
    expected_end_at: datetime | None = None
    title: TitleText
    message: BodyText


class OutageUpdateIn(RequestBody):
    message: BodyText
    expected_end_at: datetime | None = Field(default=None, description="A new expected end, if it moved.")


class OutageEndIn(RequestBody):
    message: BodyText | None = None


class OutageStep(BaseModel):
    at: datetime
    kind: Literal["declared", "update", "ended"]
    message: str
    expected_end_at: datetime | None


class OutageOut(BaseModel):
    """What a customer reads, in their language."""

    id: uuid.UUID
    status: OutageStatus
    cause: OutageCause
    title: str
    message: str
    starts_at: datetime
    expected_end_at: datetime | None
    ended_at: datetime | None
    agencies: list[str] = Field(description="Names of the agencies affected.")
    updates: list[OutageStep] = Field(description="The timeline, oldest first.")


class StaffOutageOut(OutageOut):
    agency_ids: list[uuid.UUID]
    created_by: uuid.UUID | None
    notification_ids: list[uuid.UUID] = Field(description="The pushes sent (declaration, updates, end).")
