"""HTTP routes of the meters domain (mounted under /api/v1): my meters, access requests, staff lookup."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from samaconso.identity.deps import CustomerUser, StaffUser
from samaconso.kit.deps import CursorQuery, LimitQuery, RateLimiterDep, SessionDep, SettingsDep
from samaconso.kit.pagination import Page
from samaconso.legacy.deps import GatewayDep
from samaconso.meters import service, sharing
from samaconso.meters.schemas import AccessRequestOut, MeterAdd, MeterOut, StaffMeterOut, SuggestionOut
from samaconso.meters.sharing_schemas import CounterDecisionIn, MeterMemberOut
from samaconso.notifications.service import notify_user

router = APIRouter(tags=["meters"])

ADDS_PER_HOUR = 20


@router.post("/me/meters", status_code=status.HTTP_201_CREATED, response_model=MeterOut)
async def add_meter(
    body: MeterAdd,
    principal: CustomerUser,
    session: SessionDep,
    gateway: GatewayDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
) -> MeterOut:
    """Add a meter: active at once for its owner (legacy phone = my phone), pending otherwise."""
    # bounded so meter numbers cannot be enumerated against the legacy systems
    await limiter.check(
        f"meters:add:{principal.user_id}", ADDS_PER_HOUR, 3600, code="too_many_meter_additions"
    )
    limits = service.RequestLimits.from_settings(settings)
    return await service.add_meter(
        session, gateway, principal, body.kind, body.number, notify=notify_user, limits=limits
    )


@router.get("/me/meters", response_model=Page[MeterOut])
async def list_meters(
    principal: CustomerUser, session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 20
) -> Page[MeterOut]:
    return await service.list_my_meters(session, principal, cursor, limit)


@router.get("/me/meters/suggestions", response_model=Page[SuggestionOut])
async def suggestions(
    principal: CustomerUser,
    session: SessionDep,
    gateway: GatewayDep,
    request: Request,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[SuggestionOut]:
    """Meters and contracts registered under my phone in the legacy systems, not added yet."""
    return await service.suggestions(session, gateway, principal, cursor, limit)


@router.get("/me/meters/{meter_id}", response_model=MeterOut)
async def get_meter(meter_id: uuid.UUID, principal: CustomerUser, session: SessionDep) -> MeterOut:
    return await service.get_my_meter(session, principal, meter_id)


@router.delete("/me/meters/{meter_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_meter(meter_id: uuid.UUID, principal: CustomerUser, session: SessionDep) -> Response:
    await service.remove_my_meter(session, principal, meter_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/me/meters/{meter_id}/default", response_model=MeterOut)
async def set_default(meter_id: uuid.UUID, principal: CustomerUser, session: SessionDep) -> MeterOut:
    return await service.set_default(session, principal, meter_id)


@router.get("/me/meter-access-requests", response_model=Page[AccessRequestOut])
async def list_access_requests(
    principal: CustomerUser, session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 20
) -> Page[AccessRequestOut]:
    """Pending requests from other customers on the meters I own."""
    return await service.list_access_requests(session, principal, cursor, limit)


@router.post("/me/meter-access-requests/{request_id}/approve", response_model=AccessRequestOut)
async def approve(request_id: uuid.UUID, principal: CustomerUser, session: SessionDep) -> AccessRequestOut:
    return await service.decide_access_request(
        session, principal, request_id, approve=True, notify=notify_user
    )


@router.post("/me/meter-access-requests/{request_id}/refuse", response_model=AccessRequestOut)
async def refuse(request_id: uuid.UUID, principal: CustomerUser, session: SessionDep) -> AccessRequestOut:
    return await service.decide_access_request(
        session, principal, request_id, approve=False, notify=notify_user
    )


@router.delete("/me/meters/{meter_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_member(
    meter_id: uuid.UUID, user_id: uuid.UUID, principal: CustomerUser, session: SessionDep
) -> Response:
    """The owner withdraws another customer's access (or pending request)."""
    await service.revoke_member(session, principal, meter_id, user_id, notify=notify_user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/meters", response_model=Page[StaffMeterOut])
async def staff_lookup(
    principal: StaffUser,
    session: SessionDep,
    number: Annotated[str, Query(min_length=3, max_length=32, pattern=r"^\d+$")],
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[StaffMeterOut]:
    """Agents see their agency's meters, administrators every meter."""
    return await service.staff_lookup(session, principal, number, cursor, limit)


# --- sharing: members list, decision at the counter (meters/sharing.py) --------------------------
@router.get("/me/meters/{meter_id}/members", response_model=Page[MeterMemberOut])
async def list_members(
    meter_id: uuid.UUID,
    principal: CustomerUser,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[MeterMemberOut]:
    """The owner's view: who shares this meter (since when) and who asks to; revoke from there."""
    return await sharing.list_members(session, principal, meter_id, cursor, limit)


@router.post("/meters/access-requests/{link_id}/decide", response_model=AccessRequestOut)
async def decide_at_counter(
    link_id: uuid.UUID, body: CounterDecisionIn, principal: StaffUser, session: SessionDep
) -> AccessRequestOut:
    """Agent at the counter (meter's agency) or administrator: approve or refuse a pending or expired
    access request after checking the documents. Written to the audit log."""
    return await sharing.decide_at_counter(
        session,
        principal,
        link_id,
        approve=body.approve,
        note=body.note,
        documents_checked=body.documents_checked,
        notify=notify_user,
    )
