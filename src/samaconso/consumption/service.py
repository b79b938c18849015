"""Purchases, bills, monthly totals and the home summary, read from the legacy systems.

Only the caller's ACTIVE links give access (``meters.service.active_meter``: 404 otherwise). Legacy
answers are cached in Redis for 5 minutes (purchases, bills, totals); a legacy database that is down
or slow makes these functions raise ``AppError(503)`` with ``Retry-After`` (see the gateway).

Other domains (the tariffs simulator) call :func:`month_to_date` to learn how many kWh a prepaid
meter already bought this calendar month and whether the 429 FCFA monthly fee is already paid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.consumption.schemas import (
    BillOut,
    ContractOut,
    MonthlyOut,
    MonthTotal,
    PurchaseOut,
    SummaryOut,
    TrancheLine,
)
from samaconso.identity.deps import Principal
from samaconso.kit.cache import Cache
from samaconso.kit.errors import AppError
from samaconso.kit.pagination import Page, decode_cursor, encode_cursor
from samaconso.legacy.gateway import LegacyGateway, Row
from samaconso.meters import service as meters
from samaconso.meters.models import Meter, MeterKind
from samaconso.tariffs import service as tariffs

CONSUMPTION_TTL_S = 300
CUSTOMER_DATA_TTL_S = 3600
DEFAULT_PERIOD_DAYS = 365
MAX_PERIOD_DAYS = 3 * 366


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _dt(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    # legacy datetimes are Dakar local time, which is UTC all year round
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _d(value: Any) -> date | None:
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _utc_today() -> date:
    return datetime.now(UTC).date()


def purchase_out(row: Row) -> PurchaseOut:
    paid = row.get("MONTANT_RECU")
    if paid is None:
        paid = row.get("MONTANT_TTC") or 0.0
    tokens = str(row.get("TOKEN") or "").replace(";", " ").replace(",", " ").split()
    ht, vat, tco, ttc = (
        _num(row.get(k)) for k in ("MONTANT_HT", "MONTANT_TVA", "MONTANT_TCO", "MONTANT_TTC")
    )
    fee = None
    if None not in (ht, vat, tco, ttc):
        # "+ 0.0" turns the -0.0 that float subtraction can leave into 0.0
        fee = round((ttc or 0) - (ht or 0) - (vat or 0) - (tco or 0), 2) + 0.0
    return PurchaseOut(
        order_number=row.get("NUMERO_COMMANDE"),
        date=_dt(row["DATE_TRANSACTION"]),
        amount=float(paid),
        kwh=float(row.get("ENERGIE_VENDUE") or 0.0),
        tranches=[
            TrancheLine(
                tranche=i,
                kwh=float(row.get(f"ENERGIE{i}") or 0.0),
                unit_price=_num(row.get(f"PRIX{i}")),
                amount=_num(row.get(f"MONTANT{i}")),
            )
            for i in (1, 2, 3)
        ],
        amount_excl_tax=ht,
        vat=vat,
        municipal_tax=tco,
        monthly_fee=fee,
        debt_recovered=_num(row.get("DETTES")),
        debt_remaining=_num(row.get("SOLDE_DETTE")),
        rounding=_num(row.get("ARRONDI")),
        tokens=tokens,
        channel=row.get("NOM_AGENCE_ENCAISSEMENT"),
        operator=row.get("NOM_OPERATEUR"),
    )


def bill_out(row: Row) -> BillOut:
    tranches = [
        TrancheLine(tranche=i, kwh=float(row.get(f"CONSO_TRANCHE{i}") or row.get(f"BT_CONSOM{i}") or 0.0))
        for i in (1, 2, 3)
    ]
    return BillOut(
        number=str(row.get("numFact")),
        date=_d(row["DATFACT"]),
        due_date=_d(row.get("DATE_ECHEANCE") or row.get("DATEECH")),
        days=row.get("NBJRS_"),
        billing_month=row.get("moisFacturation"),
        billing_year=row.get("anneeFacturation"),
        kwh=float(row.get("BT_CONSTOT") or row.get("CONSOMMATION TOTALE") or 0.0),
        tranches=tranches,
        amount_excl_tax=_num(row.get("BT_MONT_HT")),
        vat=_num(row.get("MONT_TVA")),
        municipal_tax=_num(row.get("BT_MONT_TCO")),
        amount=float(row.get("BT_MONT_TTC") or row.get("MONTANT") or 0.0),
        meter_serial=row.get("NOCPTEUR"),
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


def _require_kind(meter: Meter, kind: MeterKind) -> None:
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
    after = decode_cursor(cursor, 2)
    if after is not None:
        mark = (str(after[0]), str(after[1]))
        items = [i for i in items if key(i) < mark]
    page = items[:limit]
    more = len(items) > limit
    return page, (encode_cursor(*key(page[-1])) if more and page else None)


async def _purchases_between(
    gateway: LegacyGateway, cache: Cache | None, meter: str, poc: str, first: date, last: date
) -> list[Row]:
    start = datetime.combine(first, time.min)
    end = datetime.combine(last, time.max).replace(microsecond=0)
    if cache is None:
        return await gateway.purchases_between(meter, poc, start, end)
    key = f"legacy:purchases:{meter}:{poc}:{first.isoformat()}:{last.isoformat()}"
    return await cache.get_or_load(
        key, CONSUMPTION_TTL_S, lambda: gateway.purchases_between(meter, poc, start, end)
    )


async def list_purchases(
    session: AsyncSession,
    gateway: LegacyGateway,
    cache: Cache,
    principal: Principal,
    meter_id: uuid.UUID,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page[PurchaseOut]:
    meter = await meters.active_meter(session, principal, meter_id)
    _require_kind(meter, MeterKind.prepaid)
    first, last = _period(start, end)
    rows = await _purchases_between(gateway, cache, meter.number, meter.poc or "", first, last)
    items = sorted(
        (purchase_out(r) for r in rows), key=lambda p: (p.date, p.order_number or ""), reverse=True
    )
    page, next_cursor = _keyset(items, lambda p: (p.date.isoformat(), p.order_number or ""), cursor, limit)
    return Page[PurchaseOut](items=page, next_cursor=next_cursor)


async def _bills_between(
    gateway: LegacyGateway, cache: Cache, contract: str, first: date, last: date
) -> list[Row]:
    key = f"legacy:bills:{contract}:{first.isoformat()}:{last.isoformat()}"
    return await cache.get_or_load(
        key, CONSUMPTION_TTL_S, lambda: gateway.bills_between(contract, first, last)
    )


async def list_bills(
    session: AsyncSession,
    gateway: LegacyGateway,
    cache: Cache,
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
    rows = await _bills_between(gateway, cache, meter.number, first, last)
    items = sorted((bill_out(r) for r in rows), key=lambda b: (b.date, b.number), reverse=True)
    page, next_cursor = _keyset(items, lambda b: (b.date.isoformat(), b.number), cursor, limit)
    return Page[BillOut](items=page, next_cursor=next_cursor)


async def contract(
    session: AsyncSession, gateway: LegacyGateway, cache: Cache, principal: Principal, meter_id: uuid.UUID
) -> ContractOut:
    meter = await meters.active_meter(session, principal, meter_id)
    _require_kind(meter, MeterKind.postpaid)
    number = meter.number

    async def load() -> dict[str, Any]:
        details = await gateway.contract_details(number) or {}
        return {"details": details}

    data = await cache.get_or_load(f"legacy:contract:{number}", CUSTOMER_DATA_TTL_S, load)
    details = data.get("details") or {}
    email = None
    if meter.legacy_phone:
        try:
            sap = await cache.get_or_load(
                f"legacy:sap:{meter.legacy_phone}",
                CUSTOMER_DATA_TTL_S,
                lambda: gateway.sap_accounts_by_phone((meter.legacy_phone or "")[4:]),
            )
        except AppError:  # BI_ODS down: the contract still answers, without the e-mail
            sap = []
        email = next(
            (r.get("EMAIL") for r in sap if r.get("COMPTE CONTRAT") == number and r.get("EMAIL")), None
        )
    return ContractOut(
        contract_account=number,
        holder=details.get("nompres") or meter.customer_name,
        address=details.get("add_liv") or meter.address,
        partner=details.get("numpartenaire") or meter.partner,
        tariff=details.get("tarif") or meter.tariff_code,
        agency=meter.legacy_agency,
        email=email,
    )


async def monthly(
    session: AsyncSession,
    gateway: LegacyGateway,
    cache: Cache,
    principal: Principal,
    meter_id: uuid.UUID,
    year: int | None,
) -> MonthlyOut:
    meter = await meters.active_meter(session, principal, meter_id)
    year = year or _utc_today().year
    number, poc = meter.number, meter.poc or ""
    if meter.kind == MeterKind.prepaid:
        rows = await cache.get_or_load(
            f"legacy:monthly:p:{number}:{poc}:{year}",
            CONSUMPTION_TTL_S,
            lambda: gateway.purchases_monthly(number, poc, year),
        )
    else:
        rows = await cache.get_or_load(
            f"legacy:monthly:b:{number}:{year}",
            CONSUMPTION_TTL_S,
            lambda: gateway.bills_monthly(number, year),
        )
    by_month = {int(r["Mois"]): r for r in rows}
    months = [
        MonthTotal(
            month=m,
            kwh=float(by_month[m]["Total énergie"] or 0) if m in by_month else 0.0,
            amount=float(by_month[m]["Total TTC"] or 0) if m in by_month else 0.0,
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
    cache: Cache | None,
    *,
    meter_number: str,
    poc: str,
    today: date | None = None,
) -> MonthToDate:
    """This month's prepaid purchases of a meter (no authorization: callers check the link)."""
    day = today or _utc_today()
    first = day.replace(day=1)
    rows = await _purchases_between(gateway, cache, meter_number, poc, first, day)
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
    cache: Cache | None,
    principal: Principal,
    meter_id: uuid.UUID,
) -> MonthToDate:
    """:func:`month_to_date` for one of the caller's active prepaid meters (404 otherwise)."""
    meter = await meters.active_meter(session, principal, meter_id)
    _require_kind(meter, MeterKind.prepaid)
    return await month_to_date(gateway, cache, meter_number=meter.number, poc=meter.poc or "")


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def _tranche_fields(status: tariffs.TrancheStatus | None) -> tuple[int | None, float | None]:
    """The summary's (tranche, kWh left) from the tariff grid in force (None, None without a grid)."""
    if status is None:
        return None, None
    left = status.kwh_left_in_tranche
    return status.tranche, None if left is None else round(float(left), 2)


