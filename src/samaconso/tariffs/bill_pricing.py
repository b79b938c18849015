"""Price a legacy postpaid bill's tranche lines with the tariff grid in force (a tariffs service).

The legacy bill history (``Historique``) carries the kWh of each tranche (BT_CONSOM1..3) and the
bill's totals (HT, municipal tax, VAT, TTC) but no unit price and no line amount. The grid version
in force on the bill's date (the last billed day) gives them: line amount = kWh × postpaid unit
price, to the centime (half up) — the rule of :func:`samaconso.tariffs.engine.postpaid_estimate`,
so the lines add up to the bill's amount excl. tax and, with its municipal tax and VAT, to its total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.tariffs import engine
from samaconso.tariffs import repository as repo
from samaconso.tariffs.grid import tariff_code_of


@dataclass(frozen=True)
class PricedLine:
    tranche: int
    kwh: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class PricedBill:
    grid_code: str
    grid_label: str
    effective_from: date
    lines: tuple[PricedLine, ...]
    # whether another grid version took effect inside the billed period (the bill uses the one in
    # force on its date, as the legacy billing does)
    grid_changed_in_period: bool


async def price_bill_lines(
    session: AsyncSession,
    tariff_code: str | None,
    *,
    on: date,
    period_start: date | None,
    kwh_by_tranche: list[Decimal],
) -> PricedBill | None:
    """Unit price and amount of each tranche line; None when no grid of that tariff is in force."""
    version = await repo.version_in_force(session, tariff_code_of(tariff_code), on)
    if version is None:
        return None
    grid = repo.to_grid(version)
    by_position = {t.position: t for t in grid.tranches}
    lines = []
    for position, kwh in enumerate(kwh_by_tranche, start=1):
        tranche = by_position.get(position)
        if tranche is None:  # the grid has fewer tranches than the bill: the rest is the last one's
            tranche = max(grid.tranches, key=lambda t: t.position)
        price = tranche.price_postpaid
        lines.append(PricedLine(position, kwh, price, engine.cents(kwh * price)))
    changed = period_start is not None and period_start < version.effective_from <= on
    return PricedBill(
        grid_code=grid.code,
        grid_label=version.label,
        effective_from=version.effective_from,
        lines=tuple(lines),
        grid_changed_in_period=changed,
    )
