"""Tariff engine: pure functions on ``Decimal``, no I/O, no clock.

A :class:`TariffGrid` is one version of a tariff code (tranches, monthly fee, municipal tax, VAT
rule). The functions answer the Woyofal questions ("how many kWh for X FCFA?", "how much for Y
kWh?") and estimate a postpaid bill.

Rounding rule (stated once, used everywhere; Senelec's published thresholds follow from it):

* kWh are counted in tenths (the 0.1 kWh resolution of an STS token) and never rounded up: a
  purchase never gets energy it did not pay for.
* A *line* is the part of a purchase that falls in one tranche (split again at the VAT threshold
  if a tranche straddles it). A line costs ``kWh × unit price × (1 + municipal tax rate [+ VAT
  rate when the kWh lie above the VAT threshold])``, **truncated to the half franc (0.5 FCFA)**.
  The monthly fee (redevance) is added as is, once per calendar month (first purchase).
  2025 DPP: tranche 1 full = trunc½(150 × 91.17 × 1.025 = 14 017.3875) = 14 017, + 429 fee
  = **14 446 FCFA**; tranche 2 full = trunc½(100 × 136.49 × 1.025 = 13 990.225) = 13 990, so the
  end of tranche 2 is **28 436 FCFA**. 2026 DPP: trunc½(150 × 82 × 1.025 = 12 607.5) + 429 =
  **13 036.5 FCFA**.
* Money → kWh: the fee is taken first (when not yet paid this month), then the tranches are filled
  in order from the kWh already bought this month; in the tranche where the money runs out the
  customer gets the largest number of tenths whose line cost fits. What is left is the rounding
  remainder (``ARRONDI`` in the legacy vending table, ``lessRound`` in XMLVend): shown, not charged.
* kWh → money: the exact cost of the requested kWh (rounded up to the tenth) with the same line
  rule; ``payable`` is that cost rounded up to the franc and raised to the minimum purchase.
* Tax figures shown on a line (energy excl. tax, municipal tax, VAT) are the exact products rounded
  to the centime, for information; what is charged is the truncated line amount.
* Postpaid estimate = the legacy bill rule (``Historique``): tranche widths (and the VAT threshold)
  scaled by ``billed days / 30``; each bounded tranche's kWh truncated to the centi-kWh, the last
  tranche takes the rest; line amount = kWh × unit price to the centime (half up); municipal tax =
  2.5 % of the sum of the lines and VAT = 18 % of the amount above the VAT threshold, each to the
  centime; total = lines + municipal tax + VAT, to the centime. No monthly fee: the 429 FCFA
  redevance is a Woyofal (prepaid) charge, and the legacy bills carry none (BT_MONT_TTC =
  BT_MONT_HT + BT_MONT_TCO + MONT_TVA).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
TENTH = Decimal("0.1")
HALF = Decimal("0.5")
CENT = Decimal("0.01")
ONE = Decimal(1)
DAYS_PER_MONTH = Decimal(30)


class TariffError(ValueError):
    """A request the engine cannot answer (bad input or an invalid grid)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Tranche:
    position: int
    kwh_from: Decimal
    kwh_to: Decimal | None  # None: unbounded last tranche
    price_postpaid: Decimal
    price_prepaid: Decimal


@dataclass(frozen=True)
class TariffGrid:
    code: str
    effective_from: date
    effective_to: date | None
    tranches: tuple[Tranche, ...]
    monthly_fee: Decimal
    municipal_tax_rate: Decimal
    vat_rate: Decimal
    vat_from_kwh: Decimal | None  # VAT applies to the kWh of the month above this; None: never
    minimum_purchase: Decimal = Decimal(1000)


@dataclass(frozen=True)
class Line:
    tranche: int
    kwh_from: Decimal  # month position where this line starts
    kwh: Decimal
    unit_price: Decimal
    energy_amount: Decimal  # excl. tax, to the centime (informative)
    municipal_tax: Decimal  # to the centime (informative)
    vat: Decimal  # to the centime (informative)
    amount: Decimal  # what is charged for this line (truncated to 0.5 FCFA)