async def summary(
    session: AsyncSession, gateway: LegacyGateway, cache: Cache, principal: Principal, meter_id: uuid.UUID
) -> SummaryOut:
    meter = await meters.active_meter(session, principal, meter_id)
    today = _utc_today()
    if meter.kind == MeterKind.prepaid:
        mtd = await month_to_date(gateway, cache, meter_number=meter.number, poc=meter.poc or "", today=today)
        last = mtd.purchases[0] if mtd.purchases else None
        if last is None:
            number, poc = meter.number, meter.poc or ""
            recent = await cache.get_or_load(
                f"legacy:purchases:top:{number}:{poc}",
                CONSUMPTION_TTL_S,
                lambda: gateway.purchases_top(number, poc),
            )
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
            last_purchase=last,
        )
    number = meter.number
    # the last ~6 months through the full period query (it carries the per-tranche kWh)
    recent_bills = await _bills_between(gateway, cache, number, today - timedelta(days=186), today)
    bills = sorted((bill_out(r) for r in recent_bills), key=lambda b: (b.date, b.number), reverse=True)
    this_month = [b for b in bills if b.date.year == today.year and b.date.month == today.month]
    last_bill = bills[0] if bills else None
    status = await tariffs.tranche_status(
        session,
        meter.tariff_code,
        _dec(last_bill.kwh if last_bill else 0.0),
        on=last_bill.date if last_bill else today,
        days=(last_bill.days or 60) if last_bill else 30,
    )
    tranche, kwh_left = _tranche_fields(status)
    return SummaryOut(
        meter_id=meter.id,
        kind=meter.kind,
        year=today.year,
        month=today.month,
        kwh_this_month=round(sum(b.kwh for b in this_month), 2),
        amount_this_month=round(sum(b.amount for b in this_month), 2),
        tranche=tranche,
        kwh_left_in_tranche=kwh_left,
        last_bill=last_bill,
    )
