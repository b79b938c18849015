"""Pydantic shapes of the notifications API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from samaconso.kit.request_body import RequestBody
from samaconso.notifications.models import NotificationType, Priority


class Localized(RequestBody):
    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)


class TitleText(Localized):
    fr: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)


class BodyText(Localized):
    fr: str = Field(min_length=1, max_length=2000)
    en: str = Field(min_length=1, max_length=2000)


class UserTarget(RequestBody):
    kind: Literal["user"]
    user_id: uuid.UUID


class MeterTarget(RequestBody):
    kind: Literal["meter"]
    meter_id: uuid.UUID


class AgencyTarget(RequestBody):
    kind: Literal["agency"]
    agency_id: uuid.UUID | None = Field(default=None, description="Agents: omitted = their agency.")


class AllAgenciesTarget(RequestBody):
    kind: Literal["all_agencies"]


class EveryoneTarget(RequestBody):
    kind: Literal["everyone"]


class OutageTarget(RequestBody):
    kind: Literal["outage"]
    agency_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)


Target = Annotated[
    UserTarget | MeterTarget | AgencyTarget | AllAgenciesTarget | EveryoneTarget | OutageTarget,
    Field(discriminator="kind"),
]


class NotificationCreate(RequestBody):
    target: Target
    type: NotificationType
    priority: Priority | None = None
    title: TitleText
    body: BodyText
    data: dict[str, str] | None = Field(default=None, description="Small payload, e.g. deep link.")

    @field_validator("data")
    @classmethod
    def _small(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and (len(value) > 10 or sum(len(k) + len(v) for k, v in value.items()) > 1024):
            raise ValueError("data: at most 10 keys and 1 KB")
        return value


class NotificationAccepted(BaseModel):
    id: uuid.UUID
    priority: Priority
    queue: str


DeliveryProgress = Literal["queued", "fanning_out", "sending", "done"]


class DeliveryStats(BaseModel):
    id: uuid.UUID
    type: str
    priority: str
    target_kind: str
    created_at: datetime
    status: DeliveryProgress = Field(
        description="queued (fan-out not started) · fanning_out · sending (fan-out done, devices left) · done."
    )
    fanout_complete: bool
    targeted_devices: int | None = Field(
        description="Pushable devices of the audience, counted when the fan-out started (null before)."
    )
    sent: int
    failed: int
    dead_tokens: int
    pending: int | None = Field(
        description="targeted_devices - (sent + failed + dead_tokens), never negative (null before the "
        "fan-out); 0 once done."
    )
    skipped: int = Field(
        description="Once done: devices counted at the start that signed out or lost their token before "
        "their turn (targeted = sent + failed + dead_tokens + skipped)."
    )
    withdrawn_at: datetime | None = Field(default=None, description="Withdrawn by staff (gone from feeds).")


class SentNotification(BaseModel):
    id: uuid.UUID
    type: str
    priority: str
    target_kind: str
    title: str
    body: str
    created_at: datetime
    created_by: uuid.UUID | None
    withdrawn_at: datetime | None


class FeedItem(BaseModel):
    id: uuid.UUID
    type: str
    priority: str
    title: str
    body: str
    data: dict[str, str]
    created_at: datetime
    read: bool


class UnreadCount(BaseModel):
    unread: int
    capped: bool = Field(description="True when there are at least this many (count stops there).")
