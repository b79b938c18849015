"""HTTP routes of the outages domain (mounted under /api/v1)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request, status

from samaconso.identity.deps import CustomerUser, StaffUser
from samaconso.kit.deps import CursorQuery, LimitQuery, SessionDep
from samaconso.kit.i18n import Lang, negotiate
from samaconso.kit.pagination import Page
from samaconso.outages import service
from samaconso.outages.schemas import OutageCreate, OutageEndIn, OutageOut, OutageUpdateIn, StaffOutageOut

router = APIRouter(tags=["outages"])


def _lang(request: Request) -> Lang:
    return negotiate(request.headers.get("accept-language"))


@router.post("/outages", status_code=status.HTTP_201_CREATED, response_model=StaffOutageOut)
async def declare_outage(body: OutageCreate, principal: StaffUser, session: SessionDep) -> StaffOutageOut:
    """Declare an outage for one agency (agents: theirs) or several (admins); pushed at once (urgent)."""
    return await service.declare(session, principal, body)


@router.get("/outages", response_model=Page[StaffOutageOut])
async def list_outages(
    request: Request,
    principal: StaffUser,
    session: SessionDep,
    current: bool = Query(default=False, description="Only the outages not ended yet."),
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[StaffOutageOut]:
    """Agents: their agency's outages; administrators: all. Newest start first."""
    return await service.list_for_staff(
        session, principal, _lang(request), current_only=current, cursor=cursor, limit=limit
    )


@router.get("/outages/{outage_id}", response_model=StaffOutageOut)
async def get_outage(
    outage_id: uuid.UUID, request: Request, principal: StaffUser, session: SessionDep
) -> StaffOutageOut:
    return await service.staff_view(session, principal, outage_id, _lang(request))


@router.post("/outages/{outage_id}/updates", response_model=StaffOutageOut)
async def post_outage_update(
    outage_id: uuid.UUID, body: OutageUpdateIn, principal: StaffUser, session: SessionDep
) -> StaffOutageOut:
    """News on an outage (and a new expected end, if it moved); pushed to the same zone."""
    return await service.post_update(session, principal, outage_id, body)


@router.post("/outages/{outage_id}/end", response_model=StaffOutageOut)
async def end_outage(
    outage_id: uuid.UUID, body: OutageEndIn, principal: StaffUser, session: SessionDep
) -> StaffOutageOut:
    """Power is back: the outage ends now; pushed to the same zone."""
    return await service.end(session, principal, outage_id, body.message)


@router.get("/me/outages", response_model=Page[OutageOut])
async def my_outages(
    request: Request,
    principal: CustomerUser,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[OutageOut]:
    """Current outages and those ended in the last 7 days, in the agencies of my meters."""
    return await service.list_mine(session, principal, _lang(request), cursor=cursor, limit=limit)
