"""The low-voltage domestic (DPP) tariff rules the simulated source follows (DOMAIN §5).

A small, self-contained routine for the data generator (the simulated vending records). The
product's tariff engine lives in ``samaconso.tariffs`` (the home summary reads its grids); this
module is independent of it on purpose, and only has to produce purchases
and bills that look like Senelec's: tranche split, 2.5 % municipal tax, VAT above 250 kWh/month,
429 FCFA monthly fee on the first purchase of the month. Grids are dated data, not constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
MONTHLY_FEE = Decimal("429")
MUNICIPAL_TAX_RATE = Decimal("0.025")
VAT_RATE = Decimal("0.18")
TRANCHE_BOUNDS_KWH = (Decimal(150), Decimal(250))  # monthly kWh where tranche 1 and 2 end


@dataclass(frozen=True)
class Grid:
    effective_from: date
    t1: Decimal  # FCFA/kWh HT, postpaid and prepaid
    t2: Decimal
    t3_postpaid: Decimal  # prepaid tranche 3 = t2 + VAT instead


GRIDS: tuple[Grid, ...] = (
    Grid(date(2023, 1, 1), Decimal("91.17"), Decimal("136.49"), Decimal("149.06")),
    Grid(date(2026, 1, 1), Decimal("82.00"), Decimal("136.49"), Decimal("159.36")),
)


def grid_at(day: date) -> Grid:
    current = GRIDS[0]
    for grid in GRIDS:
        if grid.effective_from <= day:
            current = grid
    return current


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TrancheLine:
    kwh: Decimal
    price: Decimal  # HT FCFA/kWh
    amount: Decimal  # HT FCFA


@dataclass(frozen=True)
class PrepaidSale:
    amount_received: Decimal
    monthly_fee: Decimal
    debt_recovered: Decimal
    tranches: tuple[TrancheLine, TrancheLine, TrancheLine]
    amount_ht: Decimal
    municipal_tax: Decimal
    vat: Decimal
    amount_ttc: Decimal  # HT + TCO + VAT + monthly fee
    rounding: Decimal  # what the amount could not buy (less than 0.1 kWh)

    @property
    def kwh(self) -> Decimal:
        return sum((t.kwh for t in self.tranches), Decimal(0))


def prepaid_sale(
    amount: Decimal,
    *,
    day: date,
    kwh_month_to_date: Decimal,
    monthly_fee_paid: bool,
    debt_to_recover: Decimal = Decimal(0),
) -> PrepaidSale:
    """Split a Woyofal purchase of ``amount`` FCFA into tranches, taxes and fee."""
    grid = grid_at(day)
    fee = Decimal(0) if monthly_fee_paid else MONTHLY_FEE
    debt = min(debt_to_recover, _money(amount * Decimal("0.10"))) if debt_to_recover > 0 else Decimal(0)
    money = amount - fee - debt
    bounds = [(Decimal(0), TRANCHE_BOUNDS_KWH[0]), TRANCHE_BOUNDS_KWH, (TRANCHE_BOUNDS_KWH[1], None)]
    prices = (grid.t1, grid.t2, grid.t2)
    vats = (Decimal(0), Decimal(0), VAT_RATE)
    lines: list[TrancheLine] = []
    used = kwh_month_to_date
    for (low, high), price, vat in zip(bounds, prices, vats, strict=True):
        unit_cost = price * (1 + MUNICIPAL_TAX_RATE + vat)
        if money <= 0 or (high is not None and used >= high):
            lines.append(TrancheLine(Decimal(0), price, Decimal(0)))
            continue
        affordable = (money / unit_cost).quantize(TENTH, rounding=ROUND_DOWN)
        capacity = None if high is None else high - max(used, low)
        kwh = affordable if capacity is None else min(affordable, capacity)
        kwh = max(kwh, Decimal(0))
        money -= kwh * unit_cost
        used += kwh
        lines.append(TrancheLine(kwh, price, _money(kwh * price)))
    ht = sum((t.amount for t in lines), Decimal(0))
    tco = _money(ht * MUNICIPAL_TAX_RATE)
    vat_amount = _money(lines[2].amount * VAT_RATE)
    ttc = ht + tco + vat_amount + fee
    return PrepaidSale(
        amount_received=amount,
        monthly_fee=fee,
        debt_recovered=debt,
        tranches=(lines[0], lines[1], lines[2]),
        amount_ht=ht,
        municipal_tax=tco,
        vat=vat_amount,
        amount_ttc=ttc,
        rounding=amount - ttc - debt,
    )


@dataclass(frozen=True)
class PostpaidBill:
    kwh: tuple[Decimal, Decimal, Decimal]
    amount_ht: Decimal
    municipal_tax: Decimal
    vat: Decimal
    amount_ttc: Decimal


def postpaid_bill(total_kwh: Decimal, *, days: int, day: date) -> PostpaidBill:
    """Split a postpaid bill's kWh into tranches whose widths scale with the billed days."""
    grid = grid_at(day)
    scale = Decimal(days) / Decimal(30)
    w1 = TRANCHE_BOUNDS_KWH[0] * scale
    w2 = (TRANCHE_BOUNDS_KWH[1] - TRANCHE_BOUNDS_KWH[0]) * scale
    c1 = min(total_kwh, w1).quantize(CENT, rounding=ROUND_DOWN)
    c2 = min(total_kwh - c1, w2).quantize(CENT, rounding=ROUND_DOWN)
    c3 = total_kwh - c1 - c2
    a1, a2, a3 = _money(c1 * grid.t1), _money(c2 * grid.t2), _money(c3 * grid.t3_postpaid)
    ht = a1 + a2 + a3
    tco = _money(ht * MUNICIPAL_TAX_RATE)
    vat = _money(a3 * VAT_RATE)
    return PostpaidBill((c1, c2, c3), ht, tco, vat, ht + tco + vat)


@dataclass(frozen=True)
class TrancheStatus:
    tranche: int  # 1, 2 or 3
    kwh_left_in_tranche: float | None  # kWh before the next tranche starts (None in the last one)


def tranche_status(kwh: float, *, days: int = 30) -> TrancheStatus:
    """Which tranche a period's consumption reached (widths scale with the period's days)."""
    scale = days / 30
    t1_end = float(TRANCHE_BOUNDS_KWH[0]) * scale
    t2_end = float(TRANCHE_BOUNDS_KWH[1]) * scale
    if kwh <= t1_end:
        return TrancheStatus(1, round(t1_end - kwh, 2))
    if kwh <= t2_end:
        return TrancheStatus(2, round(t2_end - kwh, 2))
    return TrancheStatus(3, None)
