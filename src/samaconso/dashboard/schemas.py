"""Response body of the dashboard."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field


class Scope(BaseModel):
    national: bool
    agency_id: uuid.UUID | None


class LinkFigures(BaseModel):
    total: int = Field(description="Every customer↔meter link ever made (all statuses).")
    active: int
    pending: int = Field(description="Waiting for the owner's approval.")
    refused: int
    revoked: int
    active_prepaid: int = Field(description="Active links to Woyofal (prepaid) meters.")
    active_postpaid: int
    active_owner_links: int
    active_shared_links: int


class UserFigures(BaseModel):
    customers: int = Field(
        description="National: customer accounts. Agency: customers with an active link to one of its meters."
    )
    owners: int = Field(description="Customers owning at least one (active) meter in scope.")
    shared_users: int = Field(description="Customers with shared (non-owner) access to a meter in scope.")
    active_devices: int = Field(description="Signed-in devices of those customers.")


class RatingFigures(BaseModel):
    count: int = Field(description="Resolved requests the customer rated.")
    average: float | None = Field(description="Average score (1-5); null without ratings.")
    by_score: dict[str, int]
    satisfied_share: float | None = Field(description="Share of ratings at 4 or 5.")


class RequestFigures(BaseModel):
    total: int
    by_status: dict[str, int]
    open: int
    overdue: int = Field(description="Open requests past their type's SLA.")
    ratings: RatingFigures


class DeliveryWindow(BaseModel):
    notifications: int = Field(description="Notifications addressed to the scope in the window.")
    push_attempts: int = Field(
        description="Push messages that reached a final state (sent, failed, dead token)."
    )
    push_delivered: int
    delivery_rate: float | None = Field(description="push_delivered / push_attempts (null without attempts).")


class NotificationFigures(BaseModel):
    last_7_days: DeliveryWindow
    last_30_days: DeliveryWindow


class DayCount(BaseModel):
    day: date
    count: int


class DashboardOut(BaseModel):
    scope: Scope
    generated_at: datetime
    figures_computed_at: datetime = Field(
        description="When links, users, devices, notifications and sign-ups were last aggregated "
        "(periodic refresh); requests are live."
    )
    links: LinkFigures
    users: UserFigures
    requests: RequestFigures
    notifications: NotificationFigures | None
    notifications_unavailable_reason: str | None = None
    signups_per_day: list[DayCount] = Field(
        description="Customer sign-ups per UTC day, last 30 days, oldest first."
    )