@dataclass(frozen=True)
class Purchase:
    grid_code: str
    amount: Decimal  # money handed over (forward) or exact cost (inverse)
    fee: Decimal
    lines: tuple[Line, ...]
    kwh: Decimal
    energy_amount: Decimal
    municipal_tax: Decimal
    vat: Decimal
    charged: Decimal  # fee + sum of line amounts
    rounding: Decimal  # amount - charged (never negative)
    month_to_date_before: Decimal
    month_to_date_after: Decimal

    @property
    def payable(self) -> Decimal:
        """Whole francs to hand over to get at least these kWh (inverse use)."""
        return self.charged.to_integral_value(rounding=ROUND_CEILING)


@dataclass(frozen=True)
class SplitAdvice:
    now_amount: Decimal
    now_kwh: Decimal
    next_month_amount: Decimal
    next_month_kwh: Decimal
    total_kwh: Decimal
    extra_kwh: Decimal  # total_kwh - kWh of buying everything now


@dataclass(frozen=True)
class Advice:
    crosses_tranche: bool
    current_tranche: int
    kwh_left_in_current_tranche: Decimal | None  # None: unbounded tranche
    cost_to_finish_tranche: Decimal | None  # payable FCFA to fill the current tranche
    split: SplitAdvice | None


@dataclass(frozen=True)
class PostpaidLine:
    tranche: int
    kwh: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class PostpaidEstimate:
    grid_code: str
    kwh: Decimal
    days: int
    lines: tuple[PostpaidLine, ...]
    energy_amount: Decimal
    monthly_fee: Decimal
    municipal_tax: Decimal
    vat: Decimal
    total: Decimal  # rounded to the franc
    tranche_bounds: tuple[tuple[Decimal, Decimal | None], ...] = field(default=())


# ---------------------------------------------------------------------------------------- helpers
def trunc_half(value: Decimal) -> Decimal:
    """Truncate to the half franc: 14 017.3875 → 14 017.0; 12 607.5 → 12 607.5."""
    return ((value * 2).to_integral_value(rounding=ROUND_FLOOR) / 2).quantize(Decimal("0.0"))


def floor_tenth(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_FLOOR)


def ceil_tenth(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_CEILING)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def validate_grid(grid: TariffGrid) -> list[str]:
    """Problems with a grid (empty list when it is usable)."""
    problems: list[str] = []
    tranches = sorted(grid.tranches, key=lambda t: t.position)
    if not tranches:
        return ["at least one tranche is required"]
    if tranches[0].kwh_from != 0:
        problems.append("the first tranche must start at 0 kWh")
    for index, tranche in enumerate(tranches):
        last = index == len(tranches) - 1
        if tranche.kwh_to is None and not last:
            problems.append(f"tranche {tranche.position}: only the last tranche may be unbounded")
        if tranche.kwh_to is not None and tranche.kwh_to <= tranche.kwh_from:
            problems.append(f"tranche {tranche.position}: upper bound must exceed lower bound")
        if not last and tranche.kwh_to is not None and tranches[index + 1].kwh_from != tranche.kwh_to:
            problems.append(
                f"tranche {tranches[index + 1].position} must start where tranche {tranche.position} ends"
            )
        if tranche.price_postpaid <= 0 or tranche.price_prepaid <= 0:
            problems.append(f"tranche {tranche.position}: prices must be positive")
    if tranches[-1].kwh_to is not None:
        problems.append("the last tranche must be unbounded")
    if grid.effective_to is not None and grid.effective_to < grid.effective_from:
        problems.append("effective_to is before effective_from")
    if grid.monthly_fee < 0 or grid.municipal_tax_rate < 0 or grid.vat_rate < 0:
        problems.append("fee and rates must not be negative")
    if grid.vat_from_kwh is not None and grid.vat_from_kwh < 0:
        problems.append("the VAT threshold must not be negative")
    return problems


@dataclass(frozen=True)
class _Segment:
    tranche: int
    start: Decimal
    end: Decimal | None
    price: Decimal
    rate: Decimal  # municipal tax (+ VAT) applied on the energy amount
    vat: bool


