"""HTTP routes of the consumption domain (mounted under /api/v1): purchases, bills, totals, summary."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Query, Request, Response

from samaconso.consumption import alerts, all_meters, bill_pdf, service
from samaconso.consumption.schemas import (
    AlertOut,
    AlertsIn,
    BillOut,
    ContractOut,
    MonthlyOut,
    MyPurchaseOut,
    PurchaseOut,
    SummaryOut,
)
from samaconso.identity.deps import CustomerUser
from samaconso.kit.deps import CursorQuery, DatabaseDep, LimitQuery, SessionDep
from samaconso.kit.errors import AppError
from samaconso.kit.pagination import Page
from samaconso.kit.transaction import after_commit
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


@router.get(
    "/me/meters/{meter_id}/bills/{bill_id}/pdf",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The bill as a PDF invoice.",
        }
    },
)
async def bill_pdf_invoice(
    meter_id: uuid.UUID,
    bill_id: Annotated[
        str, Path(description="The bill's number (`number` in the bills list).", max_length=20)
    ],
    principal: CustomerUser,
    session: SessionDep,
    gateway: GatewayDep,
    request: Request,
) -> Response:
    """One bill as a French PDF invoice: customer, contract, period, consumption, tranche lines, taxes, total."""
    doc = await service.bill_document(session, gateway, principal, meter_id, bill_id)
    content = await anyio.to_thread.run_sync(bill_pdf.render, doc)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="facture-{doc.bill.number}.pdf"'},
    )


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


@router.get("/me/purchases", response_model=Page[MyPurchaseOut])
async def all_purchases(
    principal: CustomerUser,
    session: SessionDep,
    gateway: GatewayDep,
    request: Request,
    start: FromQuery = None,
    end: ToQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[MyPurchaseOut]:
    """Woyofal purchases of all my meters, newest first (default: the last 12 months)."""
    return await all_meters.list_all_purchases(session, gateway, principal, start, end, cursor, limit)


@router.put("/me/alerts", response_model=list[AlertOut])
async def put_alerts(
    body: AlertsIn, principal: CustomerUser, session: SessionDep, gateway: GatewayDep, db: DatabaseDep
) -> list[AlertOut]:
    """Set my alerts (replaces them all): a monthly kWh or FCFA threshold per meter, prepaid or
    postpaid; each fires once per month and meter when the month crosses it (checked for my alerts
    right after they are saved, then by the periodic scan)."""
    saved = await alerts.put_alerts(session, principal, body.alerts)

    async def check_now() -> None:
        try:
            await alerts.scan_alerts(db, gateway, user_id=principal.user_id)
        except AppError:  # a legacy database is down: the periodic scan will catch up
            pass

    after_commit(session, check_now)
    return saved


@router.get("/me/alerts", response_model=Page[AlertOut])
async def list_alerts(
    principal: CustomerUser, session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 20
) -> Page[AlertOut]:
    return await alerts.list_alerts(session, principal, cursor, limit)
