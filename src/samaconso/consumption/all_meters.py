"""Views across all of the caller's meters: every Woyofal purchase, newest first."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.consumption import service
from samaconso.consumption.schemas import MyPurchaseOut
from samaconso.identity.principal import Principal
from samaconso.kit.pagination import Page
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters import service as meters
from samaconso.meters.models import MeterKind


async def list_all_purchases(
    session: AsyncSession,
    gateway: LegacyGateway,
    principal: Principal,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page[MyPurchaseOut]:
    """Purchases of every prepaid meter I read (active links), newest first (default: 12 months).
    Keyset on (date, order number), the same as one meter's list."""
    first, last = service._period(start, end)
    items: list[MyPurchaseOut] = []
    for meter in await meters.my_active_meters(session, principal, MeterKind.prepaid):
        rows = await gateway.purchases(meter.number, meter.poc or "", first, last)
        for row in rows:
            p = service.purchase_out(row)
            items.append(MyPurchaseOut(**p.model_dump(), meter_id=meter.id, meter_number=meter.number))
    items.sort(key=lambda p: (p.date, p.order_number or ""), reverse=True)
    page, next_cursor = service._keyset(
        items, lambda p: (p.date.isoformat(), p.order_number or ""), cursor, limit
    )
    return Page[MyPurchaseOut](items=page, next_cursor=next_cursor)