def _segments(grid: TariffGrid, *, prepaid: bool, scale: Decimal = ONE) -> list[_Segment]:
    """Tranches cut again at the VAT threshold; bounds multiplied by ``scale`` (postpaid days)."""
    vat_at = grid.vat_from_kwh * scale if grid.vat_from_kwh is not None else None
    out: list[_Segment] = []
    for t in sorted(grid.tranches, key=lambda x: x.position):
        price = t.price_prepaid if prepaid else t.price_postpaid
        start = t.kwh_from * scale
        end = t.kwh_to * scale if t.kwh_to is not None else None
        cuts: list[tuple[Decimal, Decimal | None]] = [(start, end)]
        if vat_at is not None and vat_at > start and (end is None or vat_at < end):
            cuts = [(start, vat_at), (vat_at, end)]
        for a, b in cuts:
            vat = vat_at is not None and a >= vat_at
            rate = grid.municipal_tax_rate + (grid.vat_rate if vat else ZERO)
            out.append(_Segment(t.position, a, b, price, rate, vat))
    return out


def _line(grid: TariffGrid, seg: _Segment, start: Decimal, kwh: Decimal) -> Line:
    energy = kwh * seg.price
    vat = energy * grid.vat_rate if seg.vat else ZERO
    return Line(
        tranche=seg.tranche,
        kwh_from=start,
        kwh=kwh,
        unit_price=seg.price,
        energy_amount=cents(energy),
        municipal_tax=cents(energy * grid.municipal_tax_rate),
        vat=cents(vat),
        amount=trunc_half(energy * (ONE + seg.rate)),
    )


def _line_cost(seg: _Segment, kwh: Decimal) -> Decimal:
    return trunc_half(kwh * seg.price * (ONE + seg.rate))


def _purchase(grid: TariffGrid, amount: Decimal, fee: Decimal, lines: list[Line], mtd: Decimal) -> Purchase:
    charged = fee + sum((ln.amount for ln in lines), ZERO)
    kwh = sum((ln.kwh for ln in lines), ZERO)
    return Purchase(
        grid_code=grid.code,
        amount=amount,
        fee=fee,
        lines=tuple(lines),
        kwh=kwh,
        energy_amount=sum((ln.energy_amount for ln in lines), ZERO),
        municipal_tax=sum((ln.municipal_tax for ln in lines), ZERO),
        vat=sum((ln.vat for ln in lines), ZERO),
        charged=charged,
        rounding=amount - charged,
        month_to_date_before=mtd,
        month_to_date_after=mtd + kwh,
    )


def _check_state(month_to_date_kwh: Decimal) -> None:
    if month_to_date_kwh < 0:
        raise TariffError("invalid_month_to_date", "month-to-date kWh must not be negative")


# ---------------------------------------------------------------------------------------- prepaid
def prepaid_purchase(
    grid: TariffGrid,
    amount: Decimal,
    *,
    month_to_date_kwh: Decimal = ZERO,
    fee_paid: bool = False,
    enforce_minimum: bool = True,
) -> Purchase:
    """What a Woyofal purchase of ``amount`` FCFA buys (money → kWh)."""
    _check_state(month_to_date_kwh)
    if amount < 0 or (enforce_minimum and amount < grid.minimum_purchase):
        raise TariffError("below_minimum_purchase", f"minimum purchase is {grid.minimum_purchase} FCFA")
    fee = ZERO if fee_paid else grid.monthly_fee
    money = amount - fee
    lines: list[Line] = []
    position = month_to_date_kwh
    if money > 0:
        for seg in _segments(grid, prepaid=True):
            if seg.end is not None and position >= seg.end:
                continue
            start = max(position, seg.start)
            capacity = None if seg.end is None else seg.end - start
            if capacity is not None and _line_cost(seg, capacity) <= money:
                kwh = capacity
            else:
                kwh = floor_tenth(money / (seg.price * (ONE + seg.rate)))
                if capacity is not None:
                    kwh = min(kwh, capacity)
                # truncating the line cost may leave room for one more tenth
                while (capacity is None or kwh + TENTH <= capacity) and _line_cost(seg, kwh + TENTH) <= money:
                    kwh += TENTH
            if kwh > 0:
                line = _line(grid, seg, start, kwh)
                lines.append(line)
                money -= line.amount
                position = start + kwh
            if capacity is None or kwh < capacity:
                break
    else:
        fee = amount if amount < fee else fee
    return _purchase(grid, amount, fee, lines, month_to_date_kwh)


