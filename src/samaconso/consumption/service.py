"""Purchases, bills, monthly totals and the home summary, read from the legacy systems.

Only the caller's ACTIVE links give access (``meters.service.active_meter``: 404 otherwise). The
legacy gateway answers typed records and caches them (purchases, bills, totals 5 min; customer data
1 h); a legacy database that is down or slow makes these functions raise ``AppError(503)`` with
``Retry-After`` (see the gateway). This domain uses the tariffs service (tranche of the month),
never the other way round: the simulator reads this month's purchases from the gateway itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.consumption import bills as billing
from samaconso.consumption.schemas import (
    BillOut,
    ContractOut,
    MonthlyOut,
    MonthTotal,
    PurchaseOut,
    SummaryOut,
    TrancheLine,
    TranchePeriod,
)
from samaconso.identity.principal import Principal
from samaconso.kit.errors import AppError
from samaconso.kit.pagination import Page, slice_sorted
from samaconso.legacy import records
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters import service as meters
from samaconso.meters.models import Meter, MeterKind
from samaconso.meters.repository import MeterRef
from samaconso.tariffs import service as tariffs

DEFAULT_PERIOD_DAYS = 365
MAX_PERIOD_DAYS = 3 * 366


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _lines(lines: tuple[records.TrancheLine, ...], *, priced: bool) -> list[TrancheLine]:
    if priced:
        return [
            TrancheLine(tranche=t.tranche, kwh=t.kwh, unit_price=t.unit_price, amount=t.amount) for t in lines
        ]
    return [TrancheLine(tranche=t.tranche, kwh=t.kwh) for t in lines]


def purchase_out(p: records.PurchaseRecord) -> PurchaseOut:
    return PurchaseOut(
        order_number=p.order_number,
        date=p.date,
        amount=p.amount,
        kwh=p.kwh,
        tranches=_lines(p.tranches, priced=True),
        amount_excl_tax=p.amount_excl_tax,
        vat=p.vat,
        municipal_tax=p.municipal_tax,
        monthly_fee=p.monthly_fee,
        debt_recovered=p.debt_recovered,
        debt_remaining=p.debt_remaining,
        rounding=p.rounding,
        tokens=list(p.tokens),
        channel=p.channel,
        operator=p.operator,
    )


def bill_out(b: records.BillRecord) -> BillOut:
    return BillOut(
        number=b.number,
        date=b.date,
        due_date=b.due_date,
        days=b.days,
        billing_month=b.billing_month,
        billing_year=b.billing_year,
        kwh=b.kwh,
        tranches=_lines(b.tranches, priced=False),
        amount_excl_tax=b.amount_excl_tax,
        vat=b.vat,
        municipal_tax=b.municipal_tax,
        amount=b.amount,
        meter_serial=b.meter_serial,
    )


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    last = end or _utc_today()
    first = start or (last - timedelta(days=DEFAULT_PERIOD_DAYS))
    if first > last:
        raise AppError(
            400,
            "invalid_period",
            "La date de début suit la date de fin.",
            "The start date is after the end date.",
        )
    if (last - first).days > MAX_PERIOD_DAYS:
        raise AppError(
            400,
            "period_too_long",
            "Période trop longue (3 ans au plus).",
            "Period too long (3 years at most).",
        )
    return first, last


def _require_kind(meter: Meter | MeterRef, kind: MeterKind) -> None:
    if meter.kind != kind:
        if kind == MeterKind.prepaid:
            raise AppError(
                404,
                "not_prepaid",
                "Ce compteur n'est pas un compteur Woyofal.",
                "This is not a Woyofal meter.",
            )
        raise AppError(
            404,
            "not_postpaid",
            "Ce compteur n'est pas un compteur postpayé.",
            "This is not a postpaid meter.",
        )


def _keyset(items: list[Any], key: Any, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    """Items sorted newest first; keep those strictly after the cursor's (date, number)."""
    return slice_sorted(items, key, cursor, limit)


