"""Shapes of the staff routes behind the agency console (``/api/v1/staff/...``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from samaconso.identity.schemas import DeviceOut, StaffPassword
from samaconso.kit.request_body import RequestBody
from samaconso.notifications.schemas import FeedItem


class CustomerBrief(BaseModel):
    id: uuid.UUID
    phone: str | None
    first_name: str
    last_name: str
    is_active: bool
    locked: bool = Field(description="Sign-in locked after too many wrong PINs.")
    created_at: datetime


class MeterPerson(BaseModel):
    user_id: uuid.UUID
    first_name: str
    last_name: str
    phone: str | None
    is_owner: bool
    status: str


class CustomerMeter(BaseModel):
    id: uuid.UUID
    kind: str
    number: str
    customer_name: str | None
    address: str | None
    agency: str | None
    is_owner: bool
    status: str
    people: list[MeterPerson] = Field(description="Everybody linked to the meter (owner and sharers).")


class CustomerRequestBrief(BaseModel):
    id: uuid.UUID
    type: str
    status: str
    comment: str
    created_at: datetime
    due_at: datetime


class CustomerDetail(BaseModel):
    customer: CustomerBrief
    language: str
    email: str | None
    meters: list[CustomerMeter]
    devices: list[DeviceOut]
    requests: list[CustomerRequestBrief] = Field(description="The latest 50 requests, newest first.")
    notifications: list[FeedItem] = Field(description="The latest 20 notifications received.")


class TokenResent(BaseModel):
    order_number: str
    sent_to: str = Field(description="The customer's phone, masked.")
    tokens: int = Field(description="How many tokens the SMS carried.")


class PasswordChange(RequestBody):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: StaffPassword


class Colleague(BaseModel):
    id: uuid.UUID
    login: str | None
    first_name: str
    last_name: str
    role: str
    agency_id: uuid.UUID | None


class RequestOnBehalf(RequestBody):
    type: str = Field(pattern=r"^[a-z0-9_]{2,40}$", description="Code of an active request type.")
    meter_id: uuid.UUID | None = None
    comment: str = Field(min_length=3, max_length=4000)
    attachments: list[uuid.UUID] = Field(
        default_factory=list, max_length=5, description="Files the agent uploaded (POST /files)."
    )


class RequestFiled(BaseModel):
    id: uuid.UUID = Field(description="The new request (GET /requests/{id}).")
