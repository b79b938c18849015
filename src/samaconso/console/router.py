"""Staff routes behind the agency console (mounted under /api/v1, bearer token like every route):
customer search and file, token re-send, unlock, PIN-reset code, and a staff member's own password.
The console (``/console``) has no private door: it calls exactly these routes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from samaconso.console import service
from samaconso.console.schemas import (
    Colleague,
    CustomerBrief,
    CustomerDetail,
    PasswordChange,
    RequestFiled,
    RequestOnBehalf,
    TokenResent,
)
from samaconso.consumption.schemas import BillOut, PurchaseOut
from samaconso.identity.context import Ctx
from samaconso.identity.deps import StaffUser, forget_session
from samaconso.identity.schemas import Accepted
from samaconso.kit.deps import CursorQuery, LimitQuery, SessionDep, rate_limiter_of, settings_of
from samaconso.kit.language import request_language
from samaconso.kit.pagination import Page, decode_time_cursor
from samaconso.legacy.deps import GatewayDep
from samaconso.notifications.service import notify_user

router = APIRouter(tags=["staff console"])

# Per staff member: token re-sends and PIN-reset codes are SMS paid by Senelec.
SMS_ACTIONS_LIMIT = (30, 600)


def _ctx(request: Request, session: Any) -> Ctx:
    async def forget(ids: Sequence[uuid.UUID]) -> None:
        await forget_session(request, *ids)

    return Ctx(
        session=session,
        settings=settings_of(request),
        limiter=rate_limiter_of(request),
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        forget=forget,
        notify=notify_user,
    )


async def _sms_quota(ctx: Ctx, staff_id: uuid.UUID) -> None:
    if ctx.limiter is not None:
        await ctx.limiter.check(f"staff-sms:{staff_id}", *SMS_ACTIONS_LIMIT)


OrderNumber = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("/staff/customers", response_model=Page[CustomerBrief])
async def search_customers(
    staff: StaffUser,
    request: Request,
    session: SessionDep,
    q: Annotated[
        str,
        Query(
            min_length=2,
            max_length=80,
            description="A phone in any form (77 123 45 67, 0022177…, +221…), a meter or contract "
            "number, or a name.",
        ),
    ],
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[CustomerBrief]:
    """Agents: their agency's customers only. Administrators: every customer."""
    return await service.search(_ctx(request, session), staff, q, limit, decode_time_cursor(cursor))


@router.get("/staff/customers/{customer_id}", response_model=CustomerDetail)
async def customer_detail(
    customer_id: uuid.UUID, staff: StaffUser, request: Request, session: SessionDep
) -> CustomerDetail:
    """Profile, meters with who shares them, devices, requests and notifications received."""
    lang = request_language(request)
    return await service.detail(_ctx(request, session), staff, customer_id, lang)


@router.get("/staff/customers/{customer_id}/meters/{meter_id}/purchases", response_model=Page[PurchaseOut])
async def customer_purchases(
    customer_id: uuid.UUID,
    meter_id: uuid.UUID,
    staff: StaffUser,
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[PurchaseOut]:
    """The Woyofal purchases of the last 12 months with their tokens, newest first, by page."""
    ctx = _ctx(request, session)
    return await service.purchases(ctx, gateway, staff, customer_id, meter_id, limit, cursor)


@router.get("/staff/customers/{customer_id}/meters/{meter_id}/bills", response_model=Page[BillOut])
async def customer_bills(
    customer_id: uuid.UUID,
    meter_id: uuid.UUID,
    staff: StaffUser,
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[BillOut]:
    """The postpaid bills of the last 12 months, newest first, by page."""
    ctx = _ctx(request, session)
    return await service.bills(ctx, gateway, staff, customer_id, meter_id, limit, cursor)


@router.post(
    "/staff/customers/{customer_id}/meters/{meter_id}/purchases/{order_number}/resend-token",
    response_model=TokenResent,
)
async def resend_token(
    customer_id: uuid.UUID,
    meter_id: uuid.UUID,
    order_number: OrderNumber,
    staff: StaffUser,
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
) -> TokenResent:
    """Send the purchase's token(s) again by SMS to the customer's phone. Audited (``token_resent``)."""
    ctx = _ctx(request, session)
    await _sms_quota(ctx, staff.user_id)
    return await service.resend_token(ctx, gateway, staff, customer_id, meter_id, order_number)


@router.post("/staff/customers/{customer_id}/unlock", response_model=CustomerBrief)
async def unlock_customer(
    customer_id: uuid.UUID, staff: StaffUser, request: Request, session: SessionDep
) -> CustomerBrief:
    """Lift a PIN lockout. Audited (``customer_unlocked``)."""
    return await service.unlock(_ctx(request, session), staff, customer_id)


@router.post(
    "/staff/customers/{customer_id}/pin-reset-code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
)
async def send_pin_reset_code(
    customer_id: uuid.UUID, staff: StaffUser, request: Request, session: SessionDep
) -> Accepted:
    """Send the customer a PIN-reset code by SMS (same code and quotas as "PIN oublié")."""
    ctx = _ctx(request, session)
    await _sms_quota(ctx, staff.user_id)
    return Accepted(expires_in=await service.send_pin_reset_code(ctx, staff, customer_id))


@router.put("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, staff: StaffUser, request: Request, session: SessionDep
) -> Response:
    """A staff member changes their own password (local accounts); their other sessions end."""
    await service.change_own_password(_ctx(request, session), staff, body.current_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/staff/colleagues", response_model=Page[Colleague])
async def colleagues(
    staff: StaffUser,
    request: Request,
    session: SessionDep,
    agency_id: Annotated[uuid.UUID | None, Query(description="Administrators only.")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[Colleague]:
    """Active staff a request can be assigned to (agents: their own agency's), by name, by page."""
    return await service.colleagues(_ctx(request, session), staff, agency_id, limit, cursor)


@router.post(
    "/staff/customers/{customer_id}/requests",
    status_code=status.HTTP_201_CREATED,
    response_model=RequestFiled,
)
async def file_request_for_customer(
    customer_id: uuid.UUID, body: RequestOnBehalf, staff: StaffUser, request: Request, session: SessionDep
) -> RequestFiled:
    """File a request for a customer at the counter; attachments are files the agent uploaded
    (``POST /files``). Audited (``request_filed_for_customer``)."""
    rid = await service.file_request(
        _ctx(request, session),
        staff,
        customer_id,
        type_code=body.type,
        meter_id=body.meter_id,
        comment=body.comment,
        attachments=body.attachments,
    )
    return RequestFiled(id=rid)