def prepaid_cost(
    grid: TariffGrid, kwh: Decimal, *, month_to_date_kwh: Decimal = ZERO, fee_paid: bool = False
) -> Purchase:
    """The cost of ``kwh`` more kWh this month (kWh → money); kWh rounded up to the tenth."""
    _check_state(month_to_date_kwh)
    if kwh <= 0:
        raise TariffError("invalid_kwh", "kWh must be positive")
    wanted = ceil_tenth(kwh)
    fee = ZERO if fee_paid else grid.monthly_fee
    lines: list[Line] = []
    position = month_to_date_kwh
    target = month_to_date_kwh + wanted
    for seg in _segments(grid, prepaid=True):
        if seg.end is not None and position >= seg.end:
            continue
        start = max(position, seg.start)
        stop = target if seg.end is None else min(target, seg.end)
        if stop > start:
            lines.append(_line(grid, seg, start, stop - start))
            position = stop
        if position >= target:
            break
    charged = fee + sum((ln.amount for ln in lines), ZERO)
    return _purchase(grid, charged, fee, lines, month_to_date_kwh)


def payable(grid: TariffGrid, cost: Decimal) -> Decimal:
    """Whole francs to hand over for a cost: rounded up, and at least the minimum purchase."""
    return max(grid.minimum_purchase, cost.to_integral_value(rounding=ROUND_CEILING))


def tranche_thresholds(grid: TariffGrid) -> list[tuple[int, Decimal]]:
    """For a first purchase of the month: (tranche, FCFA at which that tranche is full)."""
    out: list[tuple[int, Decimal]] = []
    for t in sorted(grid.tranches, key=lambda x: x.position):
        if t.kwh_to is None:
            break
        out.append((t.position, prepaid_cost(grid, t.kwh_to).charged))
    return out


def current_tranche(grid: TariffGrid, month_to_date_kwh: Decimal) -> Tranche:
    for t in sorted(grid.tranches, key=lambda x: x.position):
        if t.kwh_to is None or month_to_date_kwh < t.kwh_to:
            return t
    return grid.tranches[-1]


def tranche_reached(grid: TariffGrid, kwh: Decimal, *, days: int = 30) -> tuple[int, Decimal | None]:
    """The tranche a period's consumption has reached and the kWh left before the next one starts
    (None in the unbounded last tranche). Bounds scale with ``days / 30`` (postpaid bills); a
    consumption exactly at a bound is still in the tranche that bound closes."""
    scale = Decimal(days) / DAYS_PER_MONTH
    ordered = sorted(grid.tranches, key=lambda x: x.position)
    for t in ordered:
        if t.kwh_to is None:
            return t.position, None
        end = t.kwh_to * scale
        if kwh <= end:
            return t.position, end - kwh
    return ordered[-1].position, None


