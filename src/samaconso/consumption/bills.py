"""Postpaid bills that add up: priced tranche lines, one bill by number, monthly figures spread
over the billed days.

**Rounding rule** (the legacy billing's, reproduced by ``tariffs.engine.postpaid_estimate``): each
tranche line = kWh × the postpaid unit price of the grid in force on the bill's date, to the centime
(half up); amount excl. tax = Σ lines; municipal tax = 2.5 % of it and VAT = 18 % of the lines above
the VAT threshold, each to the centime; total = lines + municipal tax + VAT. A bill has no monthly
fee. So Σ lines = ``amount_excl_tax`` and Σ lines + municipal tax + VAT = ``amount`` to the centime
on every bill the legacy source computed that way; ``other_charges`` shows any difference.

What the legacy source cannot provide: whether a bill was paid (``Historique`` has no payment
column: ``paid`` is null), and the meter's index readings (no index columns: consumption only).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.consumption.schemas import BillOut, TrancheLine
from samaconso.kit.errors import AppError
from samaconso.meters.models import Meter
from samaconso.meters.repository import MeterRef
from samaconso.tariffs.bill_pricing import price_bill_lines

# how far back a bill is looked up by number (the legacy history the app shows)
BILL_LOOKUP_DAYS = 3 * 366
# a bill covers at most this many days (the tariff engine refuses longer periods)
MAX_BILLED_DAYS = 120


def bill_not_found() -> AppError:
    return AppError(404, "bill_not_found", "Facture introuvable.", "Bill not found.")


def period_start(bill: BillOut) -> date:
    days = bill.days if bill.days and bill.days > 0 else 1
    return bill.date - timedelta(days=days - 1)


async def priced(session: AsyncSession, meter: Meter | MeterRef, bill: BillOut) -> BillOut:
    """The bill with its lines' unit price and amount, its first billed day and its other charges."""
    start = period_start(bill)
    pricing = await price_bill_lines(
        session,
        meter.tariff_code,
        on=bill.date,
        period_start=start,
        kwh_by_tranche=[Decimal(str(t.kwh)) for t in bill.tranches],
    )
    other = None
    if None not in (bill.amount_excl_tax, bill.vat, bill.municipal_tax):
        other = round(
            bill.amount - (bill.amount_excl_tax or 0) - (bill.vat or 0) - (bill.municipal_tax or 0), 2
        )
        other += 0.0  # no -0.0
    update: dict[str, object] = {"period_start": start, "other_charges": other}
    if pricing is not None:
        update["tariff"] = pricing.grid_code
        update["tranches"] = [
            TrancheLine(
                tranche=ln.tranche,
                kwh=float(ln.kwh),
                unit_price=float(ln.unit_price),
                amount=float(ln.amount),
            )
            for ln in pricing.lines
        ]
    return bill.model_copy(update=update)


async def priced_page(session: AsyncSession, meter: Meter, bills: list[BillOut]) -> list[BillOut]:
    return [await priced(session, meter, b) for b in bills]


@dataclass(frozen=True)
class BillDocument:
    meter: Meter
    bill: BillOut
    holder: str | None
    address: str | None
    partner: str | None
    agency: str | None


# ------------------------------------------------------------------------------ monthly spreading
def spread_by_month(bills: list[BillOut], year: int) -> dict[int, tuple[float, float]]:
    """kWh and FCFA per month of ``year``: each bill spread evenly over the days it covers (a 60-day
    bill dated 10 March puts 10/60 in March, 28/60 in February and 22/60 in January)."""
    kwh = [0.0] * 13
    amount = [0.0] * 13
    for bill in bills:
        days = min(bill.days, MAX_BILLED_DAYS) if bill.days and bill.days > 0 else 1
        start = bill.date - timedelta(days=days - 1)
        day = max(start, date(year, 1, 1))
        last = min(bill.date, date(year, 12, 31))
        while day <= last:
            month_end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
            stop = min(month_end, last)
            share = ((stop - day).days + 1) / days
            kwh[day.month] += bill.kwh * share
            amount[day.month] += bill.amount * share
            day = stop + timedelta(days=1)
    return {m: (round(kwh[m], 2), round(amount[m], 2)) for m in range(1, 13)}


def bills_window(year: int) -> tuple[date, date]:
    """Bill dates whose period can touch ``year``: from 1 January to 120 days after 31 December."""
    return date(year, 1, 1), date(year, 12, 31) + timedelta(days=MAX_BILLED_DAYS)
