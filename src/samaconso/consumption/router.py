"""HTTP routes of the consumption domain (mounted under /api/v1): purchases, bills, totals, summary."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from samaconso.consumption import service
from samaconso.consumption.schemas import BillOut, ContractOut, MonthlyOut, PurchaseOut, SummaryOut
from samaconso.identity.deps import CustomerUser
from samaconso.kit.deps import CursorQuery, LimitQuery, SessionDep
from samaconso.kit.pagination import Page
from samaconso.legacy.deps import GatewayDep

router = APIRouter(tags=["consumption"])

FromQuery = Annotated[date | None, Query(alias="from", description="First day (inclusive), YYYY-MM-DD.")]
ToQuery = Annotated[date | None, Query(alias="to", description="Last day (inclusive), YYYY-MM-DD.")]


@router.get("/me/meters/{meter_id}/purchases", response_model=Page[PurchaseOut])
async def purchases(
    meter_id: uuid.UUID,
    principal: CustomerUser,
    session: SessionDep,
    gateway: GatewayDep,
    request: Request,
    start: FromQuery = None,
    end: ToQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[PurchaseOut]:
    """Woyofal purchases, newest first (default: the last 12 months)."""
    return await service.list_purchases(session, gateway, principal, meter_id, start, end, cursor, limit)


@router.get("/me/meters/{meter_id}/bills", response_model=Page[BillOut])
async def bills(
    meter_id: uuid.UUID,
    principal: CustomerUser,
    session: SessionDep,
    gateway: GatewayDep,
    request: Request,
    start: FromQuery = None,
    end: ToQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[BillOut]:
    """Postpaid bills, newest first (default: the last 12 months)."""
    return await service.list_bills(session, gateway, principal, meter_id, start, end, cursor, limit)


@router.get("/me/meters/{meter_id}/contract", response_model=ContractOut)
async def contract(
    meter_id: uuid.UUID, principal: CustomerUser, session: SessionDep, gateway: GatewayDep, request: Request
) -> ContractOut:
    return await service.contract(session, gateway, principal, meter_id)


@router.get("/me/meters/{meter_id}/consumption/monthly", response_model=MonthlyOut)
async def monthly(
    meter_id: uuid.UUID,
    principal: CustomerUser,
    session: SessionDep,
    gateway: GatewayDep,
    request: Request,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> MonthlyOut:
    """kWh and FCFA per month of a year (default: this year)."""
    return await service.monthly(session, gateway, principal, meter_id, year)


@router.get("/me/meters/{meter_id}/summary", response_model=SummaryOut)
async def summary(
    meter_id: uuid.UUID, principal: CustomerUser, session: SessionDep, gateway: GatewayDep, request: Request
) -> SummaryOut:
    """Home screen: this month's kWh and FCFA, tranche reached, kWh left, last purchase or bill."""
    return await service.summary(session, gateway, principal, meter_id)