def advise(
    grid: TariffGrid, amount: Decimal, *, month_to_date_kwh: Decimal = ZERO, fee_paid: bool = False
) -> Advice:
    """Advice for a purchase that would cross into a dearer tranche: how many kWh remain in the
    current one this month and what the same money buys if split (the part that fills the current
    tranche now, the rest at the start of next month when the tranches reset)."""
    purchase = prepaid_purchase(
        grid, amount, month_to_date_kwh=month_to_date_kwh, fee_paid=fee_paid, enforce_minimum=False
    )
    current = current_tranche(grid, month_to_date_kwh)
    crosses = any(ln.tranche != current.position for ln in purchase.lines)
    if current.kwh_to is None:
        return Advice(crosses, current.position, None, None, None)
    left = current.kwh_to - month_to_date_kwh
    to_finish = prepaid_cost(grid, left, month_to_date_kwh=month_to_date_kwh, fee_paid=fee_paid)
    finish_payable = to_finish.payable
    split: SplitAdvice | None = None
    if crosses:
        now_amount = max(grid.minimum_purchase, finish_payable)
        rest = amount - now_amount
        if rest >= grid.minimum_purchase:
            now = prepaid_purchase(grid, now_amount, month_to_date_kwh=month_to_date_kwh, fee_paid=fee_paid)
            later = prepaid_purchase(grid, rest)
            if now.month_to_date_after <= current.kwh_to:
                total = now.kwh + later.kwh
                split = SplitAdvice(now_amount, now.kwh, rest, later.kwh, total, total - purchase.kwh)
    return Advice(crosses, current.position, left, finish_payable, split)


# --------------------------------------------------------------------------------------- postpaid
def postpaid_estimate(grid: TariffGrid, kwh: Decimal, days: int) -> PostpaidEstimate:
    """Estimate a postpaid bill for ``kwh`` consumed over ``days`` billed days, computed the way the
    legacy bills are (``Historique``): no monthly fee (a bill has HT, TCO and VAT only), tranche
    widths scaled by ``days / 30`` and each tranche's kWh truncated to the centi-kWh (the last takes
    the rest), each line's amount to the centime, municipal tax on the sum of the lines and VAT on the
    amount of the kWh above the (scaled) VAT threshold, each to the centime; total = lines + TCO +
    VAT, to the centime."""
    if days <= 0 or days > 120:
        raise TariffError("invalid_days", "billed days must be between 1 and 120")
    if kwh < 0:
        raise TariffError("invalid_kwh", "kWh must not be negative")
    scale = Decimal(days) / DAYS_PER_MONTH
    ordered = sorted(grid.tranches, key=lambda x: x.position)
    lines: list[PostpaidLine] = []
    vat_base = ZERO
    vat_at = grid.vat_from_kwh * scale if grid.vat_from_kwh is not None else None
    start = ZERO
    left = kwh
    for t in ordered:
        if left <= 0:
            break
        if t.kwh_to is None:
            part = left
        else:
            width = (t.kwh_to - t.kwh_from) * scale
            part = min(left, width).quantize(CENT, rounding=ROUND_FLOOR)
        amount = cents(part * t.price_postpaid)
        lines.append(PostpaidLine(t.position, part, t.price_postpaid, amount))
        if grid.vat_from_kwh is not None and vat_at is not None:
            if t.kwh_from >= grid.vat_from_kwh:  # the whole tranche lies above the VAT threshold
                vat_base += part * t.price_postpaid
            elif start + part > vat_at:  # the threshold falls inside this tranche
                taxed = (start + part - vat_at).quantize(CENT, rounding=ROUND_FLOOR)
                vat_base += taxed * t.price_postpaid
        start += part
        left -= part
    energy = sum((ln.amount for ln in lines), ZERO)
    tax = cents(energy * grid.municipal_tax_rate)
    vat = cents(cents(vat_base) * grid.vat_rate)
    bounds = tuple((t.kwh_from * scale, t.kwh_to * scale if t.kwh_to is not None else None) for t in ordered)
    return PostpaidEstimate(
        grid_code=grid.code,
        kwh=kwh,
        days=days,
        lines=tuple(lines),
        energy_amount=energy,
        monthly_fee=ZERO,
        municipal_tax=tax,
        vat=vat,
        total=energy + tax + vat,
        tranche_bounds=bounds,
    )


def pick_version(grids: Sequence[TariffGrid], code: str, on: date) -> TariffGrid | None:
    """The version of ``code`` in force on ``on`` (latest start wins if data ever overlapped)."""
    candidates = [
        g
        for g in grids
        if g.code == code and g.effective_from <= on and (g.effective_to is None or on <= g.effective_to)
    ]
    return max(candidates, key=lambda g: g.effective_from, default=None)
