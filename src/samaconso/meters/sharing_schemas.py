"""Shapes of meter sharing: the owner's members list and the agent's decision at the counter."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from samaconso.kit.request_body import RequestBody
from samaconso.meters.models import LinkStatus


class MeterMemberOut(BaseModel):
    user_id: uuid.UUID = Field(description="Revoke with DELETE /me/meters/{meter_id}/members/{user_id}.")
    first_name: str
    last_name: str
    phone: str | None = Field(description="Masked.")
    status: LinkStatus = Field(description="`active` (shares the meter) or `pending` (asks to).")
    requested_at: datetime
    member_since: datetime | None = Field(description="When access was granted (active members).")
    access_request_id: uuid.UUID | None = Field(
        description="Pending: approve or refuse with /me/meter-access-requests/{id}/approve|refuse."
    )


class CounterDecisionIn(RequestBody):
    approve: bool
    note: str = Field(min_length=3, max_length=500, description="What the agent saw (kept in the audit log).")
    documents_checked: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="e.g. `cni_demandeur`, `accord_ecrit_titulaire` (kept in the audit log).",
    )
