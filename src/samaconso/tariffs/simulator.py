"""The Woyofal simulator (engine or vending system) and the postpaid bill estimate.

The engine (``engine.py``) is pure; this module fetches the grid in force, the meter and the month's
purchases (from the legacy gateway), asks the vending system when it can, and shapes the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.principal import Principal
from samaconso.kit.errors import AppError
from samaconso.kit.i18n import Lang
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters import service as meters
from samaconso.meters.models import Meter, MeterKind
from samaconso.settings import Settings
from samaconso.tariffs import engine
from samaconso.tariffs import repository as repo
from samaconso.tariffs.engine import Purchase, TariffError, TariffGrid
from samaconso.tariffs.grid import DEFAULT_TARIFF, resolve_grid, tariff_code_of, today_utc
from samaconso.tariffs.schemas import (
    AdviceOut,
    LineOut,
    MeterRef,
    PostpaidIn,
    PostpaidLineOut,
    PostpaidOut,
    SimulationIn,
    SimulationOut,
    SplitOut,
    TariffRef,
    VendingInfo,
)
from samaconso.tariffs.vending import VendingGateway
from samaconso.tariffs.xmlvend import (
    TrialVendResult,
    VendingError,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MonthToDate:
    kwh: Decimal
    fee_paid: bool
    known: bool


async def month_to_date(gateway: LegacyGateway | None, meter: Meter, on: date) -> MonthToDate:
    """kWh bought this calendar month on a prepaid meter and whether the monthly fee is paid (it is
    taken at the first purchase of the month), from the legacy vending records. Unknown (0,
    ``known`` False) when the legacy source cannot answer: the simulator still answers and says so."""
    if gateway is None:
        return MonthToDate(Decimal(0), False, False)
    try:
        bought = await gateway.purchases(meter.number, meter.poc or "", on.replace(day=1), on)
    except Exception as exc:  # legacy down or slow (AppError 503), or bad data: degrade, never fail
        log.warning("month_to_date_unavailable", error=type(exc).__name__)
        return MonthToDate(Decimal(0), False, False)
    kwh = round(sum(p.kwh for p in bought), 2)
    return MonthToDate(Decimal(str(kwh)), bool(bought), True)


def _lines(purchase: Purchase) -> list[LineOut]:
    return [
        LineOut(
            tranche=ln.tranche,
            kwh=ln.kwh,
            unit_price=ln.unit_price,
            energy_amount=ln.energy_amount,
            municipal_tax=ln.municipal_tax,
            vat=ln.vat,
            amount=ln.amount,
        )
        for ln in purchase.lines
    ]


def human(value: Decimal, lang: Lang) -> str:
    """13036.5 → "13 036,5" (fr) / "13,036.5" (en); no trailing zeros."""
    text = f"{value.normalize():,f}" if value == value.to_integral_value() else f"{value:,f}".rstrip("0")
    if "." in text and text.endswith("."):
        text = text[:-1]
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def _advice(grid: TariffGrid, amount: Decimal, mtd: MonthToDate, lang: Lang) -> AdviceOut:
    advice = engine.advise(grid, amount, month_to_date_kwh=mtd.kwh, fee_paid=mtd.fee_paid)
    message: str | None = None
    left = advice.kwh_left_in_current_tranche
    if advice.crosses_tranche and left is not None and advice.cost_to_finish_tranche is not None:
        kwh_left, cost = human(left, lang), human(advice.cost_to_finish_tranche, lang)
        if lang == "fr":
            message = (
                f"Il vous reste {kwh_left} kWh en tranche {advice.current_tranche} ce mois-ci "
                f"({cost} FCFA). Au-delà, le kWh coûte plus cher."
            )
        else:
            message = (
                f"{kwh_left} kWh remain in tranche {advice.current_tranche} this month "
                f"({cost} FCFA). Beyond that, each kWh costs more."
            )
        if advice.split is not None and advice.split.extra_kwh > 0:
            s = advice.split
            now, later = human(s.now_amount, lang), human(s.next_month_amount, lang)
            total, alone = human(s.total_kwh, lang), human(s.total_kwh - s.extra_kwh, lang)
            message += (
                f" En achetant {now} FCFA maintenant et {later} FCFA le mois prochain, "
                f"vous obtiendriez {total} kWh au lieu de {alone} kWh."
                if lang == "fr"
                else f" Buying {now} FCFA now and {later} FCFA next month would give {total} kWh instead of {alone} kWh."
            )
    split = advice.split
    return AdviceOut(
        crosses_tranche=advice.crosses_tranche,
        current_tranche=advice.current_tranche,
        kwh_left_in_current_tranche=left,
        cost_to_finish_tranche=advice.cost_to_finish_tranche,
        split=SplitOut(
            now_amount=split.now_amount,
            now_kwh=split.now_kwh,
            next_month_amount=split.next_month_amount,
            next_month_kwh=split.next_month_kwh,
            total_kwh=split.total_kwh,
            extra_kwh=split.extra_kwh,
        )
        if split
        else None,
        message=message,
    )


def _engine_error(exc: TariffError, grid: TariffGrid) -> AppError:
    if exc.code == "below_minimum_purchase":
        return AppError(
            422,
            "below_minimum_purchase",
            f"L'achat minimum est de {grid.minimum_purchase:.0f} FCFA.",
            f"The minimum purchase is {grid.minimum_purchase:.0f} FCFA.",
        )
    return AppError(422, exc.code, "Simulation impossible avec ces valeurs.", "Cannot simulate these values.")


def _from_vending(grid: TariffGrid, result: TrialVendResult) -> tuple[list[LineOut], dict[str, Decimal]]:
    """Tranche lines and totals from a vending answer (taxes recomputed: XMLVend does not itemise them)."""
    by_start = {t.kwh_from: t for t in grid.tranches}
    lines: list[LineOut] = []
    for index, step in enumerate(result.credit_steps):
        tranche = (
            by_start.get(step.step_begin)
            or sorted(grid.tranches, key=lambda t: t.position)[min(index, len(grid.tranches) - 1)]
        )
        energy = step.units.value * step.price_per_unit
        vat_applies = grid.vat_from_kwh is not None and tranche.kwh_from >= grid.vat_from_kwh
        lines.append(
            LineOut(
                tranche=tranche.position,
                kwh=step.units.value,
                unit_price=step.price_per_unit,
                energy_amount=engine.cents(energy),
                municipal_tax=engine.cents(energy * grid.municipal_tax_rate),
                vat=engine.cents(energy * grid.vat_rate) if vat_applies else Decimal(0),
                amount=step.amount.value,
            )
        )
    fee = sum((c.amount.value for c in result.service_charges), Decimal(0))
    totals = result.transaction_totals
    tender = totals.tender_amount.value if totals and totals.tender_amount else None
    rounding = totals.less_round.value if totals and totals.less_round else Decimal(0)
    if result.purchase is None:
        raise VendingError("vending_error", "no CreditVendTx in the answer")
    charged = result.purchase.amount.value + fee
    return lines, {
        "fee": fee,
        "kwh": result.purchase.units.value,
        "charged": charged,
        "rounding": rounding,
        "tender": tender if tender is not None else charged + rounding,
    }


async def simulate_prepaid(
    session: AsyncSession,
    settings: Settings,
    *,
    principal: Principal,
    data: SimulationIn,
    lang: Lang,
    legacy: LegacyGateway | None,
    vending: VendingGateway,
) -> SimulationOut:
    on = data.on or today_utc()
    meter: Meter | None = None
    if data.meter_id is not None:
        meter = await meters.active_meter(session, principal, data.meter_id)  # 404 unless mine, active
        if meter.kind != MeterKind.prepaid:
            raise AppError(
                422,
                "meter_not_prepaid",
                "Le simulateur Woyofal concerne les compteurs prépayés.",
                "The Woyofal simulator is for prepaid meters.",
            )
        mtd = await month_to_date(legacy, meter, on)
        code = tariff_code_of(meter.tariff_code)
    else:
        mtd = MonthToDate(data.month_to_date_kwh or Decimal(0), bool(data.fee_paid), True)
        code = data.tariff_code or DEFAULT_TARIFF
    version = await resolve_grid(session, code, on)
    grid = repo.to_grid(version)

    try:
        if data.amount is not None:
            question = "amount"
            purchase = engine.prepaid_purchase(
                grid, data.amount, month_to_date_kwh=mtd.kwh, fee_paid=mtd.fee_paid
            )
            to_pay = data.amount
        else:
            question = "kwh"  # the schema guarantees kwh is set when amount is not
            wanted = data.kwh or Decimal(0)
            purchase = engine.prepaid_cost(grid, wanted, month_to_date_kwh=mtd.kwh, fee_paid=mtd.fee_paid)
            to_pay = engine.payable(grid, purchase.charged)
        advice = _advice(grid, to_pay, mtd, lang)
    except TariffError as exc:
        raise _engine_error(exc, grid) from exc

    answer = SimulationOut(
        source="engine",
        fallback_reason=None,
        question=question,
        tariff=TariffRef(
            code=grid.code, version_id=version.id, label=version.label, effective_from=version.effective_from
        ),
        meter=MeterRef(id=meter.id, number=meter.number) if meter else None,
        month_to_date_kwh=mtd.kwh,
        month_to_date_known=mtd.known,
        fee_already_paid=mtd.fee_paid,
        amount=purchase.amount,
        amount_to_pay=to_pay,
        kwh=purchase.kwh,
        tranches=_lines(purchase),
        monthly_fee=purchase.fee,
        energy_amount=purchase.energy_amount,
        municipal_tax=purchase.municipal_tax,
        vat=purchase.vat,
        total=purchase.charged,
        rounding=purchase.rounding,
        advice=advice,
    )

    # The vending system can answer only for a real meter, when enabled and reachable.
    if meter is None:
        answer.fallback_reason = "no_meter"
        return answer
    if not settings.xmlvend_enabled:
        answer.fallback_reason = "xmlvend_disabled"
        return answer
    if on != today_utc():
        answer.fallback_reason = "not_today"
        return answer
    try:
        result = await vending.trial(settings, meter.number, to_pay)
    except VendingError as exc:
        log.warning("xmlvend_fallback", reason=exc.reason)
        answer.fallback_reason = exc.reason
        return answer
    if not result.success or result.purchase is None:
        log.warning("xmlvend_fallback", reason="vending_error", error=(result.error or "")[:200])
        answer.fallback_reason = "vending_error"
        return answer
    lines, totals = _from_vending(grid, result)
    answer.source = "vending"
    answer.tranches = lines
    answer.kwh = totals["kwh"]
    answer.monthly_fee = totals["fee"]
    answer.total = totals["charged"]
    answer.rounding = totals["rounding"]
    answer.amount = totals["tender"]
    answer.energy_amount = sum((ln.energy_amount for ln in lines), Decimal(0))
    answer.municipal_tax = sum((ln.municipal_tax for ln in lines), Decimal(0))
    answer.vat = sum((ln.vat for ln in lines), Decimal(0))
    answer.vending = VendingInfo(
        receipt_no=result.transaction_info.receipt_no if result.transaction_info else None,
        units=result.purchase.units.value,
        tariff_name=result.purchase.tariff.name,
    )
    return answer


async def estimate_postpaid(session: AsyncSession, data: PostpaidIn) -> PostpaidOut:
    """A postpaid bill estimate for ``kwh`` over ``days`` billed days (tranche widths × days/30)."""
    on = data.on or today_utc()
    version = await resolve_grid(session, data.tariff_code or DEFAULT_TARIFF, on)
    grid = repo.to_grid(version)
    try:
        est = engine.postpaid_estimate(grid, data.kwh, data.days)
    except TariffError as exc:
        raise _engine_error(exc, grid) from exc
    return PostpaidOut(
        tariff=TariffRef(
            code=grid.code, version_id=version.id, label=version.label, effective_from=version.effective_from
        ),
        kwh=est.kwh,
        days=est.days,
        tranche_bounds=list(est.tranche_bounds),
        tranches=[
            PostpaidLineOut(tranche=ln.tranche, kwh=ln.kwh, unit_price=ln.unit_price, amount=ln.amount)
            for ln in est.lines
        ],
        energy_amount=est.energy_amount,
        monthly_fee=est.monthly_fee,
        municipal_tax=est.municipal_tax,
        vat=est.vat,
        total=est.total,
    )