async def list_purchases(
    session: AsyncSession,
    gateway: LegacyGateway,
    principal: Principal,
    meter_id: uuid.UUID,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page[PurchaseOut]:
    meter = await meters.active_meter_ref(session, principal, meter_id)
    _require_kind(meter, MeterKind.prepaid)
    first, last = _period(start, end)
    rows = await gateway.purchases(meter.number, meter.poc or "", first, last)
    items = sorted(
        (purchase_out(r) for r in rows), key=lambda p: (p.date, p.order_number or ""), reverse=True
    )
    page, next_cursor = _keyset(items, lambda p: (p.date.isoformat(), p.order_number or ""), cursor, limit)
    return Page[PurchaseOut](items=page, next_cursor=next_cursor)


async def list_bills(
    session: AsyncSession,
    gateway: LegacyGateway,
    principal: Principal,
    meter_id: uuid.UUID,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page[BillOut]:
    meter = await meters.active_meter(session, principal, meter_id)
    _require_kind(meter, MeterKind.postpaid)
    first, last = _period(start, end)
    rows = await gateway.bills(meter.number, first, last)
    items = sorted((bill_out(r) for r in rows), key=lambda b: (b.date, b.number), reverse=True)
    page, next_cursor = _keyset(items, lambda b: (b.date.isoformat(), b.number), cursor, limit)
    return Page[BillOut](items=await billing.priced_page(session, meter, page), next_cursor=next_cursor)


async def bill_document(
    session: AsyncSession,
    gateway: LegacyGateway,
    principal: Principal,
    meter_id: uuid.UUID,
    number: str,
) -> billing.BillDocument:
    """One of the caller's bills by its number (the last 3 years), priced, for its PDF invoice."""
    meter = await meters.active_meter(session, principal, meter_id)
    _require_kind(meter, MeterKind.postpaid)
    if not number.isdigit() or len(number) > 20:
        raise billing.bill_not_found()
    today = _utc_today()
    first = today - timedelta(days=billing.BILL_LOOKUP_DAYS)
    found = next((b for b in await gateway.bills(meter.number, first, today) if b.number == number), None)
    if found is None:
        raise billing.bill_not_found()
    details = await gateway.contract(meter.number)
    return billing.BillDocument(
        meter=meter,
        bill=await billing.priced(session, meter, bill_out(found)),
        holder=(details.holder if details else None) or meter.customer_name,
        address=(details.address if details else None) or meter.address,
        partner=(details.partner if details else None) or meter.partner,
        agency=meter.legacy_agency,
    )


async def contract(
    session: AsyncSession, gateway: LegacyGateway, principal: Principal, meter_id: uuid.UUID
) -> ContractOut:
    meter = await meters.active_meter(session, principal, meter_id)
    _require_kind(meter, MeterKind.postpaid)
    number = meter.number
    details = await gateway.contract(number)
    email = None
    if meter.legacy_phone:
        try:
            accounts = await gateway.sap_accounts((meter.legacy_phone or "")[4:])
        except AppError:  # BI_ODS down: the contract still answers, without the e-mail
            accounts = []
        email = next((a.email for a in accounts if a.contract_account == number and a.email), None)
    return ContractOut(
        contract_account=number,
        holder=(details.holder if details else None) or meter.customer_name,
        address=(details.address if details else None) or meter.address,
        partner=(details.partner if details else None) or meter.partner,
        tariff=(details.tariff if details else None) or meter.tariff_code,
        agency=meter.legacy_agency,
        email=email,
    )


async def monthly(
    session: AsyncSession,
    gateway: LegacyGateway,
    principal: Principal,
    meter_id: uuid.UUID,
    year: int | None,
) -> MonthlyOut:
    meter = await meters.active_meter(session, principal, meter_id)
    year = year or _utc_today().year
    number, poc = meter.number, meter.poc or ""
    if meter.kind == MeterKind.prepaid:

        async def prepaid_year(y: int) -> dict[int, tuple[float, float]]:
            by_month = {t.month: t for t in await gateway.monthly_purchases(number, poc, y)}
            return {
                m: (by_month[m].kwh, by_month[m].amount) if m in by_month else (0.0, 0.0)
                for m in range(1, 13)
            }

        this_year, last_year = await prepaid_year(year), await prepaid_year(year - 1)
    else:
        # each bill spread over the days it covers (a 60-day bill is not all in its bill's month)
        first, _ = billing.bills_window(year - 1)
        _, last = billing.bills_window(year)
        bills = [bill_out(r) for r in await gateway.bills(number, first, last)]
        this_year, last_year = billing.spread_by_month(bills, year), billing.spread_by_month(bills, year - 1)
    months = [
        MonthTotal(
            month=m,
            kwh=this_year[m][0],
            amount=this_year[m][1],
            last_year_kwh=last_year[m][0],
            last_year_amount=last_year[m][1],
        )
        for m in range(1, 13)
    ]
    return MonthlyOut(meter_id=meter.id, year=year, months=months)


@dataclass(frozen=True)
class MonthToDate:
    """A prepaid meter's purchases in the current calendar month (tranches reset every month)."""

    meter_number: str
    year: int
    month: int
    kwh: float  # kWh already bought this month
    amount: float  # FCFA paid this month
    purchases: list[PurchaseOut]  # newest first

    @property
    def monthly_fee_paid(self) -> bool:
        """The 429 FCFA fee is taken at the first purchase of the month."""
        return bool(self.purchases)


async def month_to_date(
    gateway: LegacyGateway,
    *,
    meter_number: str,
    poc: str,
    today: date | None = None,
) -> MonthToDate:
    """This month's prepaid purchases of a meter (no authorization: callers check the link)."""
    day = today or _utc_today()
    first = day.replace(day=1)
    rows = await gateway.purchases(meter_number, poc, first, day)
    purchases = sorted(
        (purchase_out(r) for r in rows), key=lambda p: (p.date, p.order_number or ""), reverse=True
    )
    return MonthToDate(
        meter_number=meter_number,
        year=day.year,
        month=day.month,
        kwh=round(sum(p.kwh for p in purchases), 2),
        amount=round(sum(p.amount for p in purchases), 2),
        purchases=purchases,
    )


async def month_to_date_for_meter(
    session: AsyncSession,
    gateway: LegacyGateway,
    principal: Principal,
    meter_id: uuid.UUID,
) -> MonthToDate:
    """:func:`month_to_date` for one of the caller's active prepaid meters (404 otherwise)."""
    meter = await meters.active_meter_ref(session, principal, meter_id)
    _require_kind(meter, MeterKind.prepaid)
    return await month_to_date(gateway, meter_number=meter.number, poc=meter.poc or "")


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def _tranche_fields(status: tariffs.TrancheStatus | None) -> tuple[int | None, float | None]:
    """The summary's (tranche, kWh left) from the tariff grid in force (None, None without a grid)."""
    if status is None:
        return None, None
    left = status.kwh_left_in_tranche
    return status.tranche, None if left is None else round(float(left), 2)


async def summary(
    session: AsyncSession, gateway: LegacyGateway, principal: Principal, meter_id: uuid.UUID
) -> SummaryOut:
    meter = await meters.active_meter_ref(session, principal, meter_id)
    today = _utc_today()
    if meter.kind == MeterKind.prepaid:
        mtd = await month_to_date(gateway, meter_number=meter.number, poc=meter.poc or "", today=today)
        last = mtd.purchases[0] if mtd.purchases else None
        if last is None:
            recent = await gateway.latest_purchases(meter.number, meter.poc or "")
            last = max((purchase_out(r) for r in recent), key=lambda p: p.date, default=None)
        status = await tariffs.tranche_status(session, meter.tariff_code, _dec(mtd.kwh), on=today)
        tranche, kwh_left = _tranche_fields(status)
        return SummaryOut(
            meter_id=meter.id,
            kind=meter.kind,
            year=today.year,
            month=today.month,
            kwh_this_month=mtd.kwh,
            amount_this_month=mtd.amount,
            purchases_this_month=len(mtd.purchases),
            monthly_fee_paid=mtd.monthly_fee_paid,
            tranche=tranche,
            kwh_left_in_tranche=kwh_left,
            tranche_period=TranchePeriod(start=today.replace(day=1), end=today, kwh=mtd.kwh),
            last_purchase=last,
        )
    number = meter.number
    # the last ~6 months through the full period query (it carries the per-tranche kWh)
    recent_bills = await gateway.bills(number, today - timedelta(days=186), today)
    bills = sorted((bill_out(r) for r in recent_bills), key=lambda b: (b.date, b.number), reverse=True)
    last_bill = bills[0] if bills else None
    # this month's share of the bills that cover its days (0 until a bill covers them); the
    # tranche is the last bill's, over the period that bill covers, stated next to it
    this_month = billing.spread_by_month(bills, today.year)[today.month]
    status = await tariffs.tranche_status(
        session,
        meter.tariff_code,
        _dec(last_bill.kwh if last_bill else 0.0),
        on=last_bill.date if last_bill else today,
        days=(last_bill.days or 60) if last_bill else 30,
    )
    tranche, kwh_left = _tranche_fields(status)
    if last_bill is not None:
        last_bill = await billing.priced(session, meter, last_bill)
    return SummaryOut(
        meter_id=meter.id,
        kind=meter.kind,
        year=today.year,
        month=today.month,
        kwh_this_month=this_month[0],
        amount_this_month=this_month[1],
        tranche=tranche,
        kwh_left_in_tranche=kwh_left,
        tranche_period=TranchePeriod(
            start=last_bill.period_start or last_bill.date, end=last_bill.date, kwh=last_bill.kwh
        )
        if last_bill
        else None,
        last_bill=last_bill,
    )
